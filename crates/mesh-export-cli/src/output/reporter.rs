//! Printing each command's result: tables and lines for people, a JSON document for programs.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mesh_export::tiles::{DownloadSummary, FileFailure, Progress, TilesetUrl};
use mesh_export::{Export, LastModified};
use serde::Serialize;
use tokio::sync::watch;

use super::documents::{Deleted, DownloadReport, Login, SignedTilesetUrl};
use super::progress::ProgressDisplay;
use super::stderr;
use super::units::{bytes, duration};

/// Prints results on stdout and progress on stderr.
#[derive(Clone)]
pub struct Reporter {
    json: bool,
    quiet: bool,
    terminal: bool,
    started: Instant,
    spinner: Arc<Mutex<Option<ProgressBar>>>,
}

impl Reporter {
    /// A reporter for `--json` or for people.
    pub fn new(json: bool) -> Self {
        Reporter {
            json,
            quiet: false,
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            spinner: Arc::new(Mutex::new(None)),
        }
    }

    /// With `quiet`, no progress and no notes on stderr (`--quiet`).
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// Whether progress and notes go to stderr: not for programs (`--json`), not with `--quiet`.
    fn narrating(&self) -> bool {
        !self.json && !self.quiet
    }

    /// What announces retry waits on stderr, when anything is narrated.
    pub fn wait_observer(&self) -> Option<mesh_export::retry::WaitObserver> {
        self.narrating().then(super::announce_retry_waits)
    }

    /// A line for people on stderr, above any progress (not with `--json` or `--quiet`).
    pub fn notice(&self, text: &str) {
        if self.narrating() {
            stderr::line(text);
        }
    }

    fn print_json(&self, value: &impl Serialize) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("serialisable output")
        );
    }

    /// A progress note on stderr (not in JSON mode).
    // Only `demo` narrates what it does.
    #[cfg(feature = "demo")]
    pub fn note(&self, text: &str) {
        self.notice(text);
    }

    /// `login`'s result.
    pub fn login(&self, login: &Login) {
        if self.json {
            return self.print_json(login);
        }
        match (
            login.method,
            &login.client_id,
            &login.token_url,
            &login.issuer,
        ) {
            (_, Some(id), Some(url), _) => {
                println!("authenticated: client credentials of {id} at {url}");
            }
            ("session", Some(id), _, Some(issuer)) => {
                println!("authenticated: signed in with client {id} at {issuer}");
            }
            ("share_key", ..) => println!("authenticated: share key accepted by the service"),
            _ => println!("authenticated: bearer token accepted by the service"),
        }
        println!("credentials from: {}", login.source);
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
    /// An export's status while waiting: a spinner with the time waited on a terminal, else a
    /// line per poll with it.
    pub fn status(&self, export: &Export) {
        if !self.narrating() {
            return;
        }
        let text = format!("export {}: {}", export.id, export.status.as_str());
        if self.terminal {
            let mut spinner = self.spinner.lock().expect("spinner lock");
            let bar = spinner.get_or_insert_with(|| {
                let bar = ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed} elapsed)")
                        .expect("a valid template"),
                );
                bar.enable_steady_tick(Duration::from_millis(100));
                stderr::drawing(&bar);
                bar
            });
            bar.set_message(text);
        } else {
            eprintln!("{text} ({} elapsed)", duration(self.started.elapsed()));
        }
    }

    /// Ends the waiting display, clearing the spinner: its last state is printed as a result
    /// or an error.
    pub fn finish_status(&self) {
        if let Some(bar) = self.spinner.lock().expect("spinner lock").take() {
            bar.finish_and_clear();
            stderr::not_drawing();
        }
    }

    /// Follows a download's progress until [`ProgressDisplay::finish`].
    pub fn download_progress(&self, progress: watch::Receiver<Progress>) -> ProgressDisplay {
        ProgressDisplay::start(progress, !self.narrating(), self.terminal)
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
        if summary.unnamed_files > 0 {
            println!(
                "{} file(s) in the container that the tileset does not name: {}",
                summary.unnamed_files,
                match summary.mirrored_files {
                    0 => "left out (--all-files downloads them)".to_owned(),
                    n => format!("{n} downloaded too"),
                }
            );
        }
        println!("tileset: {}", summary.tileset.display());
        println!("manifest: {}", summary.manifest.display());
    }
}
