//! Why a file, or a whole download, failed. No message holds a signed URL, and what a message
//! quotes of a file or a response (a URI, a template, a parser's complaint) is built through
//! [`quote`]: redacted and capped. The reader (`tiles3d`) has no redactor and reports what it
//! read as written; this is the boundary where its texts become messages.

use std::path::PathBuf;
use std::time::Duration;

use http_policy::redact::quote;
use tiles3d::TilePath;
use tiles3d::walk::WalkError;

use crate::options::DownloadSummary;
use crate::url::{Refused, TilesetUrlError};

/// A file that could not be downloaded, or whose content could not be interpreted.
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
    /// The blob store refuses this file (401 or 403) while it accepts the same signature for
    /// other files started after the refusal: sent again, with a fresh signature where one
    /// could be had, it was refused again. S3 and CloudFront answer 403 for a key that does
    /// not exist.
    #[error(
        "the store refuses this file (HTTP {status}) while it accepts the signature for the \
         others: it may be missing (S3 and CloudFront answer 403 for a missing key) or not \
         readable with this link"
    )]
    Forbidden {
        /// The HTTP status.
        status: u16,
    },
    /// A `Retry-After` longer than the retry options allow.
    #[error("the server asked to wait {wait:?}, longer than the retry options allow")]
    RateLimited {
        /// The wait the server asked for.
        wait: Duration,
    },
    /// The connection failed, broke off, or sent nothing for longer than the idle timeout.
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
    /// Writing the file to disk failed (disk full, name too long, a file where a directory
    /// should be). Not retried: another attempt would fail the same way.
    #[error("could not write it to disk: {0}")]
    Write(String),
    /// The body is not what the file's type says: a `.glb` without a valid binary glTF header,
    /// a `.json`/`.gltf` that is not a JSON object (a captive portal's HTML page, an error
    /// page). It was not kept.
    #[error("the body is not a valid {kind}: {reason}")]
    Corrupt {
        /// The file type expected (`binary glTF`, `JSON`).
        kind: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A gzip body decoded past [`DownloadOptions::max_decoded_bytes`] or expanded past
    /// [`DownloadOptions::max_expansion`]: a decompression bomb, or a file larger than
    /// allowed. Not kept, and not fetched again.
    ///
    /// [`DownloadOptions::max_decoded_bytes`]: crate::DownloadOptions::max_decoded_bytes
    /// [`DownloadOptions::max_expansion`]: crate::DownloadOptions::max_expansion
    #[error("its gzip body {reason}")]
    GzipBound {
        /// Which bound it passed, and how to raise it.
        reason: String,
    },
    /// The server sent the body with a `Content-Encoding` this downloader cannot decode.
    #[error("the body has Content-Encoding `{0}`, which this downloader cannot decode")]
    UnsupportedEncoding(String),
    /// The file was not fetched because the download stopped early (after a write error).
    #[error("not attempted: {0}")]
    NotAttempted(String),
    /// The tileset names the file, but the container's listing does not have it: it is
    /// missing from the store (or the listing is not the container's).
    #[error("the container's listing does not have this file")]
    NotListed,
    /// The file downloaded, but is not a readable tileset, so what it names is unknown.
    #[error("not a readable tileset: {0}")]
    NotATileset(String),
    /// The file downloaded, but the walker could not read what it names (a glTF whose JSON
    /// cannot be read), so files may be missing.
    #[error("what it names could not be read: {0}")]
    Uninterpretable(String),
    /// The file names more files than the download may still take on: it stopped at
    /// [`DownloadOptions::max_files`](crate::DownloadOptions::max_files).
    #[error(
        "it names {named} more file(s), past the {max_files} files a download may name; raise \
         DownloadOptions::max_files to download this tileset"
    )]
    TooManyFiles {
        /// The files it names (at least; counting may stop early).
        named: u64,
        /// The bound.
        max_files: u64,
    },
    /// The file's JSON nests deeper than
    /// [`DownloadOptions::max_json_depth`](crate::DownloadOptions::max_json_depth), so what it
    /// names was not read.
    #[error(
        "its JSON nests deeper than {limit} arrays and objects; raise \
         DownloadOptions::max_json_depth to read it"
    )]
    TooDeep {
        /// The bound.
        limit: u32,
    },
    /// The file names files in a way the walk cannot interpret (an unknown template variable,
    /// a malformed implicit tiling or subtree, a subtree as a `data:` URI), so they were not
    /// fetched.
    #[error("cannot interpret `{uri}`: {reason}")]
    Unsupported {
        /// The template, URI or file that cannot be interpreted.
        uri: String,
        /// Why.
        reason: String,
    },
}

impl FileError {
    /// A file that names files in a way the walk cannot interpret: `uri` and `reason` quote the
    /// file, so they are [`quote`]d.
    pub(crate) fn unsupported(uri: &str, reason: &str) -> Self {
        FileError::Unsupported {
            uri: quote(uri),
            reason: quote(reason),
        }
    }

    /// What the walk of the file at `path` could not interpret, as a failure of that file.
    pub(crate) fn uninterpretable_part(path: &TilePath, error: WalkError) -> Self {
        match error {
            WalkError::Unsupported { uri, reason } => FileError::unsupported(&uri, &reason),
            other => FileError::unsupported(path.as_str(), &other.to_string()),
        }
    }

    /// A body that is not what its type says; `reason` may quote the body.
    pub(crate) fn corrupt(kind: &'static str, reason: &str) -> Self {
        FileError::Corrupt {
            kind,
            reason: quote(reason),
        }
    }
}

impl From<tiles3d::content::ContentError> for FileError {
    fn from(e: tiles3d::content::ContentError) -> Self {
        FileError::corrupt(e.kind, &e.reason)
    }
}

/// Why a download did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The blob store refused the URL's signature: it has expired (they last about an hour) or
    /// is not valid, and no fresh one could be had (or the re-sign budget is spent): no file
    /// started after the refusal arrived, or none had arrived at all. Complete files are kept
    /// and `manifest.json` records them and what is missing; a new run with a fresh URL
    /// resumes. A refusal of some paths only is [`FileError::Forbidden`] instead.
    #[error(
        "the tileset URL's signature has expired or is not valid (HTTP {status} for `{path}`); \
         get a freshly signed URL and run again: complete files are kept, and manifest.json lists \
         what arrived and what is missing"
    )]
    SignatureRejected {
        /// The HTTP status (401 or 403).
        status: u16,
        /// The file whose request was refused.
        path: TilePath,
    },
    /// Some files could not be downloaded, or the tileset names files that were not followed
    /// (refused URIs) or could not be read; the rest are complete and recorded in the
    /// manifest, which says `complete: false`.
    #[error(
        "the download is incomplete: {} file(s) failed and {} URI(s) were refused{}",
        .failures.len(),
        .summary.refused.len(),
        first_reason(.failures, &.summary.refused)
    )]
    Incomplete {
        /// The files that failed and why.
        failures: Vec<FileFailure>,
        /// What was done, including the refused URIs.
        summary: Box<DownloadSummary>,
    },
    /// Another download is running into the same directory.
    #[error(
        "another download is running into `{}`: wait for it to finish (two runs in one \
         directory would delete each other's temporary files)",
        .dir.display()
    )]
    Locked {
        /// The output directory.
        dir: PathBuf,
    },
    /// The export has no usable tileset URL (it is not `Complete`, or its link is invalid).
    #[error(transparent)]
    Url(#[from] TilesetUrlError),
    /// The output directory or manifest could not be written.
    #[error("cannot write `{}`: {source}", .path.display())]
    Output {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn first_reason(failures: &[FileFailure], refused: &[Refused]) -> String {
    // A write error explains the rest: name it first.
    let first = failures
        .iter()
        .find(|f| matches!(f.error, FileError::Write(_)))
        .or(failures.first());
    match (first, refused.first()) {
        (Some(failure), _) => format!("; first: {failure}"),
        (None, Some(refused)) => format!("; first: {refused}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_walk_cannot_interpret_is_shown_redacted_and_capped() {
        let path = TilePath::parse("tileset.json").unwrap();
        let data_uri = format!("data:application/json;base64,{}", "QUFB".repeat(1 << 16));
        let failures = [
            WalkError::Unsupported {
                uri: "s/{level}/{x}/{y}/{w}.subtree?sv=1&sig=SECRET1".to_owned(),
                reason: format!("unknown variable in s/{{w}}.subtree?sig=SECRET1 and {data_uri}"),
            },
            WalkError::Shape(format!("`{data_uri}?sig=SECRET1` is not a string")),
        ]
        .map(|walk| FileFailure {
            path: path.clone(),
            error: FileError::uninterpretable_part(&path, walk),
        });
        for failure in failures {
            let shown = format!("{failure} {failure:?}");
            assert!(!shown.contains("SECRET1"), "{shown}");
            assert!(shown.len() < 4 * 1024, "{} bytes", shown.len());
        }
    }
}
