//! The names the downloader writes itself, which no tileset may use: a leaf that the URL
//! checks and the store share.

use tiles3d::TilePath;

/// The name of the manifest a download writes at the root of its directory.
pub const MANIFEST_FILE: &str = "manifest.json";

// The names below keep the spelling of the first release, so that a download started by an
// earlier version resumes.

/// Suffix of the temporary files a download streams into before renaming them.
pub(crate) const PART_SUFFIX: &str = ".mesh-export-part";

/// The journal of completed files a running download appends to, at the output root.
pub(crate) const JOURNAL_FILE: &str = ".mesh-export-journal.jsonl";

/// The lock file at the output root, on platforms that cannot lock the directory itself.
#[cfg_attr(unix, allow(dead_code))]
pub(crate) const LOCK_FILE: &str = ".mesh-export.lock";

/// Root-level names the downloader writes itself, lower-case; a tileset naming them in any
/// case is refused.
const RESERVED_NAMES: &[&str] = &[MANIFEST_FILE, JOURNAL_FILE, LOCK_FILE];

/// Whether `path` is a name the downloader writes itself: one of [`RESERVED_NAMES`] at the
/// root, in any case (they are one file on a case-insensitive file system), or a temporary
/// file anywhere.
pub(crate) fn is_reserved(path: &TilePath) -> bool {
    let key = path.case_key();
    !path.as_str().contains('/') && RESERVED_NAMES.contains(&key.as_str())
        || key.ends_with(PART_SUFFIX)
}
