//! The results of one run and their markdown: the summary table, how to read it, the details.

use std::fmt::Write as _;

use crate::stats::{median, range, thousands};

/// The stack may cost at most this much more per call than bare reqwest.
pub const API_OVERHEAD_TARGET: f64 = 1.05;
/// The downloader's peak resident memory must stay under this (bytes).
pub const PEAK_MEMORY_TARGET: u64 = 64 * 1024 * 1024;

/// Stack versus bare reqwest at one concurrency.
pub struct ApiComparison {
    /// Requests in flight.
    pub concurrency: usize,
    /// Requests per second of the stack, one value per round.
    pub stack: Vec<f64>,
    /// Requests per second of bare reqwest, one value per round.
    pub bare: Vec<f64>,
    /// Emulator CPU use (cores) while the stack ran, one value per round.
    pub emulator_cores: Vec<f64>,
}

impl ApiComparison {
    /// Per-round ratios of the stack's cost per call to bare reqwest's (bare rps / stack rps).
    pub fn ratios(&self) -> Vec<f64> {
        self.stack
            .iter()
            .zip(&self.bare)
            .map(|(s, b)| b / s)
            .collect()
    }

    /// The median of [`ratios`](Self::ratios).
    pub fn ratio(&self) -> f64 {
        median(&self.ratios())
    }
}

/// One variant of the sequential request measured for the breakdown.
pub struct BreakdownRow {
    /// What was measured.
    pub label: &'static str,
    /// Requests per second, one value per round.
    pub rps: Vec<f64>,
}

/// One tool's download runs.
pub struct DownloadRuns {
    /// The tool as shown in the table.
    pub tool: String,
    /// MB/s (10^6 bytes) of each run, wall clock of the whole process.
    pub mb_per_s: Vec<f64>,
    /// Peak resident memory of each run, in bytes, when known.
    pub peak_bytes: Vec<u64>,
}

/// The download comparison.
pub struct DownloadResults {
    /// Files in the tileset.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Files fetched at the same time by both tools.
    pub concurrency: usize,
    /// This project's downloader.
    pub downloader: DownloadRuns,
    /// curl, or why it could not run.
    pub curl: Result<DownloadRuns, String>,
    /// How the outputs were checked.
    pub verified: String,
}

/// The emulator's throughput, measured with the lightest client.
pub struct EmulatorThroughput {
    /// Requests in flight.
    pub concurrency: usize,
    /// Requests per second, one value per round.
    pub rps: Vec<f64>,
    /// Emulator CPU use (cores), one value per round.
    pub cores: Vec<f64>,
}

/// Everything one run measured.
pub struct Results {
    /// Whether this was a `--quick` run.
    pub quick: bool,
    /// Exports in each `get-exports` page.
    pub page_exports: usize,
    /// Rounds of the API comparison and the length of each measurement.
    pub rounds: usize,
    /// Seconds each API measurement ran.
    pub seconds_per_measurement: f64,
    /// Sequential and concurrent comparisons.
    pub api: Vec<ApiComparison>,
    /// Sequential variants that locate the stack's overhead.
    pub breakdown: Vec<BreakdownRow>,
    /// The emulator's own throughput.
    pub emulator: EmulatorThroughput,
    /// The download comparison, or why it did not run.
    pub download: Result<DownloadResults, String>,
    /// `codegen --check` in-process wall time (median of several runs), in ms.
    pub codegen_ms: Option<f64>,
    /// One `cargo xtask codegen --check` subprocess, in ms.
    pub codegen_subprocess_ms: Option<f64>,
}

fn verdict(pass: bool) -> &'static str {
    if pass { "**pass**" } else { "**MISS**" }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

impl Results {
    /// The summary table, as markdown.
    pub fn table(&self) -> String {
        let mut t = String::new();
        t.push_str("| Measurement | This project | Baseline | Ratio | Target | Result |\n");
        t.push_str("|---|---|---|---|---|---|\n");
        for cmp in &self.api {
            let mode = if cmp.concurrency == 1 {
                "sequential".to_owned()
            } else {
                format!("{} concurrent", cmp.concurrency)
            };
            let ratio = cmp.ratio();
            let _ = writeln!(
                t,
                "| `get-exports`, {mode} (req/s, median of {}) | stack {} | bare reqwest {} | {ratio:.3}× cost ({:+.1}%) | ≤ {API_OVERHEAD_TARGET:.2}× | {} |",
                self.rounds,
                thousands(median(&cmp.stack)),
                thousands(median(&cmp.bare)),
                (ratio - 1.0) * 100.0,
                verdict(ratio <= API_OVERHEAD_TARGET),
            );
        }
        match &self.download {
            Ok(d) => {
                let ours = median(&d.downloader.mb_per_s);
                match &d.curl {
                    Ok(curl) => {
                        let theirs = median(&curl.mb_per_s);
                        let _ = writeln!(
                            t,
                            "| tileset download, {} files / {}, {} at a time (MB/s, median of {}) | downloader {ours:.1} | {} {theirs:.1} | {:.2}× speed | ≥ 1.00× | {} |",
                            d.files,
                            mb(d.bytes),
                            d.concurrency,
                            d.downloader.mb_per_s.len(),
                            curl.tool,
                            ours / theirs,
                            verdict(ours >= theirs),
                        );
                    }
                    Err(why) => {
                        let _ = writeln!(
                            t,
                            "| tileset download, {} files / {} (MB/s) | downloader {ours:.1} | curl not run: {why} | – | ≥ 1.00× | not measured |",
                            d.files,
                            mb(d.bytes),
                        );
                    }
                }
                match d.downloader.peak_bytes.iter().max() {
                    Some(&peak) => {
                        let _ = writeln!(
                            t,
                            "| downloader peak memory (VmHWM, worst of {}) | {} | – | – | < {} | {} |",
                            d.downloader.peak_bytes.len(),
                            mib(peak),
                            mib(PEAK_MEMORY_TARGET),
                            verdict(peak < PEAK_MEMORY_TARGET),
                        );
                    }
                    None => t.push_str(
                        "| downloader peak memory | unknown (no /proc) | – | – | < 64.0 MiB | not measured |\n",
                    ),
                }
            }
            Err(why) => {
                let _ = writeln!(
                    t,
                    "| tileset download | not run: {why} | – | – | ≥ 1.00× curl | not measured |"
                );
            }
        }
        let emulator = median(&self.emulator.rps);
        let busiest = self.busiest_client_rate();
        let _ = writeln!(
            t,
            "| emulator `get-exports` throughput, {} concurrent, body not decoded (req/s, median of {}) | emulator {} | busiest client above {} | {:.2}× headroom | > 1× | {} |",
            self.emulator.concurrency,
            self.emulator.rps.len(),
            thousands(emulator),
            thousands(busiest),
            emulator / busiest,
            if emulator > busiest {
                "not the bottleneck"
            } else {
                "**may be the bottleneck**"
            },
        );
        match (self.codegen_ms, self.codegen_subprocess_ms) {
            (Some(inner), sub) => {
                let sub = sub
                    .map(|s| format!("`cargo xtask codegen --check` process {s:.0} ms"))
                    .unwrap_or_else(|| "–".to_owned());
                let _ = writeln!(
                    t,
                    "| `cargo xtask codegen --check` wall time (load, generate, diff; median) | {inner:.0} ms | {sub} | – | – | measured |"
                );
            }
            (None, _) => t.push_str(
                "| `cargo xtask codegen --check` wall time | not measured (run through `cargo xtask bench`) | – | – | – | – |\n",
            ),
        }
        t
    }

    /// The highest median request rate of the API comparison.
    fn busiest_client_rate(&self) -> f64 {
        self.api
            .iter()
            .flat_map(|c| [median(&c.stack), median(&c.bare)])
            .fold(0.0, f64::max)
    }

    /// Per-round numbers and the overhead breakdown, as markdown.
    pub fn details(&self) -> String {
        let mut d = String::new();
        let _ = writeln!(
            d,
            "Each `get-exports` answer is a page of {} exports (`Prefer: return=representation`). Each API measurement ran {:.1} s; rounds rotate the order of the sides.\n",
            self.page_exports, self.seconds_per_measurement
        );
        d.push_str("| Concurrency | Side | req/s per round | Median | Emulator CPU (cores, median) |\n|---|---|---|---|---|\n");
        for cmp in &self.api {
            let list = |v: &[f64]| {
                v.iter()
                    .map(|x| thousands(*x))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                d,
                "| {} | stack | {} | {} | {:.2} |",
                cmp.concurrency,
                list(&cmp.stack),
                thousands(median(&cmp.stack)),
                median(&cmp.emulator_cores)
            );
            let _ = writeln!(
                d,
                "| {} | bare reqwest | {} | {} | |",
                cmp.concurrency,
                list(&cmp.bare),
                thousands(median(&cmp.bare))
            );
            let (lo, hi) = range(&cmp.ratios());
            let _ = writeln!(
                d,
                "| {} | cost ratio stack / bare | {} | {:.3} (range {lo:.3}–{hi:.3}) | |",
                cmp.concurrency,
                cmp.ratios()
                    .iter()
                    .map(|r| format!("{r:.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                cmp.ratio()
            );
        }
        if let Some(seq) = self.api.iter().find(|c| c.concurrency == 1) {
            let bare = median(&seq.bare);
            let stack = median(&seq.stack);
            d.push_str("\nWhere the sequential per-call time goes (median µs per call, same rounds):\n\n| Variant | µs per call | vs bare reqwest |\n|---|---|---|\n");
            let mut row = |label: &str, rps: f64| {
                let _ = writeln!(
                    d,
                    "| {label} | {:.1} | {:+.1} µs |",
                    1e6 / rps,
                    1e6 / rps - 1e6 / bare
                );
            };
            row("bare reqwest", bare);
            for b in &self.breakdown {
                row(b.label, median(&b.rps));
            }
            row("mesh-export stack (tracing at INFO to a sink)", stack);
        }
        let _ = writeln!(
            d,
            "\nEmulator alone, {} concurrent, body not decoded: {} req/s per round, using {} cores.",
            self.emulator.concurrency,
            self.emulator
                .rps
                .iter()
                .map(|x| thousands(*x))
                .collect::<Vec<_>>()
                .join(", "),
            self.emulator
                .cores
                .iter()
                .map(|x| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Ok(dl) = &self.download {
            let list = |v: &[f64]| {
                v.iter()
                    .map(|x| format!("{x:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                d,
                "\nDownload runs (MB/s, process start to exit; outputs emptied and `sync`ed before each run): downloader {}; peaks {}.",
                list(&dl.downloader.mb_per_s),
                dl.downloader
                    .peak_bytes
                    .iter()
                    .map(|b| mib(*b))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Ok(curl) = &dl.curl {
                let _ = writeln!(d, "{}: {}.", curl.tool, list(&curl.mb_per_s));
            }
            let _ = writeln!(d, "{}", dl.verified);
        }
        d
    }

    /// One sentence per target missed, with the numbers that explain it.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for cmp in &self.api {
            let ratio = cmp.ratio();
            if ratio > API_OVERHEAD_TARGET {
                out.push(format!(
                    "The stack costs {:+.1}% per call over bare reqwest at concurrency {} (target at most {:+.0}%).",
                    (ratio - 1.0) * 100.0,
                    cmp.concurrency,
                    (API_OVERHEAD_TARGET - 1.0) * 100.0
                ));
            }
        }
        if let Some(seq) = self.api.iter().find(|c| c.concurrency == 1)
            && median(&seq.stack) > 0.0
        {
            let stack_us = 1e6 / median(&seq.stack);
            let bare_us = 1e6 / median(&seq.bare);
            let gap = stack_us - bare_us;
            for b in &self.breakdown {
                let us = 1e6 / median(&b.rps);
                out.push(format!(
                    "Sequentially the stack takes {gap:.1} µs more per call than bare reqwest; \"{}\" takes {:.1} µs more than bare reqwest.",
                    b.label,
                    us - bare_us
                ));
            }
        }
        if let Ok(d) = &self.download {
            if let Ok(curl) = &d.curl {
                let ours = median(&d.downloader.mb_per_s);
                let theirs = median(&curl.mb_per_s);
                if ours < theirs {
                    out.push(format!(
                        "The downloader reached {:.0}% of curl's throughput ({ours:.1} vs {theirs:.1} MB/s).",
                        ours / theirs * 100.0
                    ));
                }
            }
            if let Some(&peak) = d.downloader.peak_bytes.iter().max()
                && peak >= PEAK_MEMORY_TARGET
            {
                out.push(format!(
                    "The downloader's peak memory was {} (target under {}).",
                    mib(peak),
                    mib(PEAK_MEMORY_TARGET)
                ));
            }
        }
        out
    }
}
