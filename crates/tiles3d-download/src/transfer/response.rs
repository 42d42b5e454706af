//! Reading a blob store's response: which statuses and transport failures may be retried,
//! the body's encoding, the range it covers, and the validator that lets a later `Range`
//! request continue it.

use reqwest::header::{self, HeaderMap};

use http_policy::redact::{cause_chain, quote};

use crate::errors::FileError;

pub(super) enum Encoding {
    Identity,
    Gzip,
    Other(String),
}

pub(super) fn encoding(headers: &HeaderMap) -> Encoding {
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
pub(super) fn content_range(headers: &HeaderMap) -> Option<(u64, u64)> {
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

pub(super) fn validator(headers: &HeaderMap) -> Option<String> {
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
pub(super) fn transport(error: reqwest::Error) -> FileError {
    FileError::Transport(quote(&cause_chain(&error.without_url())))
}

/// The classifier of blob `GET`s by signed URL: a GET of an immutable blob is harmless to
/// repeat, and Azure Storage and S3 document `InternalError` and `OperationTimedOut` as
/// transient and ask clients to retry, so a 408, 429 or any 5xx and any transport failure may
/// be repeated.
pub(super) use http_policy::retry::RepeatableRequest as BlobFetch;
