//! The tiles behind an export: its signed tileset URL, the files the tileset names, and a
//! downloader that copies them all to a directory.
//!
//! An export's `_links.mesh.href` is the root of a blob container with a SAS signature (valid
//! about an hour) as its query. [`TilesetUrl`] turns it into the URL of `tileset.json` and
//! resolves every relative URI a tileset or glTF names into a signed URL under the same root,
//! refusing ([`Refused`]) anything that would leave it: `..` past the root, absolute paths,
//! percent-encoded traversal, other hosts or schemes. So the signature is only ever sent to the
//! host that issued it, and no file is ever written outside the output directory.
//!
//! [`Downloader`] walks the tileset while it downloads: it fetches `tileset.json`, reads the
//! contents it names (3D Tiles 1.0 `content.uri`, 1.1 `contents[]`, external child tilesets,
//! glTF buffers and images, and the subtrees, contents and buffers of [implicit] tilesets),
//! and queues them, each file once, several at a time. Each file is
//! streamed to a temporary name beside its final one and renamed when complete and checked
//! against `Content-Length`; a `manifest.json` records the path, size and SHA-256 of every
//! file, so an interrupted run resumes without fetching complete files again. What the walk
//! cannot interpret (an unknown template variable, a malformed subtree) is a failure with its
//! reason: the download is then incomplete, never silently partial.
//!
//! ```no_run
//! use mesh_export::tiles::{Downloader, TilesetUrl};
//!
//! # async fn run(href: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let tileset = TilesetUrl::from_mesh_href(href)?;
//! let summary = Downloader::new("./tiles").concurrency(8).download(&tileset).await?;
//! println!("{} files, {} bytes in {:?}", summary.files, summary.bytes, summary.elapsed);
//! for refused in &summary.refused {
//!     eprintln!("{refused}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Nothing in this module prints a signature: URLs appear with `?<redacted>` in `Debug`,
//! `Display`, errors and logs.

mod download;
pub mod implicit;
mod url;
pub mod walk;

pub use self::download::{
    DownloadError, DownloadOptions, DownloadSummary, Downloader, FileError, FileFailure,
    MANIFEST_FILE, Manifest, ManifestEntry, Progress,
};
pub use self::url::{RefusalReason, Refused, TileFile, TilePath, TilesetUrl, TilesetUrlError};

/// Suffix of the temporary files a download streams into before renaming them.
const PART_SUFFIX: &str = ".mesh-export-part";

/// The journal of completed files a running download appends to, at the output root.
const JOURNAL_FILE: &str = ".mesh-export-journal.jsonl";

/// Root-level names the downloader writes itself; a tileset naming them is refused.
const RESERVED_NAMES: &[&str] = &[download::MANIFEST_FILE, JOURNAL_FILE];
