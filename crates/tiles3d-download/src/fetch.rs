//! Fetching one file: GET attempts with retries, a `Range` request that continues a broken
//! transfer, an idle timeout per read, and the hand-off of the body to its blocking writer.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cap_std::fs::Dir;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use tokio::sync::{mpsc, watch};

use crate::errors::FileError;
use crate::options::{DownloadOptions, Progress};
use crate::store::manifest::{Journal, ManifestEntry};
use crate::store::output::part_path;
use crate::store::write_threads::WriteThreads;
use crate::store::writer::{CreatedDirs, FileWriter, Piece, References, WriteFailure, Written};
use crate::url::TileFile;
use http_policy::retry::{self, ClassifyRetry, Ended, Verdict};
use tiles3d::walk::FileKind;

/// Chunks in flight between a response and its file writer, per file: with 8 files at a time
/// and chunks of up to tens of KiB, a few MiB at most.
const WRITER_QUEUE: usize = 16;

/// Bytes of a body held in memory before its writer starts: a file below this size is handed
/// to its blocking writer whole (see [`HeldBody`]). No more is held, so with 8 files at a time
/// about 8 MiB (plus a `.glb` head of up to 1 MiB each in the writers).
const BUFFERED_BODY: usize = 1024 * 1024;

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

/// Why one attempt failed, and whether another may follow.
enum AttemptError {
    /// Another attempt may fix it: `reason` says why, for the log; `hint` is the server's
    /// `Retry-After`.
    Retry {
        error: FileError,
        reason: &'static str,
        hint: Option<Duration>,
    },
    /// No attempt would.
    Fatal(FileError),
}

impl AttemptError {
    /// A retryable failure the client found itself (no server hint).
    fn retry(error: FileError, reason: &'static str) -> Self {
        AttemptError::Retry {
            error,
            reason,
            hint: None,
        }
    }
}

/// The part-file state, out of its slot for one attempt.
fn take(slot: &Mutex<Option<Part>>) -> Part {
    slot.lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .expect("attempts run one at a time and put the part state back")
}

/// The part file of one file across its attempts: kept when a transfer breaks, so the next
/// attempt asks only for the rest.
struct Part {
    path: PathBuf,
    /// Bytes in it that the next attempt may continue from.
    len: u64,
    /// The validator (`ETag`, else `Last-Modified`) of the response that wrote them, sent as
    /// `If-Range` so a changed blob comes back whole.
    validator: Option<String>,
    /// Whether the bytes may be continued: not for a decoded (gzip) body.
    resumable: bool,
    /// The size the server announced for the whole file.
    total: Option<u64>,
}

impl Fetcher {
    /// Fetches `file` with retries; on failure nothing is left under its name or beside it.
    ///
    /// The retries are the crate's one loop ([`retry::run`]) with the blob classifier: what
    /// an attempt found retryable (a transient status, a broken or stalled transfer, content
    /// that failed its check) comes back as a verdict, and the strategy decides when.
    pub(crate) async fn fetch_with_retries(
        &self,
        file: &TileFile,
        kind: &FileKind,
    ) -> Result<(ManifestEntry, References), FileError> {
        // The part file's state passes from one attempt to the next: each attempt takes it out
        // and puts it back, so no lock is held across an await.
        let part = Mutex::new(Some(Part {
            path: part_path(&file.path().relative()),
            len: 0,
            validator: None,
            resumable: false,
            total: None,
        }));
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

    /// One GET of a file, written (whole, or streamed into its part file) and named once
    /// complete and checked.
    async fn fetch_once(
        &self,
        file: &TileFile,
        kind: &FileKind,
        part: &mut Part,
    ) -> Result<(ManifestEntry, References), AttemptError> {
        let idle = self.options.idle_timeout;
        let mut request = self
            .http
            .get(file.url().clone())
            // Ranges and lengths then refer to the bytes stored; a server that encodes anyway
            // (a blob stored with `Content-Encoding: gzip`) is decoded below.
            .header(header::ACCEPT_ENCODING, "identity");
        let resume_from = if part.resumable && part.len > 0 {
            request = request.header(header::RANGE, format!("bytes={}-", part.len));
            if let Some(validator) = &part.validator {
                request = request.header(header::IF_RANGE, validator);
            }
            part.len
        } else {
            0
        };
        let mut response = match tokio::time::timeout(idle, request.send()).await {
            Err(_) => return Err(idle_error(idle)),
            Ok(sent) => sent.map_err(transport_failure)?,
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(AttemptError::Fatal(FileError::SignatureRejected {
                status: status.as_u16(),
            }));
        }
        if status == StatusCode::RANGE_NOT_SATISFIABLE && resume_from > 0 {
            // The blob is not what the part file continues: fetch it whole.
            part.resumable = false;
            return Err(AttemptError::retry(
                FileError::Status { status: 416 },
                "the stored part does not fit the blob",
            ));
        }
        if !status.is_success() {
            let error = FileError::Status {
                status: status.as_u16(),
            };
            return Err(
                match BlobFetch.classify_status(&Method::GET, status, response.headers()) {
                    Verdict::Retry { reason, hint } => AttemptError::Retry {
                        error,
                        reason,
                        hint,
                    },
                    Verdict::Final => AttemptError::Fatal(error),
                },
            );
        }
        let gzip = match encoding(response.headers()) {
            Encoding::Identity => false,
            Encoding::Gzip => true,
            Encoding::Other(other) => {
                return Err(AttemptError::Fatal(FileError::UnsupportedEncoding(other)));
            }
        };
        let (offset, total) = if status == StatusCode::PARTIAL_CONTENT {
            match content_range(response.headers()) {
                // From where the part file ends, or from 0 when nothing was asked for: the
                // length check below holds either to the total.
                Some((start, total)) if start == resume_from => (start, Some(total)),
                _ => {
                    // Not where the part file ends.
                    part.resumable = false;
                    return Err(AttemptError::retry(
                        FileError::Transport("the server sent an unexpected range".to_owned()),
                        "unexpected range",
                    ));
                }
            }
        } else {
            (0, response.content_length())
        };
        if offset == 0 {
            part.validator = validator(response.headers());
            part.total = total;
        } else if part.total.is_some_and(|t| Some(t) != total) {
            part.resumable = false;
            return Err(AttemptError::retry(
                FileError::Transport("the file changed size between attempts".to_owned()),
                "changed size",
            ));
        }
        // Only an identity body with a known size can be continued by a later range.
        part.resumable = !gzip && total.is_some();
        part.len = offset;

        // All file work happens on one blocking thread per attempt: one hand-off instead of
        // one per file-system call, and none on the async workers. The writer starts when the
        // body is complete or passes BUFFERED_BODY, so a small file (most tiles) reaches it in
        // one piece, without a wake-up per chunk, on one of the download's write threads; a
        // larger one is streamed to a blocking thread of its own, which waits for its chunks.
        let writer = FileWriter {
            dir: self.dir.clone(),
            part: part.path.clone(),
            path: file.path().clone(),
            kind: kind.clone(),
            resume_from: offset,
            gzip,
            fsync: self.options.fsync,
            journal: self.journal.clone(),
            created_dirs: self.created_dirs.clone(),
        };
        let start = |writer: FileWriter| {
            let (pieces, received_pieces) = mpsc::channel(WRITER_QUEUE);
            let writing = tokio::task::spawn_blocking(move || writer.write(received_pieces));
            (pieces, writing)
        };
        let mut pending = HeldBody::default();
        let mut writer = Some(writer);
        let mut started: Option<(mpsc::Sender<Piece>, _)> = None;
        let mut size = offset;
        let mut counted = 0u64;
        let received = loop {
            match tokio::time::timeout(idle, response.chunk()).await {
                Err(_) => break Err(idle_error(idle)),
                Ok(Ok(Some(chunk))) => {
                    let length = chunk.len() as u64;
                    let handed_over = match &started {
                        Some((pieces, _)) => pieces.send(Piece::Chunk(chunk)).await.is_ok(),
                        None if pending.len() + chunk.len() < BUFFERED_BODY => {
                            pending.push(chunk);
                            true
                        }
                        None => {
                            // The body outgrows the buffer: stream it from here on.
                            let (pieces, writing) =
                                start(writer.take().expect("the writer starts once"));
                            let sent =
                                hand_over(&pieces, pending.take().into_iter().chain([chunk])).await;
                            started = Some((pieces, writing));
                            sent
                        }
                    };
                    if !handed_over {
                        // The writer stopped on an error, which `writing` returns.
                        break Err(AttemptError::Fatal(FileError::Write(String::new())));
                    }
                    size += length;
                    counted += length;
                    self.progress.send_modify(|p| p.bytes_done += length);
                }
                Ok(Ok(None)) => break Ok(()),
                Ok(Err(e)) => break Err(transport_failure(e)),
            }
        };
        let checked = match (received, total) {
            (Ok(()), Some(expected)) if expected != size => {
                if size > expected {
                    part.resumable = false;
                }
                Err(AttemptError::retry(
                    FileError::LengthMismatch {
                        expected,
                        received: size,
                    },
                    "length mismatch",
                ))
            }
            (result, _) => result,
        };
        // Whatever arrived is written, complete or not: a broken transfer leaves its part for
        // the next attempt's `Range` request.
        let written = match started {
            Some((pieces, writing)) => {
                if checked.is_ok() {
                    // Fails only when the writer already stopped; its error is read below.
                    let _ = pieces.send(Piece::Complete).await;
                }
                // Without a sender the writer stops at the end of what it has: a broken
                // transfer leaves its part.
                drop(pieces);
                writing.await.ok()
            }
            None if checked.is_ok() => {
                let writer = writer.take().expect("the writer starts once");
                let body = pending.take();
                self.write_threads
                    .run(move || writer.write_whole(body))
                    .await
            }
            None => {
                let (pieces, writing) = start(writer.take().expect("the writer starts once"));
                // Fails only when the writer already stopped; its error is read below.
                hand_over(&pieces, pending.take()).await;
                drop(pieces);
                writing.await.ok()
            }
        };
        let written = written.unwrap_or_else(|| {
            Err(WriteFailure::Io(std::io::Error::other(
                "the file writer stopped without an answer (it panicked)",
            )))
        });
        let uncount = |p: &mut Progress| p.bytes_done = p.bytes_done.saturating_sub(counted);
        match (checked, written) {
            (Ok(()), Ok(Written::Done(entry, references))) => {
                self.progress.send_modify(|p| {
                    p.bytes_downloaded += counted;
                    // Bytes of earlier attempts that this one continued.
                    p.bytes_done += entry.size.saturating_sub(counted);
                });
                Ok((entry, references))
            }
            (_, Err(WriteFailure::Io(error))) => {
                self.progress.send_modify(uncount);
                Err(AttemptError::Fatal(FileError::Write(error.to_string())))
            }
            (_, Err(WriteFailure::Content(error))) => {
                self.progress.send_modify(uncount);
                // Content that fails its check is fetched again from the start.
                part.resumable = false;
                Err(AttemptError::retry(error, "content failed its check"))
            }
            (checked, Ok(Written::Partial { len })) => {
                self.progress.send_modify(uncount);
                part.len = len;
                checked?;
                Err(AttemptError::retry(
                    FileError::Transport("the file writer stopped early".to_owned()),
                    "writer stopped early",
                ))
            }
            (Err(error), Ok(Written::Done(..))) => Err(error),
        }
    }
}

fn idle_error(idle: Duration) -> AttemptError {
    AttemptError::retry(
        FileError::Transport(format!("no data for {idle:?}")),
        "idle timeout",
    )
}

/// A transport failure, judged by the blob classifier.
fn transport_failure(error: reqwest::Error) -> AttemptError {
    match BlobFetch.classify_transport(&Method::GET, &error) {
        Verdict::Retry { reason, hint } => AttemptError::Retry {
            error: transport(error),
            reason,
            hint,
        },
        Verdict::Final => AttemptError::Fatal(transport(error)),
    }
}

enum Encoding {
    Identity,
    Gzip,
    Other(String),
}

fn encoding(headers: &HeaderMap) -> Encoding {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Encoding::Identity;
    };
    let value = value.to_str().unwrap_or("?").trim().to_ascii_lowercase();
    match value.as_str() {
        "" | "identity" => Encoding::Identity,
        "gzip" | "x-gzip" => Encoding::Gzip,
        _ => Encoding::Other(value),
    }
}

/// `Content-Range: bytes START-END/TOTAL` as (START, TOTAL); `None` for anything else.
fn content_range(headers: &HeaderMap) -> Option<(u64, u64)> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    let (span, total) = range.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let (start, end, total): (u64, u64, u64) = (
        start.trim().parse().ok()?,
        end.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (start <= end && end < total).then_some((start, total))
}

fn validator(headers: &HeaderMap) -> Option<String> {
    let strong_etag = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .filter(|etag| !etag.starts_with("W/"));
    strong_etag
        .or_else(|| {
            headers
                .get(header::LAST_MODIFIED)
                .and_then(|v| v.to_str().ok())
        })
        .map(str::to_owned)
}

/// A transport error's message with its causes, without the (signed) URL.
fn transport(error: reqwest::Error) -> FileError {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    FileError::Transport(message)
}

/// Sends `chunks` to a file's writer in order; false when the writer stopped (its error is
/// what the writer returns), and the rest is not sent.
async fn hand_over(pieces: &mpsc::Sender<Piece>, chunks: impl IntoIterator<Item = Bytes>) -> bool {
    for chunk in chunks {
        if pieces.send(Piece::Chunk(chunk)).await.is_err() {
            return false;
        }
    }
    true
}

/// Chunks below this size are copied together, so that a body in many tiny chunks is held as
/// a few buffers, not as a slice of each network read (which keeps that read's buffer alive).
const SMALL_CHUNK: usize = 8 * 1024;

/// A body held in memory before its writer starts: its chunks as they arrived when they are
/// large (no copy), small ones copied together. Memory stays near the body's length whatever
/// the chunk sizes.
#[derive(Default)]
struct HeldBody {
    chunks: Vec<Bytes>,
    small: BytesMut,
    len: usize,
}

impl HeldBody {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        if chunk.len() < SMALL_CHUNK {
            self.small.extend_from_slice(&chunk);
            if self.small.len() >= SMALL_CHUNK {
                self.chunks.push(self.small.split().freeze());
            }
        } else {
            if !self.small.is_empty() {
                self.chunks.push(self.small.split().freeze());
            }
            self.chunks.push(chunk);
        }
    }

    /// The chunks in order, leaving nothing held.
    fn take(&mut self) -> Vec<Bytes> {
        if !self.small.is_empty() {
            self.chunks.push(self.small.split().freeze());
        }
        self.len = 0;
        std::mem::take(&mut self.chunks)
    }
}

/// The classifier of blob `GET`s by signed URL: a 408, 429 or any 5xx and any transport
/// failure may be repeated. Azure Storage and S3 document `InternalError` and
/// `OperationTimedOut` as transient and ask clients to retry, and a GET of an immutable blob is
/// harmless to repeat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BlobFetch;

impl ClassifyRetry for BlobFetch {
    fn classify_status(&self, _: &Method, status: StatusCode, headers: &HeaderMap) -> Verdict {
        match status.as_u16() {
            429 => Verdict::retry_hinted("rate limited", headers),
            408 | 500..=599 => Verdict::retry_hinted("server error", headers),
            _ => Verdict::Final,
        }
    }

    fn classify_transport(&self, _: &Method, error: &reqwest::Error) -> Verdict {
        Verdict::after_transport(error, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_in_tiny_chunks_is_held_in_a_few_buffers_and_keeps_no_read_alive() {
        let read = Bytes::from((0..100_000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let mut held = HeldBody::default();
        for i in 0..read.len() {
            held.push(read.slice(i..i + 1));
            held.push(Bytes::new());
        }
        assert_eq!(held.len(), read.len());
        let chunks = held.take();
        assert!(
            chunks.len() <= read.len() / SMALL_CHUNK + 1,
            "{} buffers for {} bytes",
            chunks.len(),
            read.len()
        );
        assert!(read.is_unique(), "a held chunk still points into the read");
        assert_eq!(chunks.concat(), read);
        assert_eq!(held.len(), 0);
    }

    #[test]
    fn large_chunks_are_held_as_they_came_and_small_ones_between_them_in_order() {
        let large = Bytes::from(vec![7u8; SMALL_CHUNK]);
        let mut held = HeldBody::default();
        held.push(Bytes::from_static(b"ab"));
        held.push(large.clone());
        held.push(Bytes::from_static(b"c"));
        let chunks = held.take();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[1].as_ptr(), large.as_ptr(), "copied");
        let expected = [&b"ab"[..], &large[..], b"c"].concat();
        assert_eq!(chunks.concat(), expected);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn content_ranges_are_read_strictly() {
        let range = |v: &str| content_range(&headers(&[("content-range", v)]));
        assert_eq!(range("bytes 100-199/200"), Some((100, 200)));
        assert_eq!(range("bytes 100-199/*"), None);
        assert_eq!(range("bytes 100-200/200"), None);
        assert_eq!(range("bytes 5-1/200"), None);
        assert_eq!(range("items 1-2/3"), None);
    }

    #[test]
    fn only_gzip_is_decoded_and_weak_etags_are_not_validators() {
        assert!(matches!(encoding(&headers(&[])), Encoding::Identity));
        assert!(matches!(
            encoding(&headers(&[("content-encoding", "GZIP")])),
            Encoding::Gzip
        ));
        assert!(matches!(
            encoding(&headers(&[("content-encoding", "br")])),
            Encoding::Other(e) if e == "br"
        ));
        assert_eq!(validator(&headers(&[("etag", "W/\"x\"")])), None);
        assert_eq!(
            validator(&headers(&[("etag", "\"x\"")])).as_deref(),
            Some("\"x\"")
        );
    }
}
