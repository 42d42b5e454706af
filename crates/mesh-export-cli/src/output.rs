//! What the commands print: tables and lines for people, JSON for programs, progress on stderr
//! (bars on a terminal, plain lines otherwise). Each `--json` document is a type here that
//! derives `JsonSchema`, so `mesh-export schema` describes exactly what is printed.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mesh_export::tiles::{DownloadSummary, FileFailure, Progress, TilesetUrl};
use mesh_export::{Export, LastModified};
use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

/// What `login` found out.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// How the tool authenticates: `token` (a bearer token given as it is), `share_key` (an
    /// iTwin share key) or `client_credentials` (OAuth2 client credentials).
    pub method: &'static str,
    /// The OAuth2 client id, for client credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
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
    fn new(summary: &DownloadSummary, export_id: Option<&str>, failures: &[FileFailure]) -> Self {
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

/// Prints results on stdout and progress on stderr.
#[derive(Clone)]
pub struct Reporter {
    json: bool,
    terminal: bool,
    spinner: Arc<Mutex<Option<ProgressBar>>>,
}

impl Reporter {
    /// A reporter for `--json` or for people.
    pub fn new(json: bool) -> Self {
        Reporter {
            json,
            terminal: std::io::stderr().is_terminal(),
            spinner: Arc::new(Mutex::new(None)),
        }
    }

    fn print_json(&self, value: &impl Serialize) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("serialisable output")
        );
    }

    /// A progress note on stderr (not in JSON mode).
    pub fn note(&self, text: &str) {
        if !self.json {
            eprintln!("{text}");
        }
    }

    /// `login`'s result.
    pub fn login(&self, login: &Login) {
        if self.json {
            return self.print_json(login);
        }
        match (&login.client_id, &login.token_url) {
            (Some(id), Some(url)) => println!("authenticated: client credentials of {id} at {url}"),
            _ => println!("authenticated: bearer token accepted by the service"),
        }
        match login.expires_in_seconds {
            Some(s) => println!("token expires in {}", duration(Duration::from_secs(s))),
            None => println!("token expiry: unknown"),
        }
    }

    /// A list of exports: a table, or a JSON array.
    pub fn exports(&self, exports: &[Export]) {
        if self.json {
            return self.print_json(&exports);
        }
        if exports.is_empty() {
            println!("no exports");
            return;
        }
        let rows: Vec<[String; 5]> = exports
            .iter()
            .map(|e| {
                let request = e.request.as_ref();
                [
                    e.id.clone(),
                    e.status.as_str().to_owned(),
                    request
                        .and_then(|r| r.export_type.as_ref())
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_else(|| "-".into()),
                    match (e.last_modified_at(), &e.last_modified) {
                        (Some(t), _) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                        // Shown as sent rather than hidden: the service's own text.
                        (None, Some(text)) => text.clone(),
                        (None, None) => "-".into(),
                    },
                    e.display_name.clone(),
                ]
            })
            .collect();
        let header = ["ID", "STATUS", "TYPE", "LAST MODIFIED (UTC)", "NAME"].map(str::to_owned);
        let mut widths = [0usize; 5];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:w$}"))
                .collect();
            println!("{}", line.join("  ").trim_end());
        }
    }

    /// One export.
    pub fn export(&self, export: &Export) {
        if self.json {
            return self.print_json(export);
        }
        println!("id:            {}", export.id);
        println!("name:          {}", export.display_name);
        println!("status:        {}", export.status.as_str());
        match (export.last_modified_at(), &export.last_modified) {
            (Some(t), _) => println!("last modified: {}", t.to_rfc3339()),
            (None, Some(text)) => println!("last modified: {text}"),
            (None, None) => {}
        }
        if let Some(r) = &export.request {
            if let Some(id) = &r.i_model_id {
                println!("iModel:        {id}");
            }
            if let Some(c) = r.changeset_id.as_deref().filter(|c| !c.is_empty()) {
                println!("changeset:     {c}");
            }
            if let Some(t) = &r.export_type {
                println!("type:          {}", t.as_str());
            }
        }
        if let Some(error) = &export.error {
            println!("error:         {error}");
        }
        if export
            .links
            .as_ref()
            .and_then(|l| l.mesh.as_ref())
            .is_some()
        {
            println!(
                "tiles:         ready (`mesh-export url {}` prints the signed URL)",
                export.id
            );
        }
    }

    /// `delete`'s result.
    pub fn deleted(&self, id: &str) {
        if self.json {
            return self.print_json(&Deleted {
                deleted: id.to_owned(),
            });
        }
        println!("deleted {id}");
    }

    /// `url`'s result: the signed tileset URL, on purpose.
    pub fn url(&self, export_id: Option<&str>, tileset: &TilesetUrl) {
        let url = tileset.tileset_json();
        if self.json {
            return self.print_json(&SignedTilesetUrl {
                export_id: export_id.map(str::to_owned),
                tileset_url: url.as_str().to_owned(),
            });
        }
        println!("{url}");
    }

    /// An export's status while waiting.
    pub fn status(&self, export: &Export) {
        if self.json {
            return;
        }
        let text = format!("export {}: {}", export.id, export.status.as_str());
        if self.terminal {
            let mut spinner = self.spinner.lock().expect("spinner lock");
            let bar = spinner.get_or_insert_with(|| {
                let bar = ProgressBar::new_spinner();
                bar.enable_steady_tick(Duration::from_millis(100));
                bar
            });
            bar.set_message(text);
        } else {
            eprintln!("{text}");
        }
    }

    /// Ends the waiting display.
    pub fn finish_status(&self) {
        if let Some(bar) = self.spinner.lock().expect("spinner lock").take() {
            bar.finish();
        }
    }

    /// Follows a download's progress until [`ProgressDisplay::finish`].
    pub fn download_progress(&self, progress: watch::Receiver<Progress>) -> ProgressDisplay {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(show_progress(progress, stopped, self.json, self.terminal));
        ProgressDisplay { stop, task }
    }

    /// An incomplete download: the files that failed and the URIs not followed, on stderr
    /// for people; with `--json`, the summary document on stdout with `complete: false`.
    pub fn failures(
        &self,
        failures: &[FileFailure],
        summary: &DownloadSummary,
        export_id: Option<&str>,
    ) {
        if self.json {
            return self.summary(summary, export_id, failures);
        }
        for failure in failures {
            eprintln!("failed: {failure}");
        }
        self.refusals(summary);
    }

    fn refusals(&self, summary: &DownloadSummary) {
        for refused in &summary.refused {
            eprintln!("refused: {refused}");
        }
    }

    /// A finished download; `failures` are the files that failed, if any.
    pub fn summary(
        &self,
        summary: &DownloadSummary,
        export_id: Option<&str>,
        failures: &[FileFailure],
    ) {
        if self.json {
            return self.print_json(&DownloadReport::new(summary, export_id, failures));
        }
        self.refusals(summary);
        println!(
            "{} files, {} in {} ({} downloaded, {} already complete{})",
            summary.files,
            bytes(summary.bytes),
            duration(summary.elapsed),
            summary.downloaded_files,
            summary.skipped,
            if summary.refused.is_empty() {
                String::new()
            } else {
                format!(", {} URI(s) refused", summary.refused.len())
            }
        );
        println!("tileset: {}", summary.tileset.display());
        println!("manifest: {}", summary.manifest.display());
    }
}

/// A running progress display.
pub struct ProgressDisplay {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ProgressDisplay {
    /// Draws the last state and stops.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn show_progress(
    mut progress: watch::Receiver<Progress>,
    mut stop: oneshot::Receiver<()>,
    json: bool,
    terminal: bool,
) {
    if json {
        let _ = stop.await;
        return;
    }
    let started = Instant::now();
    let bar = terminal.then(|| {
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} files  {msg}  ETA {eta}",
            )
            .expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    let mut last_line = Instant::now();
    loop {
        let done = tokio::select! {
            changed = progress.changed() => changed.is_err(),
            _ = &mut stop => true,
        };
        let p = progress.borrow_and_update().clone();
        let rate = p.bytes_downloaded as f64 / started.elapsed().as_secs_f64().max(0.001);
        let text = format!("{}  {}/s", bytes(p.bytes_done), bytes(rate as u64));
        match &bar {
            Some(bar) => {
                bar.set_length(p.files_total_known.max(1));
                bar.set_position(p.files_done);
                bar.set_message(text);
            }
            None if done || last_line.elapsed() >= Duration::from_secs(1) => {
                eprintln!(
                    "downloaded {}/{} files, {text}",
                    p.files_done, p.files_total_known
                );
                last_line = Instant::now();
            }
            None => {}
        }
        if done {
            break;
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
}

/// `1.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1m 05s`, `2.3s`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{}h {:02}m", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
