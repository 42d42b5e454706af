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
use crate::url::TileFile;

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

impl Fetcher {
    /// Whether the store accepts `file`'s signature for a file it is known to hold: its first
    /// byte is asked for. `None` when the answer says neither (another status, no answer).
    pub(crate) async fn signature_accepted(&self, file: &TileFile) -> Option<bool> {
        let request = self
            .http
            .get(file.url().clone())
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .header(reqwest::header::RANGE, "bytes=0-0");
        let response = tokio::time::timeout(self.options.idle_timeout, request.send())
            .await
            .ok()?
            .ok()?;
        let status = response.status();
        if status.is_success() {
            Some(true)
        } else if status == reqwest::StatusCode::UNAUTHORIZED
            || status == reqwest::StatusCode::FORBIDDEN
        {
            Some(false)
        } else {
            None
        }
    }
}
