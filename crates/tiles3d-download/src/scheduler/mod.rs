//! The scheduler as a state machine: the files queued, claimed, in flight, done, failed and
//! refused, and the signature they are fetched with. Each thing that happens to a download is
//! one transition ([`Scheduler::fetched`], [`Scheduler::refused`], [`Scheduler::failed`],
//! [`Scheduler::resigned`]), and [`Scheduler::finish`] says what it came to. Synchronous and
//! without I/O: the driver in `download` runs the transfers and feeds their outcomes here.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

pub(crate) use self::finished::{Finished, ListingOutcome};
use self::listed::Listed;
pub(crate) use self::refusals::Refusal;
use self::refusals::Suspect;
use crate::errors::{FileError, FileFailure};
use crate::limit::{Change, LimitLog, Limiter, Sample};
use crate::listing::Listing;
use crate::options::{DownloadOptions, Progress};
use crate::store::claims::Claims;
use crate::store::manifest::{ManifestGap, Recorded};
use crate::transfer::Fetched;
use crate::url::{Refused, TileFile, TilesetUrl};
use tiles3d::TilePath;
use tiles3d::walk::{FileKind, Reference};

mod finished;
mod listed;
mod refusals;
#[cfg(test)]
mod tests;

/// Where a download stands between two transitions.
pub(crate) struct Scheduler {
    /// The signed root files are fetched from; replaced by a fresh signature.
    tileset: TilesetUrl,
    /// How many fresh signatures this run has had: a file started with an older one and
    /// refused is simply queued again.
    generation: u32,
    /// Fresh signatures asked for since a file last arrived with the current one.
    resigns_in_a_row: u32,
    max_resigns: u32,
    /// [`DownloadOptions::max_files`]: no claim past it.
    max_files: u64,
    /// References of the file being followed that the bound left unclaimed.
    over_bound: u64,
    /// Bytes received over the network for the files fetched, as sent.
    downloaded_bytes: u64,
    /// How many files may be in flight.
    limiter: Limiter,
    limit_log: LimitLog,
    /// Files started so far: each started file's number, to tell what started after a refusal.
    starts: u64,
    /// The files started and not yet handed back, by number: listed as missing if the
    /// download stops.
    in_flight: HashMap<u64, TilePath>,
    claims: Claims,
    queue: VecDeque<Queued>,
    /// Files refused with the current signature, waiting for what tells a refused path from
    /// a refused signature.
    suspects: Vec<Suspect>,
    /// Whether any file sent during this download has arrived.
    ever_arrived: bool,
    /// The signature generation the store was last asked about with an arrived file.
    probed: Option<u32>,
    /// The source had no fresh signature to give: refusals are judged without one.
    no_fresh_signatures: bool,
    /// Each finished file: its path and record, and whether it was already on disk.
    done: Vec<(Box<str>, Recorded, bool)>,
    failures: Vec<FileFailure>,
    refused: Vec<Refused>,
    /// After a write error (disk full, a file in the way) no new file is started: each would
    /// fail the same way, after a request for nothing.
    write_failed: bool,
    /// The container's listing, when there is one, and what became of its files.
    listed: Option<Listed>,
    /// Prefetched files the walk named after they arrived: what they name is followed next.
    ready: Vec<(TilePath, Fetched)>,
    progress: Arc<watch::Sender<Progress>>,
}

/// Why a file is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The walk named it.
    Walk,
    /// The listing named it, before the walk did (see `listed`).
    Prefetch,
    /// The listing named it and the tileset does not: mirrored on request.
    Mirror,
}

/// A file the driver is to transfer now, handed back with its outcome.
pub(crate) struct Started {
    pub(crate) file: TileFile,
    /// How it is read, kept to queue it again.
    pub(crate) kind: FileKind,
    /// The signature generation its requests use.
    generation: u32,
    /// Its number among the files started.
    number: u64,
    /// Whether it was refused before, with an older signature.
    retried: bool,
    origin: Origin,
}

impl Scheduler {
    /// A download of `tileset` that starts at its entry file, with the container's `listing`
    /// when there is one.
    pub(crate) fn new(
        tileset: TilesetUrl,
        options: &DownloadOptions,
        listing: Option<Listing>,
        progress: Arc<watch::Sender<Progress>>,
    ) -> Self {
        let entry = tileset.entry().clone();
        let mut claims = Claims::default();
        claims.claim(&entry);
        let listed = listing.map(|listing| Listed::new(listing, &entry, options.all_files));
        let queue = VecDeque::from([Queued {
            kind: FileKind::of(&entry),
            path: entry,
            own_query: None,
            retried: false,
            origin: Origin::Walk,
        }]);
        let limiter = Limiter::new(options.concurrency);
        let limit = limiter.limit();
        let (listed_files, listed_bytes) = listed
            .as_ref()
            .map_or((0, 0), |l| (l.listed(), l.listed_bytes()));
        progress.send_modify(|p| {
            p.files_total_known = 1;
            p.concurrency = limit;
            p.files_listed = listed_files;
            p.bytes_listed = listed_bytes;
        });
        Scheduler {
            tileset,
            generation: 0,
            resigns_in_a_row: 0,
            max_resigns: options.max_resigns,
            max_files: options.max_files,
            over_bound: 0,
            downloaded_bytes: 0,
            limiter,
            limit_log: LimitLog::default(),
            starts: 0,
            in_flight: HashMap::new(),
            claims,
            queue,
            suspects: Vec::new(),
            ever_arrived: false,
            probed: None,
            no_fresh_signatures: false,
            done: Vec::new(),
            failures: Vec::new(),
            refused: Vec::new(),
            write_failed: false,
            listed,
            ready: Vec::new(),
            progress,
        }
    }

    /// The next file to start, while fewer than the limit are in flight and no write has
    /// failed; each one started comes back through exactly one transition.
    pub(crate) fn next(&mut self) -> Option<Started> {
        if self.write_failed || self.in_flight.len() >= self.limiter.limit() {
            return None;
        }
        let Queued {
            path,
            own_query,
            kind,
            retried,
            origin,
        } = self.pop_next()?;
        let number = self.starts;
        self.starts += 1;
        self.in_flight.insert(number, path.clone());
        Some(Started {
            file: self.tileset.file_at(path, own_query.map(String::from)),
            kind,
            generation: self.generation,
            number,
            retried,
            origin,
        })
    }

    /// Files started and not yet handed back.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// A transfer ended, as the limit of files in flight sees it: fed to the limiter, whose
    /// limit the progress shows. Called beside the transition that hands the file back.
    pub(crate) fn transferred(&mut self, sample: &Sample) {
        let Some(change) = self.limiter.record(sample) else {
            return;
        };
        self.limit_log.note(change, sample.ended);
        let limit = self.limiter.limit();
        let lowered = u64::from(matches!(change, Change::BackedOff { .. }));
        self.progress.send_modify(|p| {
            p.concurrency = limit;
            p.concurrency_lowered += lowered;
        });
    }

    /// A file arrived (or was found complete on disk): what it names is claimed and queued,
    /// each file once, and what cannot be followed is recorded.
    pub(crate) fn fetched(&mut self, started: Started, fetched: Fetched) {
        self.in_flight.remove(&started.number);
        if started.generation == self.generation && !fetched.skipped {
            // The current signature works: a later refusal may ask for fresh ones again.
            self.resigns_in_a_row = 0;
            self.clear_refused_before(started.number, true);
        }
        if !fetched.skipped {
            self.ever_arrived = true;
            self.downloaded_bytes += fetched.received;
        }
        let path = started.file.path();
        match started.origin {
            Origin::Walk => self.absorb(path, fetched),
            Origin::Prefetch => self.prefetched(path, Some(fetched)),
            Origin::Mirror => self.record(fetched),
        }
        while let Some((path, fetched)) = self.ready.pop() {
            self.absorb(&path, fetched);
        }
        let (known, refused) = (self.claims.len() as u64, self.refused.len() as u64);
        self.progress.send_modify(|p| {
            p.files_total_known = known;
            p.refused = refused;
        });
    }

    /// Takes a file of the tileset that arrived: what it names is claimed and queued, what
    /// cannot be followed is recorded, and the file is recorded as done.
    fn absorb(&mut self, path: &TilePath, mut fetched: Fetched) {
        for reference in std::mem::take(&mut fetched.references) {
            if let Some(problem) = self.follow(reference, path) {
                fetched.problems.push(problem);
            }
        }
        if self.over_bound > 0 {
            fetched.problems.push(FileError::TooManyFiles {
                named: std::mem::take(&mut self.over_bound),
                max_files: self.max_files,
            });
        }
        for error in fetched.problems {
            tracing::warn!(%path, %error, "not followed");
            self.fail(path.clone(), error);
        }
        match Recorded::of(&fetched.entry) {
            Some(recorded) => self.done.push((
                fetched.entry.path.into_boxed_str(),
                recorded,
                fetched.skipped,
            )),
            // Not reached: checksums are made here, and read ones are checked.
            None => self.fail(
                path.clone(),
                FileError::Corrupt {
                    kind: "manifest entry",
                    reason: "its checksum is not XXH3-128 in hex".to_owned(),
                },
            ),
        }
    }

    /// Follows a reference of the file at `path`: queues the file it names unless it is
    /// already claimed, or records its refusal; returns why it cannot be followed.
    fn follow(&mut self, reference: Reference, path: &TilePath) -> Option<FileError> {
        let Reference { uri, base, kind } = reference;
        // Implicit templates are relative to their tileset, subtree buffers to their subtree:
        // not always to the file that names them.
        let against = base.as_deref().unwrap_or(path);
        let resolved = self
            .tileset
            .resolve(&uri, against)
            .and_then(|file| match file {
                Some(file) => self.claims.check(&file, &uri, path).map(|()| Some(file)),
                None => Ok(None),
            });
        match resolved {
            Ok(Some(file)) => {
                if self.claims.len() as u64 >= self.max_files && !self.claims.has(file.path()) {
                    self.over_bound += 1;
                    return None;
                }
                let kind = kind.unwrap_or_else(|| FileKind::of(file.path()));
                if self.claims.claim(file.path()) {
                    self.enqueue_named(Queued::new(file, kind));
                    None
                } else if kind.has_context() {
                    // Its first reading served another purpose; this one would be lost.
                    Some(FileError::unsupported(
                        &uri,
                        &format!(
                            "`{}` is named again, by another implicit tree or subtree, which \
                             is not supported",
                            file.path()
                        ),
                    ))
                } else {
                    None
                }
            }
            // A subtree cannot be embedded: what it names would be lost.
            Ok(None) if kind.as_ref().is_some_and(FileKind::has_context) => Some(
                FileError::unsupported(&uri, "a subtree or subtree buffer as a data: URI"),
            ),
            Ok(None) => None,
            Err(refusal) => {
                tracing::warn!(%refusal, "not following a URI");
                self.refused.push(refusal);
                None
            }
        }
    }

    /// A file failed for good.
    pub(crate) fn failed(&mut self, started: Started, error: FileError) {
        self.in_flight.remove(&started.number);
        let path = started.file.path().clone();
        if started.origin == Origin::Prefetch {
            tracing::debug!(%path, %error, "a file fetched on the listing's word failed");
            self.prefetched(&path, None);
            return;
        }
        tracing::warn!(%path, %error, "file failed");
        self.write_failed |= matches!(error, FileError::Write(_));
        self.fail(path, error);
    }

    /// Records a failure, so that [`Progress::failed`] counts what the result lists.
    fn fail(&mut self, path: TilePath, error: FileError) {
        self.progress.send_modify(|p| p.failed += 1);
        self.failures.push(FileFailure { path, error });
    }

    /// What the download came to, once nothing is in flight: files still queued (after a
    /// write error) are failures too.
    pub(crate) fn finish(mut self) -> Finished {
        debug_assert!(self.in_flight.is_empty(), "finished with files in flight");
        debug_assert!(self.suspects.is_empty(), "finished with refusals unsettled");
        for queued in std::mem::take(&mut self.queue) {
            self.fail(
                queued.path,
                FileError::NotAttempted("an earlier write to disk failed".to_owned()),
            );
        }
        self.into_finished()
    }

    /// What a download stopped by a refused signature came to: what arrived, and as missing
    /// the refused files, those in flight and those queued.
    pub(crate) fn stopped(mut self) -> Finished {
        for suspect in std::mem::take(&mut self.suspects) {
            let error = FileError::SignatureRejected {
                status: suspect.status,
            };
            self.fail(suspect.queued.path, error);
        }
        let stopped = || {
            FileError::NotAttempted("the download stopped when the signature was refused".into())
        };
        let mut in_flight: Vec<_> = std::mem::take(&mut self.in_flight).into_iter().collect();
        in_flight.sort_unstable_by_key(|(number, _)| *number);
        for (_, path) in in_flight {
            if !(self.listed.as_ref()).is_some_and(|l| l.prefetching_unnamed(&path)) {
                self.fail(path, stopped());
            }
        }
        for queued in std::mem::take(&mut self.queue) {
            self.fail(queued.path, stopped());
        }
        self.into_finished()
    }

    fn into_finished(mut self) -> Finished {
        let listed = self.listed.as_mut().map(|listed| {
            let removed = listed.arrived_unnamed();
            // Counted as done when they arrived; they are not files of the download after all.
            self.progress.send_modify(|p| {
                for (_, fetched) in &removed {
                    p.files_done = p.files_done.saturating_sub(1);
                    p.files_skipped = p.files_skipped.saturating_sub(fetched.skipped.into());
                    p.bytes_done = p.bytes_done.saturating_sub(fetched.entry.size);
                }
            });
            ListingOutcome {
                listed: listed.listed(),
                unnamed: listed.unnamed(),
                mirrored: listed.mirrored(),
                remove: removed.into_iter().map(|(path, _)| path).collect(),
            }
        });
        let done = self.done;
        let files = done.len() as u64;
        let bytes = done.iter().map(|(_, r, _)| r.size).sum();
        let downloaded_files = done.iter().filter(|(_, _, skipped)| !skipped).count() as u64;
        let downloaded_bytes = self.downloaded_bytes;
        let dirs: HashSet<PathBuf> = done
            .iter()
            .filter_map(|(path, _, _)| TilePath::parse(path))
            .map(|p| p.parent_relative())
            .collect();
        // Moved, not copied: at 100,000 files the records are most of what a download holds.
        let mut entries: Vec<(Box<str>, Recorded)> =
            done.into_iter().map(|(path, r, _)| (path, r)).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut failures = self.failures;
        failures.sort_by(|a, b| a.path.cmp(&b.path));
        let missing = failures
            .iter()
            .map(|f| ManifestGap {
                what: f.path.to_string(),
                in_file: None,
                reason: f.error.to_string(),
            })
            .chain(self.refused.iter().map(|r| ManifestGap {
                what: r.uri.clone(),
                in_file: Some(r.in_file.to_string()),
                reason: r.reason.to_string(),
            }))
            .collect();
        Finished {
            tileset: self.tileset,
            entries,
            missing,
            dirs,
            failures,
            refused: self.refused,
            files,
            bytes,
            downloaded_files,
            downloaded_bytes,
            listed,
        }
    }
}

/// A file waiting for its turn: what its URL is built from when it starts, not the URL
/// itself. A signed URL for each of 100,000 queued files would cost hundreds of bytes each,
/// and the signature may be renewed before the file starts.
struct Queued {
    path: TilePath,
    own_query: Option<Box<str>>,
    kind: FileKind,
    /// Refused before with an older signature: it has had a fresh one.
    retried: bool,
    origin: Origin,
}

impl Queued {
    fn new(file: TileFile, kind: FileKind) -> Self {
        let (path, own_query) = file.into_parts();
        Queued {
            path,
            own_query: own_query.map(String::into_boxed_str),
            kind,
            retried: false,
            origin: Origin::Walk,
        }
    }
}
