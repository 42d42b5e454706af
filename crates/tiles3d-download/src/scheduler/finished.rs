//! What a download came to, once its scheduler is done: what its manifest records and what
//! its result reports.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::errors::{DownloadError, FileFailure};
use crate::options::{DownloadSummary, Progress};
use crate::store::manifest::{ManifestGap, Recorded};
use crate::url::{Refused, TilesetUrl};
use tiles3d::TilePath;

/// What a download came to: what its manifest records, and what its result reports.
pub(crate) struct Finished {
    /// The signed root it ended with.
    pub(crate) tileset: TilesetUrl,
    /// Every file complete on disk with its record, by path.
    pub(crate) entries: Vec<(Box<str>, Recorded)>,
    /// What is missing: the failures, then the refused URIs.
    pub(crate) missing: Vec<ManifestGap>,
    /// The directories of the files complete on disk, where stale part files may be left.
    pub(crate) dirs: HashSet<PathBuf>,
    /// The failures, by path.
    pub(crate) failures: Vec<FileFailure>,
    pub(crate) refused: Vec<Refused>,
    pub(super) files: u64,
    pub(super) bytes: u64,
    pub(super) downloaded_files: u64,
    pub(super) downloaded_bytes: u64,
    /// What the container's listing came to, when there was one.
    pub(crate) listed: Option<ListingOutcome>,
}

/// What a download made of the container's listing.
pub(crate) struct ListingOutcome {
    /// Files listed under the root.
    pub(super) listed: u64,
    /// Of them, those the tileset does not name.
    pub(super) unnamed: u64,
    /// Of those, the ones mirrored.
    pub(super) mirrored: u64,
    /// Files fetched on the listing's word that the tileset does not name and that are not
    /// mirrored: to remove from the directory.
    pub(crate) remove: Vec<TilePath>,
}

impl Finished {
    /// Whether every file the tileset names is complete on disk.
    pub(crate) fn complete(&self) -> bool {
        self.failures.is_empty() && self.refused.is_empty()
    }

    /// The download's result into `dir`: its summary, or [`DownloadError::Incomplete`] with
    /// the summary inside when anything is missing.
    pub(crate) fn into_result(
        self,
        dir: &Path,
        progress: &Progress,
        elapsed: Duration,
    ) -> Result<DownloadSummary, DownloadError> {
        let complete = self.complete();
        let summary = DownloadSummary {
            dir: dir.to_owned(),
            tileset: self.tileset.entry().to_path_under(dir),
            manifest: dir.join(crate::store::manifest::MANIFEST_FILE),
            files: self.files,
            bytes: self.bytes,
            downloaded_files: self.downloaded_files,
            downloaded_bytes: self.downloaded_bytes,
            skipped: self.files - self.downloaded_files,
            retries: progress.retries,
            resigns: progress.resigns,
            refused: self.refused,
            listed_files: self.listed.as_ref().map(|l| l.listed),
            unnamed_files: self.listed.as_ref().map_or(0, |l| l.unnamed),
            mirrored_files: self.listed.as_ref().map_or(0, |l| l.mirrored),
            elapsed,
        };
        if complete {
            Ok(summary)
        } else {
            Err(DownloadError::Incomplete {
                failures: self.failures,
                summary: Box::new(summary),
            })
        }
    }
}
