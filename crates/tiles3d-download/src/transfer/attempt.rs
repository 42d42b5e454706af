//! One attempt at one file: the GET (continuing a part file with `Range`), the response's
//! status and the span of the file it covers, the body handed to its writer, and what the
//! attempt ended with.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header;
use reqwest::{Method, StatusCode};

use super::body::Delivery;
use super::fetcher::Fetcher;
use super::response::{BlobFetch, Encoding, content_range, encoding, transport, validator};
use crate::errors::FileError;
use crate::limit::Outcome;
use crate::options::Progress;
use crate::store::manifest::ManifestEntry;
use crate::store::writer::{FileWriter, GzipBound, References, WriteFailure, Written};
use crate::url::TileFile;
use http_policy::retry::{ClassifyRetry, Verdict};
use tiles3d::walk::FileKind;

/// Fetches of a file that arrived whole but failed its check, before it fails for good.
const MALFORMED_FETCHES: u32 = 1;

/// A file that arrived: its record, what it names, and the bytes received for it.
pub(crate) struct Arrived {
    pub(crate) entry: ManifestEntry,
    /// The worst sign of load its attempts met.
    pub(crate) load: Outcome,
    pub(crate) references: References,
    /// Bytes received over the network, as sent (gzip before decoding).
    pub(crate) received: u64,
}

/// Why one attempt failed, and whether another may follow.
pub(super) enum AttemptError {
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

/// The part file of one file across its attempts: kept when a transfer breaks, so the next
/// attempt asks only for the rest.
pub(super) struct Part {
    pub(super) path: PathBuf,
    /// Bytes in it that the next attempt may continue from.
    pub(super) len: u64,
    /// The validator (`ETag`, else `Last-Modified`) of the response that wrote them, sent as
    /// `If-Range` so a changed blob comes back whole.
    validator: Option<String>,
    /// Whether the bytes may be continued: not for a decoded (gzip) body.
    resumable: bool,
    /// The size the server announced for the whole file.
    total: Option<u64>,
    /// Attempts whose body arrived whole but failed its check.
    malformed: u32,
    /// The worst sign of load the attempts met.
    pub(super) load: Outcome,
}

impl Part {
    /// The state before the first attempt: nothing to continue.
    pub(super) fn new(path: PathBuf) -> Self {
        Part {
            path,
            len: 0,
            validator: None,
            resumable: false,
            total: None,
            malformed: 0,
            load: Outcome::Ok,
        }
    }
}

/// What a response holds of the file: where it starts, how long the whole file is, and
/// whether it comes gzip-encoded.
struct Span {
    offset: u64,
    total: Option<u64>,
    gzip: bool,
}

impl Fetcher {
    /// One GET of a file, written (whole, or streamed into its part file) and named once
    /// complete and checked.
    ///
    /// All file work happens on a blocking thread: one hand-off instead of one per
    /// file-system call, and none on the async workers.
    pub(super) async fn fetch_once(
        &self,
        file: &TileFile,
        kind: &FileKind,
        part: &mut Part,
    ) -> Result<Arrived, AttemptError> {
        let (mut response, resume_from) = self.send(file, part).await?;
        let span = accept_span(&response, resume_from, part)?;
        let mut body = Delivery::new(FileWriter {
            dir: self.dir.clone(),
            part: part.path.clone(),
            path: file.path().clone(),
            kind: kind.clone(),
            resume_from: span.offset,
            gzip: span.gzip,
            gzip_bound: GzipBound {
                max_decoded_bytes: self.options.max_decoded_bytes,
                max_expansion: self.options.max_expansion,
            },
            fsync: self.options.fsync,
            journal: self.journal.clone(),
            created_dirs: self.created_dirs.clone(),
            limits: self.read_limits(),
        });
        let received = self.receive(&mut response, &mut body).await;
        let counted = body.received();
        let checked = check_length(received, span.total, span.offset + counted, part);
        // Whatever arrived is written, complete or not: a broken transfer leaves its part for
        // the next attempt's `Range` request.
        let written = body.finish(checked.is_ok(), &self.write_threads).await;
        self.settle(checked, written, (span.offset, counted), part)
    }

    /// Sends the GET, continuing the part file when it may be, and judges the status.
    /// Returns the response and the offset it was asked to start from.
    async fn send(
        &self,
        file: &TileFile,
        part: &mut Part,
    ) -> Result<(reqwest::Response, u64), AttemptError> {
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
        let response = match tokio::time::timeout(idle, request.send()).await {
            Err(_) => return Err(idle_error(idle)),
            Ok(sent) => sent.map_err(transport_failure)?,
        };
        check_status(&response, resume_from, part)?;
        Ok((response, resume_from))
    }

    /// Receives the body into `body` until it ends, breaks off, stalls or its writer stops.
    async fn receive(
        &self,
        response: &mut reqwest::Response,
        body: &mut Delivery,
    ) -> Result<(), AttemptError> {
        let idle = self.options.idle_timeout;
        loop {
            match tokio::time::timeout(idle, response.chunk()).await {
                Err(_) => return Err(idle_error(idle)),
                Ok(Ok(Some(chunk))) => {
                    let length = chunk.len() as u64;
                    if !body.push(chunk).await {
                        // The writer stopped on an error, which `finish` returns.
                        return Err(AttemptError::Fatal(FileError::Write(String::new())));
                    }
                    self.progress.send_modify(|p| p.bytes_done += length);
                }
                Ok(Ok(None)) => return Ok(()),
                Ok(Err(e)) => return Err(transport_failure(e)),
            }
        }
    }

    /// What the attempt ended with, from what was received (`checked`) and what the writer
    /// made of it; `received` is the bytes of earlier attempts this one continued and the
    /// bytes it `counted` itself, which the progress keeps only for a file that arrived.
    fn settle(
        &self,
        checked: Result<(), AttemptError>,
        written: Result<Written, WriteFailure>,
        (continued, counted): (u64, u64),
        part: &mut Part,
    ) -> Result<Arrived, AttemptError> {
        // The bytes of earlier attempts this one continued came over the network too.
        let received = continued + counted;
        let uncount = |p: &mut Progress| p.bytes_done = p.bytes_done.saturating_sub(counted);
        match (checked, written) {
            (Ok(()), Ok(Written::Done(entry, references))) => {
                self.progress.send_modify(|p| {
                    p.bytes_downloaded += received;
                    // The file's size on disk, less what this attempt counted as it came.
                    p.bytes_done += entry.size.saturating_sub(counted);
                });
                Ok(Arrived {
                    entry,
                    load: part.load,
                    references,
                    received,
                })
            }
            (_, Err(WriteFailure::Bound(error))) => {
                self.progress.send_modify(uncount);
                Err(AttemptError::Fatal(error))
            }
            (_, Err(WriteFailure::Io(error))) => {
                self.progress.send_modify(uncount);
                Err(AttemptError::Fatal(FileError::Write(error.to_string())))
            }
            (checked, Err(WriteFailure::Content(error))) => {
                self.progress.send_modify(uncount);
                // Content that fails its check is fetched again from the start.
                part.resumable = false;
                if checked.is_ok() {
                    // It arrived whole: once more for a page that was in the way (a captive
                    // portal), then it is what the server has, and no back-off changes that.
                    part.malformed += 1;
                    if part.malformed > MALFORMED_FETCHES {
                        return Err(AttemptError::Fatal(error));
                    }
                }
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

/// Whether a response's status lets the attempt go on: a refused signature is for the
/// scheduler, a range that does not fit the part starts the file afresh, other errors are
/// judged by the blob classifier.
fn check_status(
    response: &reqwest::Response,
    resume_from: u64,
    part: &mut Part,
) -> Result<(), AttemptError> {
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
    if status.is_success() {
        return Ok(());
    }
    let error = FileError::Status {
        status: status.as_u16(),
    };
    Err(
        match BlobFetch.classify_status(&Method::GET, status, response.headers()) {
            Verdict::Retry { reason, hint } => AttemptError::Retry {
                error,
                reason,
                hint,
            },
            Verdict::Final => AttemptError::Fatal(error),
        },
    )
}

/// The span of the file a successful response holds, checked against what the part file
/// continues; records in `part` what a later attempt may continue from.
fn accept_span(
    response: &reqwest::Response,
    resume_from: u64,
    part: &mut Part,
) -> Result<Span, AttemptError> {
    let gzip = match encoding(response.headers()) {
        Encoding::Identity => false,
        Encoding::Gzip => true,
        Encoding::Other(other) => {
            return Err(AttemptError::Fatal(FileError::UnsupportedEncoding(
                http_policy::redact::quote(&other),
            )));
        }
    };
    let (offset, total) = if response.status() == StatusCode::PARTIAL_CONTENT {
        match content_range(response.headers()) {
            // From where the part file ends, or from 0 when nothing was asked for: the
            // length check holds either to the total.
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
    Ok(Span {
        offset,
        total,
        gzip,
    })
}

/// The received body held to the length the response announced: `size` bytes of the file
/// arrived in all (this attempt's and those it continued).
fn check_length(
    received: Result<(), AttemptError>,
    total: Option<u64>,
    size: u64,
    part: &mut Part,
) -> Result<(), AttemptError> {
    match (received, total) {
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
