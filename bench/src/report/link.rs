//! The downloads over link profiles: what was measured, a table per profile with the sweep, and
//! the targets for the default downloader, each marked met or missed.

use std::fmt::Write as _;

use super::{mb, mib, verdict};
use crate::stats::{median, thousands};

/// The default downloader must be at least this many times as fast as azcopy.
pub const AZCOPY_TARGET: f64 = 1.5;
/// The default downloader must reach at least this share of the best fixed concurrency.
pub const BEST_FIXED_TARGET: f64 = 0.9;
/// On loopback the default downloader must reach at least this share of the fixed
/// concurrency of 8 (the default before it adapted): "no slower than today", less 5% for the
/// noise of a shared machine.
pub const LOOPBACK_TARGET: f64 = 0.95;
/// The fixed concurrency that was the default before the downloader adapted.
pub const PREVIOUS_DEFAULT: usize = 8;

/// A tool measured over the links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTool {
    /// The downloader with `DownloadOptions::default()`.
    Default,
    /// The downloader with a fixed number of files in flight.
    Fixed(usize),
    /// `curl --parallel` with this many transfers at most.
    Curl(usize),
    /// `azcopy copy --recursive` with its defaults.
    Azcopy,
}

impl LinkTool {
    /// The tool as the tables name it.
    pub fn label(self) -> String {
        match self {
            LinkTool::Default => "downloader, default options".to_owned(),
            LinkTool::Fixed(n) => format!("downloader, `concurrency({n})`"),
            LinkTool::Curl(n) => format!("`curl --parallel --parallel-max {n}`"),
            LinkTool::Azcopy => "`azcopy copy --recursive`".to_owned(),
        }
    }
}

/// Where a link table's files came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// Azurite, Microsoft's Azure Storage emulator, through a container SAS.
    Azurite,
    /// This project's emulator, through the export's signed mesh link.
    Emulator,
}

/// One tool's counted runs at one profile.
pub struct ToolRuns {
    pub tool: LinkTool,
    /// Wall seconds of each run, process start to exit.
    pub seconds: Vec<f64>,
    /// Peak resident memory of each run of the downloader, in bytes.
    pub peak_bytes: Vec<u64>,
}

/// Every tool at one profile against one server.
pub struct LinkTable {
    /// Delay added in each direction; 0 is loopback without the proxy.
    pub one_way_ms: u64,
    pub server: Server,
    pub tools: Vec<ToolRuns>,
}

/// The downloads over link profiles.
pub struct LinkResults {
    /// Files and bytes of the tileset.
    pub files: u64,
    pub bytes: u64,
    /// Counted runs of each tool at each profile.
    pub rounds: usize,
    pub tables: Vec<LinkTable>,
    /// The peers and servers measured, with their versions.
    pub peers: Vec<String>,
    /// Peers or servers that were not measured, each with why.
    pub not_run: Vec<String>,
    /// How the outputs were checked.
    pub verified: String,
}

impl LinkTable {
    fn runs(&self, tool: LinkTool) -> Option<&ToolRuns> {
        self.tools.iter().find(|r| r.tool == tool)
    }

    /// Median MB/s of `tool`, if it ran.
    pub fn mb_per_s(&self, tool: LinkTool, bytes: u64) -> Option<f64> {
        let runs = self.runs(tool)?;
        (!runs.seconds.is_empty()).then(|| bytes as f64 / 1e6 / median(&runs.seconds))
    }

    /// The fixed concurrency with the highest median rate, and that rate.
    pub fn best_fixed(&self, bytes: u64) -> Option<(usize, f64)> {
        self.tools
            .iter()
            .filter_map(|r| match r.tool {
                LinkTool::Fixed(n) => Some((n, self.mb_per_s(r.tool, bytes)?)),
                _ => None,
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn title(&self) -> String {
        let server = match self.server {
            Server::Azurite => "Azurite, container SAS",
            Server::Emulator => "the emulator, signed mesh link",
        };
        if self.one_way_ms == 0 {
            format!("Loopback (no proxy), {server}")
        } else {
            format!(
                "{} ms each way ({} ms round trip), {server}",
                self.one_way_ms,
                2 * self.one_way_ms
            )
        }
    }

    /// The targets this table can judge: name, measured ratio, bound, met.
    pub fn targets(&self, bytes: u64) -> Vec<(String, f64, f64, bool)> {
        let Some(default) = self.mb_per_s(LinkTool::Default, bytes) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(azcopy) = self.mb_per_s(LinkTool::Azcopy, bytes) {
            let ratio = default / azcopy;
            out.push((
                "default vs azcopy".to_owned(),
                ratio,
                AZCOPY_TARGET,
                ratio >= AZCOPY_TARGET,
            ));
        }
        if let Some((n, best)) = self.best_fixed(bytes) {
            let ratio = default / best;
            out.push((
                format!("default vs the best fixed ({n})"),
                ratio,
                BEST_FIXED_TARGET,
                ratio >= BEST_FIXED_TARGET,
            ));
        }
        if self.one_way_ms == 0
            && let Some(previous) = self.mb_per_s(LinkTool::Fixed(PREVIOUS_DEFAULT), bytes)
        {
            let ratio = default / previous;
            out.push((
                format!("loopback: default vs fixed {PREVIOUS_DEFAULT}, the previous default"),
                ratio,
                LOOPBACK_TARGET,
                ratio >= LOOPBACK_TARGET,
            ));
        }
        out
    }

    /// The table as markdown, with its targets below it.
    fn markdown(&self, files: u64, bytes: u64, out: &mut String) {
        let _ = writeln!(out, "\n### {}\n", self.title());
        out.push_str("| Tool | Median s | MB/s | files/s | vs azcopy | vs best fixed | Peak memory | s per run |\n|---|---|---|---|---|---|---|---|\n");
        let azcopy = self.mb_per_s(LinkTool::Azcopy, bytes);
        let best = self.best_fixed(bytes);
        for runs in &self.tools {
            let Some(rate) = self.mb_per_s(runs.tool, bytes) else {
                continue;
            };
            let seconds = median(&runs.seconds);
            let versus = |other: Option<f64>| {
                other.map_or("–".to_owned(), |o| format!("{:.2}×", rate / o))
            };
            let is_best = matches!((runs.tool, best), (LinkTool::Fixed(n), Some((b, _))) if n == b);
            let _ = writeln!(
                out,
                "| {}{} | {seconds:.2} | {rate:.1} | {} | {} | {} | {} | {} |",
                runs.tool.label(),
                if is_best { " (best fixed)" } else { "" },
                thousands(files as f64 / seconds),
                versus(azcopy),
                versus(best.map(|(_, b)| b)),
                runs.peak_bytes
                    .iter()
                    .max()
                    .map_or("–".to_owned(), |p| mib(*p)),
                runs.seconds
                    .iter()
                    .map(|s| format!("{s:.2}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        out.push('\n');
        for (name, ratio, bound, met) in self.targets(bytes) {
            let _ = writeln!(
                out,
                "- {name}: {ratio:.2}× (target ≥ {bound:.2}×): {}",
                if met { "**met**" } else { "**missed**" }
            );
        }
    }
}

impl LinkResults {
    /// Every table, with how to read them, as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "A tileset of {} files ({}) downloaded at each link profile by each tool, median of {} runs per tool in rotating order. The delay is added by the bench's own TCP proxy in each direction of every connection, so a new connection pays a round trip before its first request as a TCP handshake would (TLS's one or two more are not modelled: real `https` links cost more per new connection). Loopback goes to the server directly. MB/s and files/s are over the wall time of each process, start to exit; the downloader's peak memory is its process's `VmHWM`.",
            thousands(self.files as f64),
            mb(self.bytes),
            self.rounds,
        );
        if !self.peers.is_empty() {
            let _ = writeln!(out, "\nMeasured: {}.", self.peers.join(", "));
        }
        for note in &self.not_run {
            let _ = writeln!(out, "\n- Not measured: {note}");
        }
        for table in &self.tables {
            table.markdown(self.files, self.bytes, &mut out);
        }
        let _ = writeln!(out, "\n{}", self.verified);
        out
    }

    /// Summary rows: per table, the default downloader against azcopy and the best fixed.
    pub fn summary_rows(&self, t: &mut String) {
        for table in &self.tables {
            let targets = table.targets(self.bytes);
            if targets.is_empty() {
                continue;
            }
            let default = table
                .mb_per_s(LinkTool::Default, self.bytes)
                .unwrap_or(f64::NAN);
            let ratios = targets
                .iter()
                .map(|(name, ratio, _, _)| format!("{ratio:.2}× {name}"))
                .collect::<Vec<_>>()
                .join("; ");
            let bounds = targets
                .iter()
                .map(|(_, _, bound, _)| format!("≥ {bound:.2}×"))
                .collect::<Vec<_>>()
                .join("; ");
            let mut baselines = Vec::new();
            if let Some(azcopy) = table.mb_per_s(LinkTool::Azcopy, self.bytes) {
                baselines.push(format!("azcopy {azcopy:.1}"));
            }
            if let Some((n, best)) = table.best_fixed(self.bytes) {
                baselines.push(format!("best fixed ({n}) {best:.1}"));
            }
            let _ = writeln!(
                t,
                "| tileset download over a link: {} (MB/s, median of {}) | default {default:.1} | {} | {ratios} | {bounds} | {} |",
                table.title(),
                self.rounds,
                baselines.join("; "),
                verdict(targets.iter().all(|(.., met)| *met)),
            );
        }
    }

    /// One sentence per target missed.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for table in &self.tables {
            for (name, ratio, bound, met) in table.targets(self.bytes) {
                if !met {
                    out.push(format!(
                        "{}: {name} {ratio:.2}× (target ≥ {bound:.2}×, missed by {:.0}%).",
                        table.title(),
                        (1.0 - ratio / bound) * 100.0
                    ));
                }
            }
        }
        out
    }
}
