//! Downloading a whole tileset to a directory: concurrent, streamed, atomic, resumable.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::walk::{self, FileKind, Reference, WalkError, Walked};
use super::{JOURNAL_FILE, PART_SUFFIX, Refused, TileFile, TilePath, TilesetUrl};
use crate::retry::{RetryOptions, retry_after};

/// The name of the manifest a download writes at the root of its directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The manifest format this module writes.
const MANIFEST_VERSION: u32 = 1;

/// How a [`Downloader`] works; [`Default`] documents each choice.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Files fetched at the same time. Default 8: enough to hide per-request latency of a blob
    /// store, few enough not to trip its per-client throttling.
    pub concurrency: usize,
    /// Retries of each file. Default: the crate's [`RetryOptions`] with 6 attempts, a 250 ms
    /// first backoff and a 10-minute budget per file, because a file is a cheap, idempotent GET
    /// and one lost file makes the whole tileset incomplete.
    pub retry: RetryOptions,
    /// Whether a file the manifest lists is re-hashed before it is skipped. Default true: a
    /// local read is much cheaper than a fetch, and it catches files changed since.
    pub verify_existing: bool,
    /// Whether each file is flushed to stable storage before its rename. Default false: the
    /// rename is already atomic for readers; fsync only adds crash durability, at a cost.
    pub fsync: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            concurrency: 8,
            retry: RetryOptions {
                max_attempts: 6,
                initial_backoff: Duration::from_millis(250),
                max_backoff: Duration::from_secs(10),
                max_elapsed: Duration::from_secs(600),
                ..RetryOptions::default()
            },
            verify_existing: true,
            fsync: false,
        }
    }
}

/// Where a download stands, as a [`Downloader::progress`] channel reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Files finished: downloaded, or found complete on disk.
    pub files_done: u64,
    /// Files known so far; grows as tilesets are read.
    pub files_total_known: u64,
    /// Of `files_done`, those found complete on disk and not fetched.
    pub files_skipped: u64,
    /// Bytes of finished files plus bytes received for files in flight.
    pub bytes_done: u64,
    /// Bytes received over the network in this run, excluding failed attempts.
    pub bytes_downloaded: u64,
    /// Retries so far.
    pub retries: u64,
    /// URIs refused so far.
    pub refused: u64,
    /// Files that failed for good so far.
    pub failed: u64,
}

/// What a finished download did.
#[derive(Debug, Clone)]
pub struct DownloadSummary {
    /// The output directory.
    pub dir: PathBuf,
    /// The tileset's entry file on disk (`DIR/tileset.json`).
    pub tileset: PathBuf,
    /// The manifest on disk (`DIR/manifest.json`).
    pub manifest: PathBuf,
    /// Files of the tileset now complete on disk.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Of `files`, those fetched in this run.
    pub downloaded_files: u64,
    /// Bytes fetched in this run.
    pub downloaded_bytes: u64,
    /// Of `files`, those already complete on disk and not fetched again.
    pub skipped: u64,
    /// Retries in all.
    pub retries: u64,
    /// URIs the tileset names that were not followed, and why.
    pub refused: Vec<Refused>,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

/// A file that could not be downloaded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{path}`: {error}")]
pub struct FileFailure {
    /// The file's path under the tileset root.
    pub path: TilePath,
    /// Why it failed.
    pub error: FileError,
}

/// Why one file failed. Messages never hold the signed URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The blob store answered with an error status.
    #[error("the server answered HTTP {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// The blob store refused the signature (401 or 403).
    #[error("the server refused the signature (HTTP {status})")]
    SignatureRejected {
        /// The HTTP status.
        status: u16,
    },
    /// A `Retry-After` longer than the retry options allow.
    #[error("the server asked to wait {wait:?}, longer than the retry options allow")]
    RateLimited {
        /// The wait the server asked for.
        wait: Duration,
    },
    /// The connection failed or broke off.
    #[error("transfer failed: {0}")]
    Transport(String),
    /// The body ended before `Content-Length` bytes (or ran past them).
    #[error("the body had {received} bytes where Content-Length promised {expected}")]
    LengthMismatch {
        /// The `Content-Length`.
        expected: u64,
        /// The bytes received.
        received: u64,
    },
    /// Writing the file failed.
    #[error("could not write it: {0}")]
    Io(String),
    /// The file downloaded, but is not a readable tileset, so what it names is unknown.
    #[error("not a readable tileset: {0}")]
    NotATileset(String),
    /// The file names files in a way the walk cannot interpret (an unknown template variable,
    /// a malformed subtree), so they were not fetched.
    #[error("cannot interpret `{uri}`: {reason}")]
    Unsupported {
        /// The template, URI or file that cannot be interpreted.
        uri: String,
        /// Why.
        reason: String,
    },
}

/// Why a download did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The blob store refused the URL's signature: it has expired (they last about an hour) or
    /// is not valid. Complete files are kept; a new run with a fresh URL resumes.
    #[error(
        "the tileset URL's signature has expired or is not valid (HTTP {status} for `{path}`); \
         get a fresh URL from get-exports and run again: complete files are kept"
    )]
    SignatureRejected {
        /// The HTTP status (401 or 403).
        status: u16,
        /// The file whose request was refused.
        path: TilePath,
    },
    /// Some files could not be downloaded; the rest are complete and recorded in the manifest.
    #[error("{} file(s) of the tileset could not be downloaded; first: {}", .failures.len(), .failures.first().map(ToString::to_string).unwrap_or_default())]
    Incomplete {
        /// The files that failed and why.
        failures: Vec<FileFailure>,
        /// What was done.
        summary: Box<DownloadSummary>,
    },
    /// The output directory or manifest could not be written.
    #[error("cannot write `{}`: {source}", .path.display())]
    Output {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One file in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The path under the output directory, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
}

/// `manifest.json`: what a download wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The format version, 1.
    pub version: u32,
    /// The tileset root the files came from, without its signature.
    pub source: String,
    /// Whether every file of the tileset was downloaded.
    pub complete: bool,
    /// The tileset's entry file (`tileset.json`).
    pub tileset: String,
    /// The files, sorted by path.
    pub files: Vec<ManifestEntry>,
}

impl Manifest {
    /// Reads `DIR/manifest.json`; `Ok(None)` when there is none.
    pub fn read(dir: &Path) -> std::io::Result<Option<Manifest>> {
        match std::fs::read(dir.join(MANIFEST_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

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
    /// A downloader into `dir` (created if missing) with [`DownloadOptions::default`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Downloader {
            http: default_http_client(),
            dir: dir.into(),
            options: DownloadOptions::default(),
            progress: Arc::new(watch::channel(Progress::default()).0),
        }
    }

    /// Uses `client` for the blob requests. It should not follow redirects to other hosts.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http = client;
        self
    }

    /// Replaces all options.
    pub fn options(mut self, options: DownloadOptions) -> Self {
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
    /// there, and writes `manifest.json`.
    ///
    /// Refused URIs do not fail the download; they are listed in the summary. Dropping the
    /// future stops the download; a later call resumes it.
    pub async fn download(&self, tileset: &TilesetUrl) -> Result<DownloadSummary, DownloadError> {
        let started = Instant::now();
        let output = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DownloadError::Output { path, source }
        };
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(output(&self.dir))?;
        let source = tileset.root_unsigned().to_string();
        let known = previous_entries(&self.dir, &source);
        let journal = Journal::start(&self.dir, &source, known.values())
            .map_err(output(&self.dir.join(JOURNAL_FILE)))?;
        self.progress.send_replace(Progress::default());

        let shared = Arc::new(Shared {
            http: self.http.clone(),
            dir: self.dir.clone(),
            options: self.options.clone(),
            known,
            journal: Arc::new(Mutex::new(journal)),
            progress: self.progress.clone(),
            entry: tileset.entry().clone(),
        });
        let mut queue = VecDeque::new();
        // Paths as bare strings: one allocation and 16 bytes each, where a `TilePath` takes two
        // and 48; at 100,000 files that is megabytes.
        let mut seen: HashSet<Box<str>> = HashSet::new();
        let entry = TileFile::new(tileset.entry().clone(), tileset.tileset_json());
        seen.insert(entry.path().as_str().into());
        let kind = FileKind::of(entry.path());
        queue.push_back((entry, kind));
        self.progress.send_modify(|p| p.files_total_known = 1);

        let mut tasks = JoinSet::new();
        let mut done: Vec<(ManifestEntry, bool)> = Vec::new();
        let mut failures = Vec::new();
        let mut refused = Vec::new();
        loop {
            while tasks.len() < self.options.concurrency.max(1) {
                let Some((file, kind)) = queue.pop_front() else {
                    break;
                };
                tasks.spawn(shared.clone().fetch(file, kind));
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let outcome = match joined {
                Ok(outcome) => outcome,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => continue,
            };
            match outcome.result {
                Ok(mut fetched) => {
                    for Reference { uri, base, kind } in fetched.references {
                        let against = base.as_deref().unwrap_or(&outcome.path);
                        match tileset.resolve(&uri, against) {
                            Ok(Some(file)) => {
                                let kind = kind.unwrap_or_else(|| FileKind::of(file.path()));
                                if seen.insert(file.path().as_str().into()) {
                                    // Tilesets and subtrees first: they reveal more work.
                                    if kind.reveals_more() {
                                        queue.push_front((file, kind));
                                    } else {
                                        queue.push_back((file, kind));
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
                        p.files_total_known = seen.len() as u64;
                        p.refused = refused.len() as u64;
                    });
                    for error in fetched.problems {
                        tracing::warn!(path = %outcome.path, %error, "not followed");
                        failures.push(FileFailure {
                            path: outcome.path.clone(),
                            error,
                        });
                        self.progress.send_modify(|p| p.failed += 1);
                    }
                    done.push((fetched.entry, fetched.skipped));
                }
                Err(FileError::SignatureRejected { status }) => {
                    tasks.abort_all();
                    return Err(DownloadError::SignatureRejected {
                        status,
                        path: outcome.path,
                    });
                }
                Err(error) => {
                    tracing::warn!(path = %outcome.path, %error, "file failed");
                    self.progress.send_modify(|p| p.failed += 1);
                    failures.push(FileFailure {
                        path: outcome.path,
                        error,
                    });
                }
            }
        }

        let progress = self.progress.borrow().clone();
        let mut entries: Vec<ManifestEntry> = done.iter().map(|(e, _)| e.clone()).collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            source,
            complete: failures.is_empty(),
            tileset: tileset.entry().to_string(),
            files: entries,
        };
        let manifest_path = self.dir.join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        write_atomically(&manifest_path, &json).map_err(output(&manifest_path))?;
        // The manifest now holds everything the journal did.
        let _ = std::fs::remove_file(self.dir.join(JOURNAL_FILE));
        let dirs: HashSet<PathBuf> = done
            .iter()
            .filter_map(|(e, _)| TilePath::parse(&e.path))
            .filter_map(|p| p.to_path_under(&self.dir).parent().map(Path::to_path_buf))
            .collect();
        remove_stale_parts(dirs.iter().map(PathBuf::as_path));

        let downloaded: Vec<&ManifestEntry> =
            done.iter().filter(|(_, s)| !s).map(|(e, _)| e).collect();
        let summary = DownloadSummary {
            dir: self.dir.clone(),
            tileset: tileset.entry().to_path_under(&self.dir),
            manifest: manifest_path,
            files: done.len() as u64,
            bytes: done.iter().map(|(e, _)| e.size).sum(),
            downloaded_files: downloaded.len() as u64,
            downloaded_bytes: downloaded.iter().map(|e| e.size).sum(),
            skipped: done.iter().filter(|(_, s)| *s).count() as u64,
            retries: progress.retries,
            refused,
            elapsed: started.elapsed(),
        };
        if failures.is_empty() {
            Ok(summary)
        } else {
            failures.sort_by(|a, b| a.path.cmp(&b.path));
            Err(DownloadError::Incomplete {
                failures,
                summary: Box::new(summary),
            })
        }
    }
}

/// The client used unless the caller supplies one: timeouts so a stalled store cannot hang a
/// download, and redirects followed only on the same origin, so no other host sees the query.
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
        .user_agent(concat!("mesh-export/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// What every file task needs.
struct Shared {
    http: reqwest::Client,
    dir: PathBuf,
    options: DownloadOptions,
    known: HashMap<String, ManifestEntry>,
    journal: Arc<Mutex<Journal>>,
    progress: Arc<watch::Sender<Progress>>,
    entry: TilePath,
}

/// A finished file task.
struct Outcome {
    path: TilePath,
    result: Result<Fetched, FileError>,
}

/// A file complete on disk.
struct Fetched {
    entry: ManifestEntry,
    skipped: bool,
    references: Vec<Reference>,
    /// Set when a tileset or subtree was downloaded but cannot be read, or names files that
    /// cannot be interpreted.
    problems: Vec<FileError>,
}

/// Why one attempt failed, and whether another may follow.
enum AttemptError {
    Retry(FileError, Option<Duration>),
    Fatal(FileError),
}

impl Shared {
    async fn fetch(self: Arc<Self>, file: TileFile, kind: FileKind) -> Outcome {
        let path = file.path().clone();
        let result = self.fetch_file(&file, &kind).await;
        Outcome { path, result }
    }

    async fn fetch_file(&self, file: &TileFile, kind: &FileKind) -> Result<Fetched, FileError> {
        let target = file.path().to_path_under(&self.dir);
        let (entry, skipped) = match self.complete_on_disk(file.path(), &target).await {
            Some(entry) => {
                self.progress.send_modify(|p| {
                    p.files_done += 1;
                    p.files_skipped += 1;
                    p.bytes_done += entry.size;
                });
                (entry, true)
            }
            None => {
                let (entry, read) = self.fetch_with_retries(file, kind, &target).await?;
                self.progress.send_modify(|p| p.files_done += 1);
                let (references, problems) = self.classify_references(file.path(), kind, read);
                return Ok(Fetched {
                    entry,
                    skipped: false,
                    references,
                    problems,
                });
            }
        };
        let (references, problems) = self.references(file.path(), kind, &target).await;
        Ok(Fetched {
            entry,
            skipped,
            references,
            problems,
        })
    }

    /// The manifest entry of `path` if the file on disk matches it.
    async fn complete_on_disk(&self, path: &TilePath, target: &Path) -> Option<ManifestEntry> {
        let known = self.known.get(path.as_str())?.clone();
        let size = tokio::fs::metadata(target).await.ok()?.len();
        if size != known.size {
            return None;
        }
        if self.options.verify_existing {
            let target = target.to_path_buf();
            let sha = tokio::task::spawn_blocking(move || sha256_of(&target))
                .await
                .ok()?
                .ok()?;
            if sha != known.sha256 {
                return None;
            }
        }
        Some(known)
    }

    /// The URIs a downloaded file names, and an error when the file is a tileset that cannot
    /// be read. glTF files that cannot be read only lose their external resources, with a
    /// warning; a `.json` that is valid JSON but no tileset (a metadata schema) names nothing.
    async fn references(
        &self,
        path: &TilePath,
        kind: &FileKind,
        target: &Path,
    ) -> (Vec<Reference>, Vec<FileError>) {
        if !kind.names_files() {
            return (Vec::new(), Vec::new());
        }
        let file = target.to_path_buf();
        let (reading, named) = (kind.clone(), path.clone());
        let read = tokio::task::spawn_blocking(move || read_references(&reading, &named, &file))
            .await
            .unwrap_or_else(|e| Err(WalkError::Shape(e.to_string())));
        self.classify_references(path, kind, Some(read))
    }

    /// What a file's references mean for the download: a tileset or subtree that cannot be
    /// read, or anything the walk cannot interpret, is an error; a glTF that cannot be read
    /// only loses its external resources. `None`: a file that names nothing.
    fn classify_references(
        &self,
        path: &TilePath,
        kind: &FileKind,
        read: Option<Result<Walked, WalkError>>,
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
            (Ok(walked), _) => (
                walked.references,
                walked.problems.into_iter().map(unsupported).collect(),
            ),
            (Err(e @ WalkError::Unsupported { .. }), _) => (Vec::new(), vec![unsupported(e)]),
            (Err(e), FileKind::Subtree(_) | FileKind::SubtreeBuffer(_)) => {
                (Vec::new(), vec![unsupported(e)])
            }
            (Err(WalkError::Shape(why)), FileKind::Tileset) if *path != self.entry => {
                tracing::debug!(%path, why, "a .json file that is not a tileset");
                (Vec::new(), Vec::new())
            }
            (Err(e), FileKind::Tileset) => {
                (Vec::new(), vec![FileError::NotATileset(e.to_string())])
            }
            (Err(e), _) => {
                tracing::warn!(%path, error = %e, "cannot read the glTF's external resources");
                (Vec::new(), Vec::new())
            }
        }
    }

    async fn fetch_with_retries(
        &self,
        file: &TileFile,
        kind: &FileKind,
        target: &Path,
    ) -> Result<(ManifestEntry, References), FileError> {
        let retry = &self.options.retry;
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let (error, hint) = match self.fetch_once(file, kind, target).await {
                Ok(entry) => return Ok(entry),
                Err(AttemptError::Fatal(error)) => return Err(error),
                Err(AttemptError::Retry(error, hint)) => (error, hint),
            };
            if attempt >= retry.max_attempts {
                return Err(error);
            }
            let wait = match hint {
                Some(hint) if hint > retry.max_retry_after => {
                    return Err(FileError::RateLimited { wait: hint });
                }
                Some(hint) => hint,
                None => retry.backoff(attempt),
            };
            if started.elapsed() + wait > retry.max_elapsed {
                return Err(error);
            }
            tracing::debug!(path = %file.path(), attempt, ?wait, %error, "retrying a file");
            self.progress.send_modify(|p| p.retries += 1);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One GET of a file, streamed to a temporary name beside the target and renamed when
    /// complete. A failed attempt leaves nothing under the target name.
    async fn fetch_once(
        &self,
        file: &TileFile,
        kind: &FileKind,
        target: &Path,
    ) -> Result<(ManifestEntry, References), AttemptError> {
        let mut response = self
            .http
            .get(file.url().clone())
            .send()
            .await
            .map_err(|e| AttemptError::Retry(FileError::Transport(describe(e)), None))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(AttemptError::Fatal(FileError::SignatureRejected {
                status: status.as_u16(),
            }));
        }
        if !status.is_success() {
            let error = FileError::Status {
                status: status.as_u16(),
            };
            let transient = status.is_server_error()
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT;
            return Err(if transient {
                AttemptError::Retry(error, retry_after(response.headers(), SystemTime::now()))
            } else {
                AttemptError::Fatal(error)
            });
        }
        let expected = response.content_length();

        // All file work (create, write, hash, journal, rename, read references) happens on one
        // blocking thread per file: one hand-off instead of one per file-system call.
        let (pieces, received_pieces) = tokio::sync::mpsc::channel(WRITER_QUEUE);
        let writer = FileWriter {
            temp: part_path(target),
            target: target.to_path_buf(),
            path: file.path().clone(),
            kind: kind.clone(),
            fsync: self.options.fsync,
            journal: self.journal.clone(),
        };
        let writing = tokio::task::spawn_blocking(move || writer.write(received_pieces));
        let mut size = 0u64;
        let received = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let length = chunk.len() as u64;
                    if pieces.send(Piece::Chunk(chunk)).await.is_err() {
                        // The writer stopped on an I/O error, which `writing` returns.
                        break Ok(());
                    }
                    size += length;
                    self.progress.send_modify(|p| p.bytes_done += length);
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(AttemptError::Retry(FileError::Transport(describe(e)), None)),
            }
        };
        let checked = match (received, expected) {
            (Ok(()), Some(expected)) if expected != size => Err(AttemptError::Retry(
                FileError::LengthMismatch {
                    expected,
                    received: size,
                },
                None,
            )),
            (result, _) => result,
        };
        if checked.is_ok() {
            // Fails only when the writer already stopped; its error is read below.
            let _ = pieces.send(Piece::Complete).await;
        }
        // Without `Complete`, the writer removes its temporary file.
        drop(pieces);
        let written = writing
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|result| result);
        match (checked, written) {
            (Ok(()), Ok(Some(done))) => {
                self.progress.send_modify(|p| p.bytes_downloaded += size);
                Ok(done)
            }
            (checked, written) => {
                self.progress
                    .send_modify(|p| p.bytes_done = p.bytes_done.saturating_sub(size));
                checked?;
                let error = written
                    .err()
                    .unwrap_or_else(|| std::io::Error::other("the file writer stopped early"));
                Err(AttemptError::Fatal(FileError::Io(error.to_string())))
            }
        }
    }
}

/// Chunks in flight between a response and its file writer, per file: with 8 files at a time
/// and chunks of up to tens of KiB, a few MiB at most.
const WRITER_QUEUE: usize = 16;

/// What a downloaded file names (`None` for a file that names nothing), as read from disk.
type References = Option<Result<Walked, WalkError>>;

/// What a response sends its file writer.
enum Piece {
    Chunk(bytes::Bytes),
    /// The body arrived whole and its length checked: keep the file.
    Complete,
}

/// Writes one file on a blocking thread: streamed to a temporary name, hashed on the way,
/// recorded in the journal, then renamed into place.
struct FileWriter {
    temp: PathBuf,
    target: PathBuf,
    path: TilePath,
    kind: FileKind,
    fsync: bool,
    journal: Arc<Mutex<Journal>>,
}

impl FileWriter {
    /// Writes the pieces until `Complete`; returns `None`, leaving nothing behind, when the
    /// sender goes away first (a failed or cancelled attempt).
    fn write(
        self,
        mut pieces: tokio::sync::mpsc::Receiver<Piece>,
    ) -> std::io::Result<Option<(ManifestEntry, References)>> {
        let result = self
            .write_temp(&mut pieces)
            .and_then(|written| match written {
                Some(entry) => self.commit(entry).map(Some),
                None => Ok(None),
            });
        if !matches!(result, Ok(Some(_))) {
            let _ = std::fs::remove_file(&self.temp);
        }
        result
    }

    fn write_temp(
        &self,
        pieces: &mut tokio::sync::mpsc::Receiver<Piece>,
    ) -> std::io::Result<Option<ManifestEntry>> {
        if let Some(parent) = self.temp.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.temp)?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        loop {
            match pieces.blocking_recv() {
                Some(Piece::Chunk(chunk)) => {
                    hasher.update(&chunk);
                    out.write_all(&chunk)?;
                    size += chunk.len() as u64;
                }
                Some(Piece::Complete) => break,
                None => return Ok(None),
            }
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        if self.fsync {
            file.sync_all()?;
        }
        Ok(Some(ManifestEntry {
            path: self.path.to_string(),
            size,
            sha256: hex::encode(hasher.finalize()),
        }))
    }

    /// Journal first, then rename: a file under its final name is always in the journal, and
    /// a journal entry whose file is missing or different is simply fetched again.
    fn commit(&self, entry: ManifestEntry) -> std::io::Result<(ManifestEntry, References)> {
        self.journal
            .lock()
            .map_err(|_| std::io::Error::other("journal lock poisoned"))?
            .append(&entry)?;
        std::fs::rename(&self.temp, &self.target)?;
        let references = self
            .kind
            .names_files()
            .then(|| read_references(&self.kind, &self.path, &self.target));
        Ok((entry, references))
    }
}

/// What a tileset, glTF or subtree file on disk names.
fn read_references(kind: &FileKind, path: &TilePath, file: &Path) -> Result<Walked, WalkError> {
    let reader = std::io::BufReader::new(std::fs::File::open(file)?);
    walk::read(kind, path, reader)
}

/// A fresh temporary name for a file to stream into: hidden, beside its target so the rename
/// stays on one file system, and unique, so a write still in flight from a cancelled attempt
/// can never land in another attempt's file.
fn part_path(target: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.{}-{n}{PART_SUFFIX}", std::process::id()))
}

/// Removes temporary files that interrupted runs left in `dirs`.
fn remove_stale_parts<'a>(dirs: impl Iterator<Item = &'a Path>) {
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().ends_with(PART_SUFFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// A transport error's message with its causes, without the (signed) URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = part_path(path);
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)
}

/// Files recorded complete by earlier runs into `dir` from the same `source`: the manifest,
/// then the journal of an interrupted run. Unreadable records are ignored (the files are then
/// fetched again), never trusted.
fn previous_entries(dir: &Path, source: &str) -> HashMap<String, ManifestEntry> {
    let mut known = HashMap::new();
    match Manifest::read(dir) {
        Ok(Some(manifest)) if manifest.source == source => {
            for entry in manifest.files {
                known.insert(entry.path.clone(), entry);
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "ignoring an unreadable manifest"),
    }
    if let Ok(file) = std::fs::File::open(dir.join(JOURNAL_FILE)) {
        let mut lines = std::io::BufReader::new(file).lines();
        let header: Option<JournalHeader> = lines
            .next()
            .and_then(Result::ok)
            .and_then(|l| serde_json::from_str(&l).ok());
        if header.is_some_and(|h| h.source == source) {
            for line in lines.map_while(Result::ok) {
                // A torn last line from a kill is skipped.
                if let Ok(entry) = serde_json::from_str::<ManifestEntry>(&line) {
                    known.insert(entry.path.clone(), entry);
                }
            }
        }
    }
    known.retain(|path, _| TilePath::parse(path).is_some());
    known
}

#[derive(Serialize, Deserialize)]
struct JournalHeader {
    source: String,
}

/// An append-only record of files completed by the running download, so a killed run can
/// resume: one JSON object a line after a header naming the source.
struct Journal {
    file: std::fs::File,
}

impl Journal {
    /// Starts a journal that carries the entries already known.
    fn start<'a>(
        dir: &Path,
        source: &str,
        known: impl Iterator<Item = &'a ManifestEntry>,
    ) -> std::io::Result<Journal> {
        let mut text = serde_json::to_string(&JournalHeader {
            source: source.to_owned(),
        })?;
        text.push('\n');
        for entry in known {
            text.push_str(&serde_json::to_string(entry)?);
            text.push('\n');
        }
        let path = dir.join(JOURNAL_FILE);
        write_atomically(&path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new().append(true).open(&path)?;
        Ok(Journal { file })
    }

    fn append(&mut self, entry: &ManifestEntry) -> std::io::Result<()> {
        let mut line = serde_json::to_string(entry)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())
    }
}
