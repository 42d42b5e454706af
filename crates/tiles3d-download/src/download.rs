//! The public [`Downloader`] and the driver that runs a download: it opens and locks the
//! output directory, starts the transfers the [`Scheduler`] asks for, a few at a time, feeds
//! their outcomes back to it, asks the source for a fresh signature when the scheduler needs
//! one, and writes the manifest when nothing is left.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cap_std::fs::Dir;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::errors::{DownloadError, FileError};
use crate::limit::Sample;
use crate::listing;
use crate::options::{Concurrency, DownloadOptions, DownloadSummary, Progress};
use crate::reserved::JOURNAL_FILE;
use crate::scheduler::{Finished, Refusal, Scheduler};
use crate::signer::{FixedUrl, SignedUrlSource};
use crate::store::manifest::{
    Journal, MANIFEST_FILE, MANIFEST_VERSION, ManifestOut, Recorded, RecordedFiles,
    previous_entries,
};
use crate::store::output::{OutputDir, remove_stale_parts, remove_unnamed};
use crate::store::write_threads::WriteThreads;
use crate::transfer::{Fetched, Fetcher, FileTransfer, load_of};
use crate::url::TilesetUrl;
use http_policy::retry::RetryOptions;

/// Downloads a whole tileset to a directory.
///
/// See the [module docs](super) for what it guarantees. Cloning is cheap; clones share the
/// progress channel.
#[derive(Debug, Clone)]
pub struct Downloader {
    http: reqwest::Client,
    dir: PathBuf,
    options: DownloadOptions,
    progress: Arc<watch::Sender<Progress>>,
}

impl Downloader {
    /// A downloader into `dir` (created if missing) with [`DownloadOptions::default`] and its
    /// own HTTP client: connect and per-read timeouts but no whole-request timeout, and
    /// redirects followed only on the same origin.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Downloader {
            http: default_http_client(),
            dir: dir.into(),
            options: DownloadOptions::default(),
            progress: Arc::new(watch::channel(Progress::default()).0),
        }
    }

    /// Uses `client` for the blob requests. It should not follow redirects to other hosts,
    /// and should have no whole-request timeout: a large tile on a slow link takes long, and
    /// [`DownloadOptions::idle_timeout`] already catches a stalled transfer. In particular,
    /// do not pass the client of a service API with a whole-request timeout (a Mesh Export
    /// client's has 60 s).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = client;
        self
    }

    /// Replaces all options.
    pub fn with_options(mut self, options: DownloadOptions) -> Self {
        self.options = options;
        self
    }

    /// Always `files` fetched at the same time (at least 1): [`Concurrency::Fixed`].
    pub fn concurrency(mut self, files: usize) -> Self {
        self.options.concurrency = Concurrency::Fixed(files.max(1));
        self
    }

    /// Files fetched at the same time found as the download goes, from `min` to `max`:
    /// [`Concurrency::Adaptive`], the default (from 4 to 256).
    pub fn adaptive_concurrency(mut self, min: usize, max: usize) -> Self {
        self.options.concurrency = Concurrency::Adaptive { min, max };
        self
    }

    /// Retries of each file.
    pub fn retry(mut self, retry: RetryOptions) -> Self {
        self.options.retry = retry;
        self
    }

    /// Whether the container is listed where the link allows it
    /// ([`DownloadOptions::use_listing`]), and whether the listed files the tileset does not
    /// name are downloaded too ([`DownloadOptions::all_files`]).
    pub fn listing(mut self, use_listing: bool, all_files: bool) -> Self {
        self.options.use_listing = use_listing;
        self.options.all_files = all_files;
        self
    }

    /// The most files the download may name ([`DownloadOptions::max_files`]).
    pub fn max_files(mut self, files: u64) -> Self {
        self.options.max_files = files;
        self
    }

    /// A channel that follows the download's [`Progress`].
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Downloads every file of `tileset` into the directory, skipping files already complete
    /// there, and writes `manifest.json`. The URL is used as it is: when its signature is
    /// refused for more than some files' paths, the download stops with
    /// [`DownloadError::SignatureRejected`] (the manifest still records what arrived); a file
    /// refused while others started after it arrive fails with [`FileError::Forbidden`].
    ///
    /// Refused URIs, failed files and content the walker cannot read make the result
    /// [`DownloadError::Incomplete`], with everything that did arrive kept and recorded.
    /// Dropping the future stops the download; a later call resumes it.
    pub async fn download(&self, tileset: &TilesetUrl) -> Result<DownloadSummary, DownloadError> {
        self.download_from(&FixedUrl(tileset.clone())).await
    }

    /// Downloads the tileset `source` signs, asking it for a fresh signature when the store
    /// refuses one, up to [`DownloadOptions::max_resigns`] times in a row. A file the store
    /// still refuses with a fresh signature while it accepts others fails with
    /// [`FileError::Forbidden`]: one fresh signature settles that, not one per file.
    pub async fn download_from(
        &self,
        source: &dyn SignedUrlSource,
    ) -> Result<DownloadSummary, DownloadError> {
        let started = Instant::now();
        let tileset = source.current();
        let (output, known, journal) = self.open_output(&tileset).await?;
        let OutputDir { dir, lock } = output;
        // One writer per core: the number of files in flight changes as the download goes,
        // and writers are CPU work.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let write_threads = WriteThreads::start(cores).map_err(|e| DownloadError::Output {
            path: self.dir.clone(),
            source: std::io::Error::new(
                e.kind(),
                format!("cannot start the threads that write files: {e}"),
            ),
        })?;
        let dir = Arc::new(dir);
        self.progress.send_replace(Progress::default());
        let transfer = Arc::new(FileTransfer {
            fetcher: Fetcher {
                http: self.http.clone(),
                dir: dir.clone(),
                options: self.options.clone(),
                journal: Arc::new(Mutex::new(journal)),
                progress: self.progress.clone(),
                created_dirs: Arc::default(),
                write_threads,
            },
            known,
            entry: tileset.entry().clone(),
        });
        // Listed before the walk starts, so that every file the walk names can be checked
        // against it at once: one request per 5,000 files, while prefetching keeps every slot
        // busy from the first page on.
        let listing = match self.options.use_listing {
            true => listing::list(&self.http, &tileset, &self.options).await,
            false => None,
        };
        let listing = match listing {
            Some(listing) => {
                Some(leave_existing_files_to_the_walk(listing, &dir, &transfer).await?)
            }
            None => None,
        };
        let scheduler = Scheduler::new(tileset, &self.options, listing, self.progress.clone());
        let (finished, stop) = match run(scheduler, &transfer, source).await {
            Ok(finished) => (finished, None),
            Err((stop, finished)) => (finished, Some(stop)),
        };
        let (limit, lowered) = {
            let progress = self.progress.borrow();
            (progress.concurrency, progress.concurrency_lowered)
        };
        // The limit's changes are logged at most once a second; this is where it ended.
        tracing::debug!(limit, lowered, "files in flight at the end");

        let manifest_path = self.dir.join(MANIFEST_FILE);
        if let Some(stop) = stop {
            // What arrived is recorded; the journal stays, since it also holds the files of
            // earlier runs this one did not reach.
            blocking(move || {
                remove_unnamed_prefetched(&dir, &finished);
                if let Err(error) = write_manifest(&dir, &finished) {
                    let path = manifest_path.display();
                    tracing::warn!(%path, %error, "cannot write the manifest");
                }
                drop(lock);
                Ok(())
            })
            .await?;
            return Err(stop);
        }
        let finished = blocking(move || {
            remove_unnamed_prefetched(&dir, &finished);
            write_manifest(&dir, &finished).map_err(|source| DownloadError::Output {
                path: manifest_path,
                source,
            })?;
            // The manifest now holds everything the journal did.
            let _ = dir.remove_file(JOURNAL_FILE);
            remove_stale_parts(&dir, finished.dirs.iter().map(PathBuf::as_path));
            drop(lock);
            Ok(finished)
        })
        .await?;
        let progress = self.progress.borrow().clone();
        finished.into_result(&self.dir, &progress, started.elapsed())
    }

    /// Opens and locks the output directory, reads what an earlier run of the same tileset
    /// completed, and starts the journal with it.
    async fn open_output(
        &self,
        tileset: &TilesetUrl,
    ) -> Result<(OutputDir, HashMap<Box<str>, Recorded>, Journal), DownloadError> {
        let origin = tileset.root_unsigned().to_string();
        let dir_path = self.dir.clone();
        blocking(move || {
            let output = OutputDir::open_locked(&dir_path)?;
            let known = previous_entries(&output.dir, &origin);
            let journal =
                Journal::start(&output.dir, &origin, known.iter().map(|(p, r)| r.entry(p)))
                    .map_err(|source| DownloadError::Output {
                        path: dir_path.join(JOURNAL_FILE),
                        source,
                    })?;
            Ok((output, known, journal))
        })
        .await
    }
}

/// Runs the transfers `scheduler` starts, feeding their outcomes back to it, until nothing
/// is left; a refused signature is renewed through `source` when the scheduler asks. A
/// download that stops comes back with what it had come to, for its manifest.
async fn run(
    mut scheduler: Scheduler,
    transfer: &Arc<FileTransfer>,
    source: &dyn SignedUrlSource,
) -> Result<Finished, (DownloadError, Finished)> {
    let mut tasks = JoinSet::new();
    loop {
        while let Some(started) = scheduler.next() {
            let (transfer, in_flight, began) =
                (transfer.clone(), scheduler.in_flight(), Instant::now());
            tasks.spawn(async move {
                let result = transfer.fetch(&started.file, &started.kind).await;
                let sample = sample_of(&result, began, in_flight);
                (started, result, sample)
            });
        }
        debug_assert_eq!(tasks.len(), scheduler.in_flight());
        let refusal = match tasks.join_next().await {
            // Nothing in flight: refusals still held are judged now.
            None => match scheduler.settle() {
                Some(refusal) => refusal,
                None => break,
            },
            // Tasks are aborted only on the way out, so a join error here is a panic.
            Some(joined) => {
                let (started, result, sample) =
                    joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                scheduler.transferred(&sample);
                match result {
                    Ok(fetched) => {
                        scheduler.fetched(started, fetched);
                        continue;
                    }
                    Err(FileError::SignatureRejected { status }) => {
                        scheduler.refused(started, status)
                    }
                    Err(error) => {
                        scheduler.failed(started, error);
                        continue;
                    }
                }
            }
        };
        if let Err(stop) = follow(&mut scheduler, refusal, source, transfer).await {
            tasks.abort_all();
            // Files that arrived before the abort took effect are recorded.
            while let Some(joined) = tasks.join_next().await {
                if let Ok((started, Ok(fetched), _)) = joined {
                    scheduler.fetched(started, fetched);
                }
            }
            return Err((stop, scheduler.stopped()));
        }
    }
    Ok(scheduler.finish())
}

/// What the limit of files in flight learns from a transfer that began at `began`, with
/// `in_flight` files in flight, itself included, and ended now.
fn sample_of(result: &Result<Fetched, FileError>, began: Instant, in_flight: usize) -> Sample {
    let (bytes, outcome) = match result {
        Ok(fetched) => (fetched.received, fetched.load),
        Err(error) => (0, load_of(error)),
    };
    Sample {
        started: began,
        ended: Instant::now(),
        bytes,
        in_flight,
        outcome,
    }
}

/// `listing`, with the files already in the output directory that no earlier run of this
/// download recorded (the user's own) kept from prefetching: see
/// [`Listing::leave_to_the_walk`](listing::Listing::leave_to_the_walk).
async fn leave_existing_files_to_the_walk(
    mut listing: listing::Listing,
    dir: &Arc<Dir>,
    transfer: &Arc<FileTransfer>,
) -> Result<listing::Listing, DownloadError> {
    let (dir, transfer) = (dir.clone(), transfer.clone());
    blocking(move || {
        listing.leave_to_the_walk(|path| {
            !transfer.known.contains_key(path.as_str())
                && dir.symlink_metadata(path.relative()).is_ok()
        });
        Ok(listing)
    })
    .await
}

/// Does what the scheduler asked after a refusal; an error ends the download.
async fn follow(
    scheduler: &mut Scheduler,
    refusal: Refusal,
    source: &dyn SignedUrlSource,
    transfer: &FileTransfer,
) -> Result<(), DownloadError> {
    match refusal {
        Refusal::Requeued | Refusal::Held => Ok(()),
        Refusal::Stop(error) => Err(error),
        Refusal::Probe(file) => {
            let accepted = transfer.fetcher.signature_accepted(&file).await;
            scheduler.probed(accepted)
        }
        Refusal::AskForFreshSignature => {
            let fresh = source
                .refresh()
                .await
                .inspect_err(|e| tracing::info!(error = %e, "no fresh signature"))
                .ok();
            scheduler.resigned(fresh)
        }
    }
}

/// Removes the files fetched on the listing's word that the tileset turned out not to name
/// (and that were not to be mirrored): they are no part of the download.
fn remove_unnamed_prefetched(dir: &Dir, finished: &Finished) {
    if let Some(listed) = &finished.listed {
        remove_unnamed(dir, &listed.remove);
    }
}

/// Writes the manifest of a finished download into `dir`.
fn write_manifest(dir: &Dir, finished: &Finished) -> std::io::Result<()> {
    let (source, entry_file) = (
        finished.tileset.root_unsigned().to_string(),
        finished.tileset.entry().to_string(),
    );
    ManifestOut {
        version: MANIFEST_VERSION,
        source: &source,
        complete: finished.complete(),
        tileset: &entry_file,
        files: RecordedFiles(&finished.entries),
        missing: &finished.missing,
    }
    .write_in(dir)
}

/// Runs blocking file-system work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DownloadError> + Send + 'static,
) -> Result<T, DownloadError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The client used unless the caller supplies one: timeouts so a stalled store cannot hang a
/// download (per read, never for a whole file), and redirects followed only on the same
/// origin, so no other host sees the query.
fn default_http_client() -> reqwest::Client {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().cloned();
        match first {
            _ if attempt.previous().len() > 5 => attempt.error("too many redirects"),
            Some(first) if first.origin() == attempt.url().origin() => attempt.follow(),
            _ => attempt.stop(),
        }
    });
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60))
        .redirect(policy)
        .user_agent(concat!("tiles3d-download/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}
