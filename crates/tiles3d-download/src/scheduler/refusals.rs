//! How the scheduler tells a refused path from a refused signature: a file refused with the
//! current signature is held while the files started after it decide, and a fresh signature
//! is asked for only when they are refused too. Refusals that nothing started after them can
//! judge, once the fresh signatures are spent, are judged by asking the store for a file it is
//! known to hold ([`Refusal::Probe`]).

use super::{Origin, Queued, Scheduler, Started};
use crate::errors::{DownloadError, FileError};
use crate::url::{TileFile, TilesetUrl};
use tiles3d::TilePath;

/// A file refused with the current signature.
pub(super) struct Suspect {
    pub(super) queued: Queued,
    pub(super) status: u16,
    /// The number of the refused start.
    number: u64,
    /// [`Scheduler::starts`] when the refusal came back: files numbered from here on were
    /// started after it.
    since: u64,
}

/// Files started after a refusal, and refused too with no arrival to clear it, that make the
/// signature rather than the paths suspect. Each costs one quick refused request when the
/// signature has expired; fewer would take a run of missing files for an expiry.
const REFUSALS_THAT_DOUBT_THE_SIGNATURE: usize = 8;

/// What follows a refused signature.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The file had been sent with an older signature; it is queued again with the current
    /// one.
    Requeued,
    /// The file waits: the files started after it tell whether the store refuses its path or
    /// the signature (or it was settled at once as the file's failure).
    Held,
    /// Ask the source for a fresh signature and hand it to [`Scheduler::resigned`].
    AskForFreshSignature,
    /// The download ends here: fresh signatures have been refused too often in a row.
    Stop(DownloadError),
    /// Ask the store whether it accepts the current signature for this file, which arrived
    /// earlier, and hand the answer to [`Scheduler::probed`].
    Probe(TileFile),
}

impl Scheduler {
    /// The store refused the signature `started` was sent with. A refusal with the current
    /// signature is held until the files started after it tell a refused path (they arrive:
    /// the file is sent once more, and fails with [`FileError::Forbidden`] when refused
    /// again) from a refused signature (they are refused too: a fresh signature is asked
    /// for, or the download stops).
    pub(crate) fn refused(&mut self, started: Started, status: u16) -> Refusal {
        if started.origin == Origin::Prefetch {
            // Only the walk's files judge the signature; the walk fetches this one itself.
            self.failed(started, FileError::SignatureRejected { status });
            return Refusal::Held;
        }
        self.in_flight.remove(&started.number);
        let mut queued = Queued::new(started.file, started.kind);
        queued.retried = started.retried;
        queued.origin = started.origin;
        if started.generation < self.generation {
            // Sent before the fresh signature arrived: try again with it.
            queued.retried = true;
            self.queue.push_front(queued);
            return Refusal::Requeued;
        }
        self.suspects.push(Suspect {
            queued,
            status,
            number: started.number,
            since: self.starts,
        });
        // The signature a download starts with may be old: the first refusal asks for a
        // fresh one at once, as an expiry would want.
        let first_refusal = self.generation == 0 && !started.retried && self.can_renew();
        if first_refusal || self.signature_doubted() {
            return self.renew_or_stop();
        }
        if self.in_flight.is_empty() && self.queue.is_empty() {
            return self.settle().unwrap_or(Refusal::Held);
        }
        Refusal::Held
    }

    /// When nothing is in flight or queued, no file started after the refusals still held
    /// can tell about them: a fresh signature is asked for while the budget lasts. `None`
    /// when nothing is left to do.
    pub(crate) fn settle(&mut self) -> Option<Refusal> {
        if self.suspects.is_empty() {
            return None;
        }
        if self.write_failed {
            // Nothing starts any more: they are not attempted, like the rest of the queue.
            for suspect in std::mem::take(&mut self.suspects) {
                self.queue.push_back(suspect.queued);
            }
            return None;
        }
        if self.can_renew() {
            return Some(Refusal::AskForFreshSignature);
        }
        // Refused through the re-sign budget while the store accepted other files during this
        // download. Files sent together (none started after another's refusal) leave nothing
        // to judge by: the store is asked whether it takes the signature for a file it holds.
        // Without fresh signatures only a file started after a refusal, and arrived, clears
        // them.
        if !self.no_fresh_signatures && self.ever_arrived {
            if let Some(file) = self.probe_file() {
                return Some(Refusal::Probe(file));
            }
            self.clear_refused_before(u64::MAX, false);
            return None;
        }
        Some(self.renew_or_stop())
    }

    /// A file that arrived, to ask the store about the current signature with: `None` when
    /// it has been asked already with this signature, or nothing arrived.
    fn probe_file(&mut self) -> Option<TileFile> {
        if self.probed == Some(self.generation) {
            return None;
        }
        let (path, _, _) = self.done.iter().rev().find(|(_, _, skipped)| !skipped)?;
        let path = TilePath::parse(path)?;
        self.probed = Some(self.generation);
        Some(self.tileset.file_at(path, None))
    }

    /// The answer to [`Refusal::Probe`]: the store takes the signature for a file it holds
    /// (the held refusals are their paths'), refuses it (the signature is refused: the
    /// download stops, as the budget of fresh ones is spent), or said neither (taken as
    /// their paths', as before there was a way to ask).
    pub(crate) fn probed(&mut self, accepted: Option<bool>) -> Result<(), DownloadError> {
        if accepted == Some(false) {
            return Err(self.rejected());
        }
        self.clear_refused_before(u64::MAX, false);
        Ok(())
    }

    /// The answer to [`Refusal::AskForFreshSignature`]: a fresh signature for the same root
    /// carries on (the refused files first). Without one, the download ends unless other
    /// files have arrived and the refusals seem to be their paths'.
    pub(crate) fn resigned(&mut self, fresh: Option<TilesetUrl>) -> Result<(), DownloadError> {
        let fresh = fresh.filter(|fresh| {
            let same_root = fresh.root_unsigned() == self.tileset.root_unsigned();
            if !same_root {
                tracing::warn!("the fresh signature is for another root");
            }
            same_root
        });
        let Some(fresh) = fresh else {
            if !self.ever_arrived || self.signature_doubted() {
                return Err(self.rejected());
            }
            // Judged without a fresh signature: the files started after them tell.
            self.no_fresh_signatures = true;
            return Ok(());
        };
        if let Some(suspect) = self.suspects.last() {
            let path = &suspect.queued.path;
            tracing::info!(%path, "the signature was refused; carrying on with a fresh one");
        }
        self.tileset = fresh;
        self.generation += 1;
        self.resigns_in_a_row += 1;
        self.progress.send_modify(|p| p.resigns += 1);
        for suspect in std::mem::take(&mut self.suspects).into_iter().rev() {
            let mut queued = suspect.queued;
            queued.retried = true;
            self.queue.push_front(queued);
        }
        Ok(())
    }

    /// Whether a fresh signature may still be asked for.
    fn can_renew(&self) -> bool {
        !self.no_fresh_signatures && self.resigns_in_a_row < self.max_resigns
    }

    /// Whether enough files started after a held refusal were refused too, with none
    /// arriving, to blame the signature.
    fn signature_doubted(&self) -> bool {
        let Some(first) = self.suspects.iter().map(|s| s.since).min() else {
            return false;
        };
        let after = self.suspects.iter().filter(|s| s.number >= first).count();
        after >= REFUSALS_THAT_DOUBT_THE_SIGNATURE
    }

    fn renew_or_stop(&self) -> Refusal {
        if self.can_renew() {
            Refusal::AskForFreshSignature
        } else {
            Refusal::Stop(self.rejected())
        }
    }

    /// The download's end for the latest refusal.
    fn rejected(&self) -> DownloadError {
        let suspect = self.suspects.last().expect("a refusal is held");
        DownloadError::SignatureRejected {
            status: suspect.status,
            path: suspect.queued.path.clone(),
        }
    }

    /// The held refusals that came back before file `number` started, which then arrived
    /// with the same signature: the store accepts the signature, so a file refused only once
    /// is sent once more with it (`once_more`), and one refused again fails: the store
    /// refuses its path.
    pub(super) fn clear_refused_before(&mut self, number: u64, once_more: bool) {
        let (cleared, held) = std::mem::take(&mut self.suspects)
            .into_iter()
            .partition(|s| s.since <= number);
        self.suspects = held;
        let mut again = Vec::new();
        for suspect in cleared {
            let mut queued = suspect.queued;
            if !queued.retried && once_more {
                queued.retried = true;
                again.push(queued);
                continue;
            }
            let path = queued.path;
            tracing::warn!(%path, "the store refuses this file while it accepts the others");
            let error = FileError::Forbidden {
                status: suspect.status,
            };
            self.fail(path, error);
        }
        for queued in again.into_iter().rev() {
            self.queue.push_front(queued);
        }
    }
}
