//! What every fetch of a file needs; its `impl` is split by concern between `retries` (the
//! retry loop) and `attempt` (one GET).

use std::sync::{Arc, Mutex};

use cap_std::fs::Dir;
use tiles3d::walk::ReadLimits;
use tokio::sync::watch;

use crate::options::{DownloadOptions, Progress};
use crate::store::manifest::Journal;
use crate::store::write_threads::WriteThreads;
use crate::store::writer::CreatedDirs;

/// What every file fetch needs.
pub(crate) struct Fetcher {
    pub(crate) http: reqwest::Client,
    pub(crate) dir: Arc<Dir>,
    pub(crate) options: DownloadOptions,
    pub(crate) journal: Arc<Mutex<Journal>>,
    pub(crate) progress: Arc<watch::Sender<Progress>>,
    /// Directories this run has created, shared by its writers.
    pub(crate) created_dirs: Arc<CreatedDirs>,
    /// Where a body that arrived whole is written.
    pub(crate) write_threads: WriteThreads,
}

impl Fetcher {
    /// What reading a file may cost now: the files it may list are those the download may
    /// still name.
    pub(crate) fn read_limits(&self) -> ReadLimits {
        let known = self.progress.borrow().files_total_known;
        ReadLimits {
            max_files: self.options.max_files.saturating_sub(known),
            max_json_depth: self.options.max_json_depth,
        }
    }
}
