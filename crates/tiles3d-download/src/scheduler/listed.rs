//! What the container listing adds to the scheduler: files fetched before the walk names
//! them, the walk checked against the listing, and the files the tileset does not name.
//!
//! The walk stays the judge of what the tileset is. A listed content file (see
//! [`ListedFile::prefetch`](crate::listing::ListedFile)) is fetched while the walk's own
//! queue is empty, so the first seconds of a deep tileset keep every slot busy; when the walk
//! names it, it is taken as it stands (arrived, or in flight) if the walk reads it the way it
//! was fetched, and fetched again otherwise. A prefetch that fails is forgotten: the walk
//! fetches the file itself if it names it. A file the walk names that the listing lacks
//! fails at once ([`FileError::NotListed`]). What the walk never names is counted, and
//! mirrored only with [`DownloadOptions::all_files`](crate::DownloadOptions::all_files);
//! otherwise a prefetched copy is removed and never recorded.

use std::collections::{HashMap, VecDeque};

use super::{Origin, Queued, Scheduler};

#[cfg(test)]
mod tests;
use crate::errors::FileError;
use crate::listing::Listing;
use crate::store::manifest::Recorded;
use crate::transfer::Fetched;
use tiles3d::TilePath;
use tiles3d::walk::FileKind;

/// Where a listed file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not named by the walk, not being fetched.
    Unnamed,
    /// Waiting to be prefetched.
    Candidate,
    /// Being fetched before the walk named it.
    Prefetching,
    /// Arrived before the walk named it; its outcome waits in [`Listed::arrived`].
    Arrived,
    /// The walk named it: it is the walk's.
    Named,
    /// Fetched as a file the tileset does not name.
    Mirrored,
}

/// What the scheduler does next with a listed file.
pub(super) enum Then {
    /// Queue it for the walk.
    Queue(Queued),
    /// It arrived: take what it names as if it arrived now.
    Absorb(TilePath, Fetched),
    /// Nothing yet: it is in flight.
    Wait,
}

/// The listing and what the download made of it.
pub(super) struct Listed {
    listing: Listing,
    states: Vec<State>,
    /// Prefetch candidates, by index, in the listing's order; skipped once no longer one.
    candidates: VecDeque<usize>,
    /// Prefetched files that arrived before the walk named them.
    arrived: HashMap<usize, Fetched>,
    /// The walk's entry for files it named while their prefetch was in flight.
    named_in_flight: HashMap<usize, Queued>,
    /// Files being prefetched.
    prefetching: usize,
    all_files: bool,
    mirror_started: bool,
}

impl Listed {
    /// The listing of a download that starts at `entry`, which is named by the download itself.
    pub(super) fn new(listing: Listing, entry: &TilePath, all_files: bool) -> Self {
        let mut states: Vec<State> = (listing.files.iter())
            .map(|f| match f.prefetch {
                true => State::Candidate,
                false => State::Unnamed,
            })
            .collect();
        if let Some(index) = listing.find(entry) {
            states[index] = State::Named;
        }
        let candidates = (0..states.len())
            .filter(|&i| states[i] == State::Candidate)
            .collect();
        Listed {
            listing,
            states,
            candidates,
            arrived: HashMap::new(),
            named_in_flight: HashMap::new(),
            prefetching: 0,
            all_files,
            mirror_started: false,
        }
    }

    /// Files the listing names under the root, usable or not.
    pub(super) fn listed(&self) -> u64 {
        self.listing.files.len() as u64 + self.listing.unusable
    }

    /// Their total size, as listed.
    pub(super) fn listed_bytes(&self) -> u64 {
        self.listing.files.iter().map(|f| f.size).sum()
    }

    /// Listed files the walk did not name (so far), usable or not.
    pub(super) fn unnamed(&self) -> u64 {
        let named = self.states.iter().filter(|s| **s == State::Named).count();
        self.listed() - named as u64
    }

    /// Listed files mirrored.
    pub(super) fn mirrored(&self) -> u64 {
        self.states
            .iter()
            .filter(|s| **s == State::Mirrored)
            .count() as u64
    }

    /// The next file to fetch before the walk names it.
    fn next_prefetch(&mut self) -> Option<TilePath> {
        while let Some(index) = self.candidates.pop_front() {
            if self.states[index] == State::Candidate {
                self.states[index] = State::Prefetching;
                self.prefetching += 1;
                return Some(self.listing.files[index].path.clone());
            }
        }
        None
    }

    /// Whether `path` is being prefetched and the walk has not named it.
    pub(super) fn prefetching_unnamed(&self, path: &TilePath) -> bool {
        self.listing.find(path).is_some_and(|i| {
            self.states[i] == State::Prefetching && !self.named_in_flight.contains_key(&i)
        })
    }

    /// The walk names `queued` (claimed for the first time); `Err` with it when the listing
    /// lacks it.
    fn named(&mut self, queued: Queued) -> Result<Then, Queued> {
        let Some(index) = self.listing.find(&queued.path) else {
            return Err(queued);
        };
        let state = std::mem::replace(&mut self.states[index], State::Named);
        Ok(match state {
            State::Prefetching => {
                self.states[index] = State::Prefetching;
                self.named_in_flight.insert(index, queued);
                Then::Wait
            }
            State::Arrived => {
                let fetched = self.arrived.remove(&index).expect("an arrival is kept");
                take_or_fetch_again(queued, fetched)
            }
            _ => Then::Queue(queued),
        })
    }

    /// Prefetches in flight that the walk has not named: nothing the walk waits for.
    fn unnamed_in_flight(&self) -> usize {
        self.prefetching - self.named_in_flight.len()
    }

    /// The walk is over: the candidates left are files it does not name.
    fn drop_candidates(&mut self) {
        for index in std::mem::take(&mut self.candidates) {
            if self.states[index] == State::Candidate {
                self.states[index] = State::Unnamed;
            }
        }
    }

    /// A prefetched file arrived.
    fn arrived(&mut self, path: &TilePath, fetched: Fetched) -> Then {
        let Some(index) = self.listing.find(path) else {
            return Then::Wait;
        };
        self.prefetching -= 1;
        match self.named_in_flight.remove(&index) {
            Some(queued) => {
                self.states[index] = State::Named;
                take_or_fetch_again(queued, fetched)
            }
            None => {
                self.states[index] = State::Arrived;
                self.arrived.insert(index, fetched);
                Then::Wait
            }
        }
    }

    /// A prefetch failed: forgotten, unless the walk named the file meanwhile and fetches it
    /// itself now.
    fn prefetch_failed(&mut self, path: &TilePath) -> Then {
        let Some(index) = self.listing.find(path) else {
            return Then::Wait;
        };
        self.prefetching -= 1;
        match self.named_in_flight.remove(&index) {
            Some(queued) => {
                self.states[index] = State::Named;
                Then::Queue(queued)
            }
            None => {
                self.states[index] = State::Unnamed;
                Then::Wait
            }
        }
    }

    /// Once the walk is over, with [`DownloadOptions::all_files`]: the prefetched files it
    /// did not name, to record as they are, and the other files it did not name, to fetch.
    /// Empty otherwise, or the second time.
    ///
    /// [`DownloadOptions::all_files`]: crate::DownloadOptions::all_files
    fn mirror(&mut self) -> (Vec<(TilePath, Fetched)>, Vec<TilePath>) {
        if !self.all_files || self.mirror_started {
            return (Vec::new(), Vec::new());
        }
        self.mirror_started = true;
        let mut arrived: Vec<_> = std::mem::take(&mut self.arrived).into_iter().collect();
        arrived.sort_unstable_by_key(|(index, _)| *index);
        let arrived = (arrived.into_iter())
            .map(|(index, fetched)| {
                self.states[index] = State::Mirrored;
                (self.listing.files[index].path.clone(), fetched)
            })
            .collect();
        let mut unnamed = Vec::new();
        for (state, file) in self.states.iter_mut().zip(&self.listing.files) {
            if *state == State::Unnamed {
                *state = State::Mirrored;
                unnamed.push(file.path.clone());
            }
        }
        (arrived, unnamed)
    }

    /// The prefetched files no one named, which are not to stay on disk, with what they were
    /// counted as when they arrived.
    pub(super) fn arrived_unnamed(&mut self) -> Vec<(TilePath, Fetched)> {
        let mut arrived: Vec<(TilePath, Fetched)> = (std::mem::take(&mut self.arrived))
            .into_iter()
            .map(|(index, fetched)| (self.listing.files[index].path.clone(), fetched))
            .collect();
        arrived.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        arrived
    }
}

/// The prefetched `fetched` if the walk reads the file as it was fetched (the kind its name
/// gives, no query of its own), else the walk's entry to fetch it again.
fn take_or_fetch_again(queued: Queued, fetched: Fetched) -> Then {
    if queued.own_query.is_none() && queued.kind == FileKind::of(&queued.path) {
        Then::Absorb(queued.path, fetched)
    } else {
        Then::Queue(queued)
    }
}

impl Scheduler {
    /// Queues a file the walk names for the first time, or takes its prefetch; a file the
    /// listing lacks fails at once.
    pub(super) fn enqueue_named(&mut self, queued: Queued) {
        let then = match &mut self.listed {
            None => Then::Queue(queued),
            Some(listed) => match listed.named(queued) {
                Ok(then) => then,
                Err(missing) => {
                    let path = missing.path;
                    tracing::warn!(%path, "named by the tileset but not in the container's listing");
                    self.fail(path, FileError::NotListed);
                    return;
                }
            },
        };
        self.then(then);
    }

    fn then(&mut self, then: Then) {
        match then {
            // Tilesets and subtrees first: they reveal more work.
            Then::Queue(queued) if queued.kind.reveals_more() => self.queue.push_front(queued),
            Then::Queue(queued) => self.queue.push_back(queued),
            Then::Absorb(path, fetched) => self.ready.push((path, fetched)),
            Then::Wait => {}
        }
    }

    /// The walk's next file, else a file to prefetch, else (once everything else is over) the
    /// files to mirror.
    pub(super) fn pop_next(&mut self) -> Option<Queued> {
        if let Some(queued) = self.queue.pop_front() {
            return Some(queued);
        }
        let listed = self.listed.as_mut()?;
        // Nothing of the walk's in flight or held, and nothing queued: the walk is over, and
        // the files it has not named it never will.
        if self.in_flight.len() == listed.unnamed_in_flight() && self.suspects.is_empty() {
            listed.drop_candidates();
        }
        if let Some(path) = listed.next_prefetch() {
            return Some(Queued {
                kind: FileKind::of(&path),
                path,
                own_query: None,
                retried: false,
                origin: Origin::Prefetch,
            });
        }
        if self.in_flight.is_empty() && self.suspects.is_empty() {
            self.start_mirror();
        }
        self.queue.pop_front()
    }

    /// Records the prefetched files the walk did not name and queues the rest, when
    /// [`DownloadOptions::all_files`](crate::DownloadOptions::all_files) asks for them.
    fn start_mirror(&mut self) {
        let Some(listed) = self.listed.as_mut() else {
            return;
        };
        let (arrived, unnamed) = listed.mirror();
        for (path, fetched) in arrived {
            if self.claim_unnamed(&path) {
                self.record(fetched);
            }
        }
        for path in unnamed {
            if self.claim_unnamed(&path) {
                self.queue.push_back(Queued {
                    path,
                    own_query: None,
                    // Read for its structure only where its bytes say what it is.
                    kind: FileKind::Leaf,
                    retried: false,
                    origin: Origin::Mirror,
                });
            }
        }
    }

    /// Claims a file the tileset does not name; false (logged) when it collides with a
    /// claimed one on a case-insensitive file system.
    fn claim_unnamed(&mut self, path: &TilePath) -> bool {
        let file = self.tileset.file_at(path.clone(), None);
        match self
            .claims
            .check(&file, path.as_str(), self.tileset.entry())
        {
            Ok(()) => self.claims.claim(path),
            Err(refused) => {
                tracing::warn!(%refused, "not mirroring a file the tileset does not name");
                false
            }
        }
    }

    /// A prefetched file arrived, or failed (`None`).
    pub(super) fn prefetched(&mut self, path: &TilePath, fetched: Option<Fetched>) {
        let Some(listed) = self.listed.as_mut() else {
            return;
        };
        let then = match fetched {
            Some(fetched) => listed.arrived(path, fetched),
            None => listed.prefetch_failed(path),
        };
        self.then(then);
    }

    /// Records a file complete on disk without following what it names.
    pub(super) fn record(&mut self, fetched: Fetched) {
        if let Some(recorded) = Recorded::of(&fetched.entry) {
            let path = fetched.entry.path.into_boxed_str();
            self.done.push((path, recorded, fetched.skipped));
        }
    }
}
