//! The `--json` documents: each derives `JsonSchema`, so `mesh-export schema` describes exactly
//! what is printed.

use mesh_export::tiles::{DownloadSummary, FileFailure};
use schemars::JsonSchema;
use serde::Serialize;

/// What `login` found out.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// How the tool authenticates: `token` (a bearer token given as it is), `share_key` (an
    /// iTwin share key), `client_credentials` (OAuth2 client credentials) or `session` (a person
    /// signed in with `login`).
    pub method: &'static str,
    /// Where the credentials came from: a flag, an environment variable, or the saved sign-in
    /// (with its file).
    pub source: String,
    /// The OAuth2 client id, for client credentials and a signed-in session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The issuer a person signed in with, for a signed-in session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The token endpoint, for client credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Seconds until the token expires, when known.
    pub expires_in_seconds: Option<u64>,
}

/// What `delete` did.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deleted {
    /// The id of the deleted export.
    pub deleted: String,
}

/// What `url` prints: a signed URL, valid for about an hour. Treat it as a secret.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedTilesetUrl {
    /// The export whose tileset it is, when the URL came from an export (null for `--href`).
    pub export_id: Option<String>,
    /// The URL of `tileset.json`, with its signature.
    pub tileset_url: String,
}

/// What `download` and `demo` report about a finished download.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadReport {
    /// The export the tileset came from (null for `--href`).
    pub export_id: Option<String>,
    /// Whether every file of the tileset is on disk: no file failed and no URI was refused.
    pub complete: bool,
    /// The output directory. Paths that are not UTF-8 are shown lossily, so the document is
    /// always valid JSON.
    pub dir: String,
    /// Where `tileset.json` is.
    pub tileset: String,
    /// Where `manifest.json` (path, size and checksum of every file) is.
    pub manifest: String,
    /// Files of the tileset, all complete on disk.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
    /// Files fetched by this run.
    pub downloaded_files: u64,
    /// Bytes fetched by this run.
    pub downloaded_bytes: u64,
    /// Files already complete from an earlier run, not fetched again.
    pub skipped: u64,
    /// Retried requests.
    pub retries: u64,
    /// Fresh signatures fetched because the service refused the one in use.
    pub resigns: u64,
    /// Wall-clock time of the run.
    pub elapsed_seconds: f64,
    /// Files the container's listing names under the root; null when it was not listed
    /// (`--no-listing`, or a link or store that does not allow it).
    pub listed_files: Option<u64>,
    /// Listed files the tileset does not name: not downloaded unless `--all-files`.
    pub unnamed_files: u64,
    /// Of `files`, those the tileset does not name, downloaded for `--all-files`.
    pub mirrored_files: u64,
    /// URIs the tileset named that were not fetched, because they would escape the signed root
    /// or the output directory.
    pub refused: Vec<RefusedUri>,
    /// Files that could not be fetched, on an incomplete download (exit 7).
    pub failed: Vec<FailedFile>,
}

/// A file a download could not fetch.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailedFile {
    /// Its path under the output directory.
    pub path: String,
    /// Why it is missing.
    pub reason: String,
}

/// A URI the downloader refused to fetch.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusedUri {
    /// The URI as the tileset wrote it.
    pub uri: String,
    /// The tileset file that named it.
    pub in_file: String,
    /// Why it was refused.
    pub reason: String,
}

impl DownloadReport {
    pub(super) fn new(
        summary: &DownloadSummary,
        export_id: Option<&str>,
        failures: &[FileFailure],
    ) -> Self {
        DownloadReport {
            export_id: export_id.map(str::to_owned),
            complete: failures.is_empty() && summary.refused.is_empty(),
            dir: summary.dir.to_string_lossy().into_owned(),
            tileset: summary.tileset.to_string_lossy().into_owned(),
            manifest: summary.manifest.to_string_lossy().into_owned(),
            files: summary.files,
            bytes: summary.bytes,
            downloaded_files: summary.downloaded_files,
            downloaded_bytes: summary.downloaded_bytes,
            skipped: summary.skipped,
            retries: summary.retries,
            resigns: summary.resigns,
            elapsed_seconds: summary.elapsed.as_secs_f64(),
            listed_files: summary.listed_files,
            unnamed_files: summary.unnamed_files,
            mirrored_files: summary.mirrored_files,
            refused: summary
                .refused
                .iter()
                .map(|r| RefusedUri {
                    uri: r.uri.clone(),
                    in_file: r.in_file.as_str().to_owned(),
                    reason: r.reason.to_string(),
                })
                .collect(),
            failed: failures
                .iter()
                .map(|f| FailedFile {
                    path: f.path.as_str().to_owned(),
                    reason: f.error.to_string(),
                })
                .collect(),
        }
    }
}

/// What any command prints on standard error when it fails under `--json`.
// main.rs still prints this shape with `serde_json::json!`; the schema test holds the two
// together until main.rs prints this type.
#[allow(dead_code)]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDocument {
    /// The failure.
    pub error: ErrorBody,
}

/// The failure in an [`ErrorDocument`].
#[allow(dead_code)]
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What went wrong, for people. Never holds a secret, token or URL signature.
    pub message: String,
    /// The process exit status (see `mesh-export --help`).
    pub exit_code: u8,
}
