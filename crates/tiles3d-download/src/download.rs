//! Downloading a whole tileset to a directory: the scheduler. It walks the tileset as files
//! arrive, claims each path once (refusing case-insensitive collisions), runs a few fetches at
//! a time, re-signs when the store refuses the signature, and writes the manifest. The fetch
//! itself is in `fetch`, the file writer in `writer`, the manifest and journal in `manifest`,
//! the confined output directory in `output`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::errors::{DownloadError, FileError, FileFailure};
use crate::fetch::Fetcher;
use crate::options::{DownloadOptions, DownloadSummary, Progress};
use crate::reserved::JOURNAL_FILE;
use crate::signer::{FixedUrl, SignedUrlSource};
use crate::store::claims::Claims;
use crate::store::manifest::{
    Journal, MANIFEST_FILE, MANIFEST_VERSION, ManifestEntry, ManifestGap, ManifestOut, Recorded,
    RecordedFiles, previous_entries,
};
use crate::store::output::{OutputDir, checksum_of, remove_stale_parts};
use crate::store::write_threads::WriteThreads;
use crate::store::writer::{References, references_on_disk};
use crate::url::{TileFile, TilesetUrl};
use http_policy::retry::RetryOptions;
use tiles3d::TilePath;
use tiles3d::walk::{FileKind, Reference, WalkError, Walked};

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

    /// Files fetched at the same time (at least 1).
    pub fn concurrency(mut self, files: usize) -> Self {
        self.options.concurrency = files.max(1);
        self
    }

    /// Retries of each file.
    pub fn retry(mut self, retry: RetryOptions) -> Self {
        self.options.retry = retry;
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
    /// refused, the download stops with [`DownloadError::SignatureRejected`].
    ///
    /// Refused URIs, failed files and content the walker cannot read make the result
    /// [`DownloadError::Incomplete`], with everything that did arrive kept and recorded.
    /// Dropping the future stops the download; a later call resumes it.
    pub async fn download(&self, tileset: &TilesetUrl) -> Result<DownloadSummary, DownloadError> {
        self.download_from(&FixedUrl(tileset.clone())).await
    }

    /// Downloads the tileset `source` signs, asking it for a fresh signature when the store
    /// refuses one, up to [`DownloadOptions::max_resigns`] times.
    pub async fn download_from(
        &self,
        source: &dyn SignedUrlSource,
    ) -> Result<DownloadSummary, DownloadError> {
        let started = Instant::now();
        let mut tileset = source.current();
        let origin = tileset.root_unsigned().to_string();
        let dir_path = self.dir.clone();
        let (output, known, journal) = blocking(move || {
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
        .await?;
        let OutputDir { dir, lock } = output;
        // As many writers as files in flight, but no more than the cores that run them.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let write_threads =
            WriteThreads::start(self.options.concurrency.min(cores)).map_err(|e| {
                DownloadError::Output {
                    path: self.dir.clone(),
                    source: std::io::Error::new(
                        e.kind(),
                        format!("cannot start the threads that write files: {e}"),
                    ),
                }
            })?;
        let dir = Arc::new(dir);
        self.progress.send_replace(Progress::default());

        let shared = Arc::new(Shared {
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
        let mut claims = Claims::default();
        let mut queue = VecDeque::new();
        let entry = tileset.entry().clone();
        claims.claim(&entry);
        queue.push_back(Queued {
            kind: FileKind::of(&entry),
            path: entry,
            own_query: None,
        });
        self.progress.send_modify(|p| p.files_total_known = 1);

        let mut generation = 0u32;
        // Fresh signatures asked for since a file last arrived with the current one.
        let mut resigns_in_a_row = 0u32;
        let mut tasks = JoinSet::new();
        // Each finished file: its path and record, and whether it was already on disk.
        let mut done: Vec<(Box<str>, Recorded, bool)> = Vec::new();
        let mut failures = Vec::new();
        // Every failure is recorded here, so `Progress::failed` counts what the result lists.
        let fail = |failures: &mut Vec<FileFailure>, path: TilePath, error: FileError| {
            self.progress.send_modify(|p| p.failed += 1);
            failures.push(FileFailure { path, error });
        };
        let mut refused = Vec::new();
        // After a write error (disk full, a file in the way) no new file is started: each would
        // fail the same way, after a request for nothing.
        let mut write_failed = false;
        loop {
            while !write_failed && tasks.len() < self.options.concurrency.max(1) {
                let Some(Queued {
                    path,
                    own_query,
                    kind,
                }) = queue.pop_front()
                else {
                    break;
                };
                let file = tileset.file_at(path, own_query.map(String::from));
                tasks.spawn(shared.clone().fetch(file, kind, generation));
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            // Tasks are aborted only on the way out, so a join error here is a panic.
            let outcome = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            let path = outcome.file.path().clone();
            match outcome.result {
                Ok(mut fetched) => {
                    if outcome.generation == generation && !fetched.skipped {
                        resigns_in_a_row = 0;
                    }
                    for Reference { uri, base, kind } in fetched.references {
                        // Implicit templates are relative to their tileset, subtree buffers to
                        // their subtree: not always to the file that names them.
                        let against = base.as_deref().unwrap_or(&path);
                        let resolved = tileset.resolve(&uri, against).and_then(|file| match file {
                            Some(file) => claims.check(&file, &uri, &path).map(|()| Some(file)),
                            None => Ok(None),
                        });
                        match resolved {
                            Ok(Some(file)) => {
                                let kind = kind.unwrap_or_else(|| FileKind::of(file.path()));
                                if claims.claim(file.path()) {
                                    let queued = Queued::new(file, kind);
                                    // Tilesets and subtrees first: they reveal more work.
                                    if queued.kind.reveals_more() {
                                        queue.push_front(queued);
                                    } else {
                                        queue.push_back(queued);
                                    }
                                } else if kind.has_context() {
                                    // Its first reading served another purpose; this one
                                    // would be lost.
                                    fetched.problems.push(FileError::Unsupported {
                                        uri,
                                        reason: format!(
                                            "`{}` is named again, by another implicit tree or \
                                             subtree, which is not supported",
                                            file.path()
                                        ),
                                    });
                                }
                            }
                            Ok(None) if kind.as_ref().is_some_and(FileKind::has_context) => {
                                // A subtree cannot be embedded: what it names would be lost.
                                fetched.problems.push(FileError::Unsupported {
                                    uri,
                                    reason: "a subtree or subtree buffer as a data: URI".to_owned(),
                                });
                            }
                            Ok(None) => {}
                            Err(refusal) => {
                                tracing::warn!(%refusal, "not following a URI");
                                refused.push(refusal);
                            }
                        }
                    }
                    self.progress.send_modify(|p| {
                        p.files_total_known = claims.len() as u64;
                        p.refused = refused.len() as u64;
                    });
                    for error in fetched.problems {
                        tracing::warn!(%path, %error, "not followed");
                        fail(&mut failures, path.clone(), error);
                    }
                    match Recorded::of(&fetched.entry) {
                        Some(recorded) => done.push((
                            fetched.entry.path.into_boxed_str(),
                            recorded,
                            fetched.skipped,
                        )),
                        // Not reached: checksums are made here, and read ones are checked.
                        None => fail(
                            &mut failures,
                            path.clone(),
                            FileError::Corrupt {
                                kind: "manifest entry",
                                reason: "its checksum is not XXH3-128 in hex".to_owned(),
                            },
                        ),
                    }
                }
                Err(FileError::SignatureRejected { status }) => {
                    if outcome.generation < generation {
                        // Sent before the fresh signature arrived: try again with it.
                        queue.push_front(Queued::new(outcome.file, outcome.kind));
                        continue;
                    }
                    let fresh = if resigns_in_a_row < self.options.max_resigns {
                        match source.refresh().await {
                            Ok(fresh) if fresh.root_unsigned() == tileset.root_unsigned() => {
                                Some(fresh)
                            }
                            Ok(_) => {
                                tracing::warn!("the fresh signature is for another root");
                                None
                            }
                            Err(e) => {
                                tracing::info!(error = %e, "no fresh signature");
                                None
                            }
                        }
                    } else {
                        None
                    };
                    let Some(fresh) = fresh else {
                        tasks.abort_all();
                        return Err(DownloadError::SignatureRejected { status, path });
                    };
                    tracing::info!(%path, "the signature was refused; carrying on with a fresh one");
                    tileset = fresh;
                    generation += 1;
                    resigns_in_a_row += 1;
                    self.progress.send_modify(|p| p.resigns += 1);
                    queue.push_front(Queued::new(outcome.file, outcome.kind));
                }
                Err(error) => {
                    tracing::warn!(%path, %error, "file failed");
                    write_failed |= matches!(error, FileError::Write(_));
                    fail(&mut failures, path, error);
                }
            }
        }
        for queued in queue.drain(..) {
            fail(
                &mut failures,
                queued.path,
                FileError::NotAttempted("an earlier write to disk failed".to_owned()),
            );
        }

        let progress = self.progress.borrow().clone();
        let files = done.len() as u64;
        let bytes = done.iter().map(|(_, r, _)| r.size).sum();
        let (downloaded_files, downloaded_bytes) = done
            .iter()
            .filter(|(_, _, skipped)| !skipped)
            .fold((0, 0), |(n, b), (_, r, _)| (n + 1, b + r.size));
        let dirs: HashSet<PathBuf> = done
            .iter()
            .filter_map(|(path, _, _)| TilePath::parse(path))
            .map(|p| p.parent_relative())
            .collect();
        // Moved, not copied: at 100,000 files the records are most of what a download holds.
        let mut entries: Vec<(Box<str>, Recorded)> =
            done.into_iter().map(|(path, r, _)| (path, r)).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        failures.sort_by(|a, b| a.path.cmp(&b.path));
        let missing = failures
            .iter()
            .map(|f| ManifestGap {
                what: f.path.to_string(),
                in_file: None,
                reason: f.error.to_string(),
            })
            .chain(refused.iter().map(|r| ManifestGap {
                what: r.uri.clone(),
                in_file: Some(r.in_file.to_string()),
                reason: r.reason.to_string(),
            }))
            .collect();
        let (source, complete, entry_file) = (
            tileset.root_unsigned().to_string(),
            failures.is_empty() && refused.is_empty(),
            tileset.entry().to_string(),
        );
        let manifest_path = self.dir.join(MANIFEST_FILE);
        let finish_dir = dir.clone();
        blocking(move || {
            let missing: Vec<ManifestGap> = missing;
            ManifestOut {
                version: MANIFEST_VERSION,
                source: &source,
                complete,
                tileset: &entry_file,
                files: RecordedFiles(&entries),
                missing: &missing,
            }
            .write_in(&finish_dir)
            .map_err(|source| DownloadError::Output {
                path: manifest_path,
                source,
            })?;
            // The manifest now holds everything the journal did.
            let _ = finish_dir.remove_file(JOURNAL_FILE);
            remove_stale_parts(&finish_dir, dirs.iter().map(PathBuf::as_path));
            drop(lock);
            Ok(())
        })
        .await?;

        let summary = DownloadSummary {
            dir: self.dir.clone(),
            tileset: tileset.entry().to_path_under(&self.dir),
            manifest: self.dir.join(MANIFEST_FILE),
            files,
            bytes,
            downloaded_files,
            downloaded_bytes,
            skipped: files - downloaded_files,
            retries: progress.retries,
            resigns: progress.resigns,
            refused,
            elapsed: started.elapsed(),
        };
        if failures.is_empty() && summary.refused.is_empty() {
            Ok(summary)
        } else {
            Err(DownloadError::Incomplete {
                failures,
                summary: Box::new(summary),
            })
        }
    }
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

/// A file waiting for its turn: what its URL is built from when it starts, not the URL
/// itself. A signed URL for each of 100,000 queued files would cost hundreds of bytes each,
/// and the signature may be renewed before the file starts.
struct Queued {
    path: TilePath,
    own_query: Option<Box<str>>,
    kind: FileKind,
}

impl Queued {
    fn new(file: TileFile, kind: FileKind) -> Self {
        let (path, own_query) = file.into_parts();
        Queued {
            path,
            own_query: own_query.map(String::into_boxed_str),
            kind,
        }
    }
}

/// What every file task needs.
struct Shared {
    fetcher: Fetcher,
    known: HashMap<Box<str>, Recorded>,
    entry: TilePath,
}

/// A finished file task.
struct Outcome {
    file: TileFile,
    /// How it is read, kept to queue it again.
    kind: FileKind,
    /// The signature generation its requests used.
    generation: u32,
    result: Result<Fetched, FileError>,
}

/// A file complete on disk.
struct Fetched {
    entry: ManifestEntry,
    skipped: bool,
    references: Vec<Reference>,
    /// Why the file arrived but what it names cannot be read, or cannot all be interpreted.
    problems: Vec<FileError>,
}

impl Shared {
    async fn fetch(self: Arc<Self>, file: TileFile, kind: FileKind, generation: u32) -> Outcome {
        let result = self.fetch_file(&file, &kind).await;
        Outcome {
            file,
            kind,
            generation,
            result,
        }
    }

    async fn fetch_file(&self, file: &TileFile, kind: &FileKind) -> Result<Fetched, FileError> {
        let progress = &self.fetcher.progress;
        if let Some((entry, references)) = self.complete_on_disk(file.path(), kind).await {
            progress.send_modify(|p| {
                p.files_done += 1;
                p.files_skipped += 1;
                p.bytes_done += entry.size;
            });
            let (references, problems) = self.classify_references(file.path(), kind, references);
            return Ok(Fetched {
                entry,
                skipped: true,
                references,
                problems,
            });
        }
        let (entry, read) = self.fetcher.fetch_with_retries(file, kind).await?;
        progress.send_modify(|p| p.files_done += 1);
        let (references, problems) = self.classify_references(file.path(), kind, read);
        Ok(Fetched {
            entry,
            skipped: false,
            references,
            problems,
        })
    }

    /// The manifest entry of `path` and what it names, if the file on disk matches the entry.
    async fn complete_on_disk(
        &self,
        path: &TilePath,
        kind: &FileKind,
    ) -> Option<(ManifestEntry, References)> {
        let known = *self.known.get(path.as_str())?;
        let dir = self.fetcher.dir.clone();
        let verify = self.fetcher.options.verify_existing;
        let (path, kind) = (path.clone(), kind.clone());
        tokio::task::spawn_blocking(move || {
            let size = dir.metadata(path.relative()).ok()?.len();
            if size != known.size {
                return None;
            }
            if verify && checksum_of(&dir, &path.relative()).ok()? != known.checksum {
                return None;
            }
            Some((
                known.entry(path.as_str()),
                references_on_disk(&dir, &path, &kind),
            ))
        })
        .await
        .ok()
        .flatten()
    }

    /// What a file's references mean for the download. What the walker cannot read or
    /// interpret is a failure with its reason, so a partial download is never called
    /// complete. Only a `.json` other than the entry that is a JSON object but no tileset (a
    /// metadata schema) names nothing.
    fn classify_references(
        &self,
        path: &TilePath,
        kind: &FileKind,
        read: References,
    ) -> (Vec<Reference>, Vec<FileError>) {
        let Some(read) = read else {
            return (Vec::new(), Vec::new());
        };
        let unsupported = |e: WalkError| match e {
            WalkError::Unsupported { uri, reason } => FileError::Unsupported { uri, reason },
            other => FileError::Unsupported {
                uri: path.to_string(),
                reason: other.to_string(),
            },
        };
        match (read, kind) {
            (
                Ok(Walked {
                    references,
                    problems,
                }),
                _,
            ) => (references, problems.into_iter().map(unsupported).collect()),
            (Err(e @ WalkError::Unsupported { .. }), _)
            | (Err(e), FileKind::Subtree(_) | FileKind::SubtreeBuffer(_)) => {
                (Vec::new(), vec![unsupported(e)])
            }
            (Err(WalkError::Shape(why)), FileKind::Tileset) if *path != self.entry => {
                tracing::debug!(%path, why, "a .json file that is not a tileset");
                (Vec::new(), Vec::new())
            }
            (Err(e), FileKind::Tileset) => {
                (Vec::new(), vec![FileError::NotATileset(e.to_string())])
            }
            (Err(e), _) => (Vec::new(), vec![FileError::Uninterpretable(e.to_string())]),
        }
    }
}
