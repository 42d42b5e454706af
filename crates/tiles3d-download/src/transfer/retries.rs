//! Fetching one file with retries: the crate's one retry loop around single attempts, with
//! the part file's state carried from one attempt to the next.

use std::sync::Mutex;

use tiles3d::walk::FileKind;

use super::attempt::{Arrived, AttemptError, Part};
use super::fetcher::Fetcher;
use crate::errors::FileError;
use crate::limit::Outcome;
use crate::store::output::part_path;
use crate::url::TileFile;
use http_policy::retry::{self, Ended, Verdict};

/// The part-file state, out of its slot for one attempt.
fn take(slot: &Mutex<Option<Part>>) -> Part {
    slot.lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .expect("attempts run one at a time and put the part state back")
}

impl Fetcher {
    /// Fetches `file` with retries; on failure nothing is left under its name or beside it.
    ///
    /// The retries are the crate's one loop ([`retry::run`]) with the blob classifier: what
    /// an attempt found retryable (a transient status, a broken or stalled transfer, content
    /// that failed its check, though only once when it arrived whole) comes back as a verdict,
    /// and the strategy decides when.
    pub(crate) async fn fetch_with_retries(
        &self,
        file: &TileFile,
        kind: &FileKind,
    ) -> Result<Arrived, FileError> {
        // The part file's state passes from one attempt to the next: each attempt takes it out
        // and puts it back, so no lock is held across an await.
        let part = Mutex::new(Some(Part::new(part_path(&file.path().relative()))));
        let slot = &part;
        let ended = retry::run(
            &self.options.retry,
            file.path(),
            |outcome: &Result<_, AttemptError>| match outcome {
                Err(AttemptError::Retry { reason, hint, .. }) => Verdict::Retry {
                    reason,
                    hint: *hint,
                },
                _ => Verdict::Final,
            },
            |attempt| async move {
                let mut state = take(slot);
                if attempt > 1 {
                    tracing::debug!(path = %file.path(), attempt, resume_from = state.len, "retrying a file");
                    self.progress.send_modify(|p| p.retries += 1);
                }
                let outcome = self.fetch_once(file, kind, &mut state).await;
                if let Err(AttemptError::Retry { error, .. }) = &outcome {
                    state.load = worse(state.load, load_of(error));
                }
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(state);
                outcome
            },
        )
        .await;
        let result = match ended {
            Ended::Outcome(Ok(done)) => Ok(done),
            Ended::Outcome(Err(AttemptError::Fatal(error) | AttemptError::Retry { error, .. })) => {
                Err(error)
            }
            Ended::HintTooLong { wait, .. } => Err(FileError::RateLimited { wait }),
        };
        if result.is_err() {
            let path = take(&part).path;
            let dir = self.dir.clone();
            let _ = tokio::task::spawn_blocking(move || dir.remove_file(path)).await;
        }
        result
    }
}

/// What a failure says about the load on the store: a 429 or 503 asks to slow down; a broken
/// transfer, a timeout or another 5xx may come from load; anything else does not.
pub(crate) fn load_of(error: &FileError) -> Outcome {
    match error {
        FileError::RateLimited { .. } | FileError::Status { status: 429 | 503 } => {
            Outcome::Throttled
        }
        FileError::Status { status } if *status == 408 || *status >= 500 => Outcome::Transient,
        FileError::Transport(_) | FileError::LengthMismatch { .. } => Outcome::Transient,
        _ => Outcome::Other,
    }
}

/// The stronger of two signs of load.
fn worse(a: Outcome, b: Outcome) -> Outcome {
    let rank = |o| match o {
        Outcome::Throttled => 2,
        Outcome::Transient => 1,
        Outcome::Ok | Outcome::Other => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}
