//! The results of one run and their markdown: the summary table, how to read it, the details.

use std::fmt::Write as _;

use crate::stats::{median, range, thousands};

/// The stack may cost at most this much more per call than bare reqwest.
pub const API_OVERHEAD_TARGET: f64 = 1.05;
/// The downloader's peak resident memory must stay under this (bytes).
pub const PEAK_MEMORY_TARGET: u64 = 64 * 1024 * 1024;

/// Bare reqwest measured as the breakdown variants are (one block per round): their reference.
pub const LABEL_BARE: &str = "bare reqwest";
/// The stack measured as the breakdown variants are.
pub const LABEL_STACK: &str = "mesh-export stack (tracing at INFO to a sink)";
/// Breakdown variant: bare reqwest with the stack's `User-Agent` and a fresh correlation id.
pub const LABEL_HEADERS: &str = "bare reqwest + User-Agent + fresh X-Correlation-ID";
/// Breakdown variant: the generated client with a policy that only sets a fixed token.
pub const LABEL_GENERATED: &str = "generated client, policy that only sets the token";
/// Breakdown variant: the generated client taking the token from a `TokenCache` per call.
pub const LABEL_TOKEN_CACHE: &str =
    "generated client, policy that takes the token from a TokenCache";
/// Breakdown variant: the stack without retries.
pub const LABEL_NO_RETRIES: &str = "mesh-export stack, RetryOptions::none()";
/// Breakdown variant: the stack with its tracing filtered out.
pub const LABEL_NO_TRACING: &str = "mesh-export stack, tracing filtered out";

/// Stack versus bare reqwest at one concurrency.
pub struct ApiComparison {
    /// Requests in flight.
    pub concurrency: usize,
    /// Requests per second of the stack, one value per round.
    pub stack: Vec<f64>,
    /// Requests per second of bare reqwest, one value per round.
    pub bare: Vec<f64>,
    /// Client CPU µs per request of the stack, one value per round.
    pub stack_cpu_us: Vec<f64>,
    /// Client CPU µs per request of bare reqwest, one value per round.
    pub bare_cpu_us: Vec<f64>,
    /// Emulator CPU use (cores) while the stack ran, one value per round.
    pub emulator_cores: Vec<f64>,
    /// Variants between bare reqwest and the stack that locate the difference.
    pub breakdown: Vec<BreakdownRow>,
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

    /// The median client CPU µs per call of a breakdown variant.
    fn cpu_of(&self, label: &str) -> f64 {
        self.breakdown
            .iter()
            .find(|b| b.label == label)
            .map_or(f64::NAN, |b| median(&b.cpu_us))
    }

    /// Where the stack's extra client CPU per call goes, step by step from bare reqwest. The
    /// steps compare the breakdown's own measurements of bare reqwest and the stack, taken
    /// as the variants are.
    pub fn attribution(&self) -> String {
        let bare = median(&self.bare_cpu_us);
        let stack = median(&self.stack_cpu_us);
        let bare_block = self.cpu_of(LABEL_BARE);
        let stack_block = self.cpu_of(LABEL_STACK);
        let generated = self.cpu_of(LABEL_GENERATED);
        let cached = self.cpu_of(LABEL_TOKEN_CACHE);
        format!(
            "At concurrency {}, the stack spends {:+.1} µs of client CPU per call over bare reqwest \
             ({stack:.1} vs {bare:.1} µs). Step by step: the generated client with a token-only \
             policy {:+.1} µs; taking the token from `TokenCache` on each call {:+.1} µs more; the \
             rest of the stack's policy and wrapper (User-Agent, correlation id, tracing span, retry \
             loop, error mapping) {:+.1} µs more. Turning single parts off \
             in the stack: without retries {:+.1} µs, with tracing filtered out {:+.1} µs; bare \
             reqwest with the stack's two extra headers {:+.1} µs. Differences of a few µs are \
             within this machine's noise. CPU in use: the client {:.2} cores with the stack and \
             {:.2} with bare reqwest, the emulator {:.2} while the stack ran, of {} cores.",
            self.concurrency,
            stack - bare,
            generated - bare_block,
            cached - generated,
            stack_block - cached,
            self.cpu_of(LABEL_NO_RETRIES) - stack_block,
            self.cpu_of(LABEL_NO_TRACING) - stack_block,
            self.cpu_of(LABEL_HEADERS) - bare_block,
            stack * median(&self.stack) / 1e6,
            bare * median(&self.bare) / 1e6,
            median(&self.emulator_cores),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        )
    }
}

/// One variant of the request measured for the breakdown.
pub struct BreakdownRow {
    /// What was measured.
    pub label: &'static str,
    /// Requests per second, one value per round.
    pub rps: Vec<f64>,
    /// Client CPU µs per request, one value per round.
    pub cpu_us: Vec<f64>,
}

/// One tool's download runs.
pub struct DownloadRuns {
    /// The tool as shown in the table.
    pub tool: String,
    /// MB/s (10^6 bytes) of each run, wall clock of the whole process.
    pub mb_per_s: Vec<f64>,
    /// Peak resident memory of each run, in bytes, when known.
    pub peak_bytes: Vec<u64>,
    /// CPU seconds (user + system) of each run, when known.
    pub cpu_s: Vec<f64>,
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

/// The downloader on a tileset of many small files: its rate and its memory at scale.
pub struct ScaleResults {
    /// Files in the tileset (tiles, plus the tileset files).
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Files fetched at the same time.
    pub concurrency: usize,
    /// Files per second of each run, wall clock of the whole process.
    pub files_per_s: Vec<f64>,
    /// Peak resident memory of each run, in bytes, when known.
    pub peak_bytes: Vec<u64>,
    /// CPU seconds (user + system) of each run, when known.
    pub cpu_s: Vec<f64>,
}

/// The emulator's throughput at one concurrency, measured with the lightest client.
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
    /// Length of one slice of the stack or bare reqwest within a round.
    pub seconds_per_slice: f64,
    /// Sequential and concurrent comparisons.
    pub api: Vec<ApiComparison>,
    /// The emulator's own throughput, at a few concurrencies.
    pub emulator: Vec<EmulatorThroughput>,
    /// The download comparison, or why it did not run.
    pub download: Result<DownloadResults, String>,
    /// The many-files download, or why it did not run.
    pub scale: Result<ScaleResults, String>,
    /// `codegen --check` in-process wall time (median of several runs), in ms.
    pub codegen_ms: Option<f64>,
    /// One `cargo xtask codegen --check` subprocess, in ms.
    pub codegen_subprocess_ms: Option<f64>,
    /// The load averages (1, 5, 15 minutes) before and after the run.
    pub load: (String, String),
    /// Sizes in bytes of the future of one stack call and of one bare call.
    pub future_sizes: (usize, usize),
}

fn verdict(pass: bool) -> &'static str {
    if pass { "**pass**" } else { "**MISS**" }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn list2(values: &[f64]) -> String {
    if values.is_empty() {
        return "unknown".to_owned();
    }
    values
        .iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
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
        match &self.scale {
            Ok(scale) => {
                let peak = scale.peak_bytes.iter().max();
                let _ = writeln!(
                    t,
                    "| tileset of {} small files / {}, {} at a time (files/s, median of {}; peak memory VmHWM, worst run) | downloader {} files/s, peak {} | – | – | < {} | {} |",
                    thousands(scale.files as f64),
                    mb(scale.bytes),
                    scale.concurrency,
                    scale.files_per_s.len(),
                    thousands(median(&scale.files_per_s)),
                    peak.map_or_else(|| "unknown (no /proc)".to_owned(), |p| mib(*p)),
                    mib(PEAK_MEMORY_TARGET),
                    peak.map_or("not measured", |p| verdict(*p < PEAK_MEMORY_TARGET)),
                );
            }
            Err(why) => {
                let _ = writeln!(
                    t,
                    "| tileset of many small files | not run: {why} | – | – | < {} | not measured |",
                    mib(PEAK_MEMORY_TARGET)
                );
            }
        }
        if let Some(best) = self.best_emulator() {
            let emulator = median(&best.rps);
            let cores = median(&best.cores);
            let per_core = emulator / cores;
            let machine = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let busiest = self.busiest_client_rate();
            let verdict = if emulator > busiest {
                "not the bottleneck"
            } else if per_core * machine > busiest {
                "not the bottleneck alone: client and emulator saturate the cores together"
            } else {
                "**may be the bottleneck**"
            };
            let _ = writeln!(
                t,
                "| emulator `get-exports` throughput, best of {} (req/s, {} concurrent, body not decoded, median of {}) | emulator {} on {cores:.2} cores ({} per core) | busiest client above {} | {:.2}× headroom measured, {:.2}× with all {machine} cores | > 1× | {verdict} |",
                self.emulator
                    .iter()
                    .map(|e| e.concurrency.to_string())
                    .collect::<Vec<_>>()
                    .join(" / "),
                best.concurrency,
                best.rps.len(),
                thousands(emulator),
                thousands(per_core),
                thousands(busiest),
                emulator / busiest,
                per_core * machine / busiest,
            );
        }
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

    /// The emulator measurement with the highest median rate.
    fn best_emulator(&self) -> Option<&EmulatorThroughput> {
        self.emulator
            .iter()
            .max_by(|a, b| median(&a.rps).total_cmp(&median(&b.rps)))
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
            "Each `get-exports` answer is a page of {} exports (`Prefer: return=representation`). Each API measurement ran {:.1} s (the stack and bare reqwest in slices of {:.0} ms, A B B A repeated); the breakdown variants rotate their order. The future of one stack call is {} bytes, that of one bare call {} bytes.\n",
            self.page_exports,
            self.seconds_per_measurement,
            self.seconds_per_slice * 1e3,
            self.future_sizes.0,
            self.future_sizes.1
        );
        d.push_str("| Concurrency | Side | req/s per round | Median | Client CPU µs per call (median) | Emulator CPU (cores, median) |\n|---|---|---|---|---|---|\n");
        for cmp in &self.api {
            let list = |v: &[f64]| {
                v.iter()
                    .map(|x| thousands(*x))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                d,
                "| {} | stack | {} | {} | {:.1} | {:.2} |",
                cmp.concurrency,
                list(&cmp.stack),
                thousands(median(&cmp.stack)),
                median(&cmp.stack_cpu_us),
                median(&cmp.emulator_cores)
            );
            let _ = writeln!(
                d,
                "| {} | bare reqwest | {} | {} | {:.1} | |",
                cmp.concurrency,
                list(&cmp.bare),
                thousands(median(&cmp.bare)),
                median(&cmp.bare_cpu_us)
            );
            let (lo, hi) = range(&cmp.ratios());
            let _ = writeln!(
                d,
                "| {} | cost ratio stack / bare | {} | {:.3} (range {lo:.3}–{hi:.3}) | | |",
                cmp.concurrency,
                cmp.ratios()
                    .iter()
                    .map(|r| format!("{r:.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                cmp.ratio()
            );
        }
        for cmp in &self.api {
            let reference = cmp.breakdown.iter().find(|b| b.label == LABEL_BARE);
            let bare = reference.map_or(f64::NAN, |b| median(&b.rps));
            let _ = write!(
                d,
                "\nWhere the per-call time goes at concurrency {} (each variant measured as one block per round, bare reqwest and the stack again among them; medians over the same rounds; wall time is the machine's time per call, {} in flight; CPU time is what the client process spent per call, all threads):\n\n| Variant | wall µs per call | vs bare reqwest | client CPU µs per call | vs bare reqwest |\n|---|---|---|---|---|\n",
                cmp.concurrency, cmp.concurrency
            );
            let bare_cpu = cmp.cpu_of(LABEL_BARE);
            let mut row = |label: &str, rps: f64, cpu: f64| {
                let _ = writeln!(
                    d,
                    "| {label} | {:.1} | {:+.1} | {cpu:.1} | {:+.1} |",
                    1e6 / rps,
                    1e6 / rps - 1e6 / bare,
                    cpu - bare_cpu
                );
            };
            for b in &cmp.breakdown {
                row(b.label, median(&b.rps), median(&b.cpu_us));
            }
        }
        for e in &self.emulator {
            let _ = writeln!(
                d,
                "\nEmulator alone, {} concurrent, body not decoded: {} req/s per round, the emulator using {} cores.",
                e.concurrency,
                e.rps
                    .iter()
                    .map(|x| thousands(*x))
                    .collect::<Vec<_>>()
                    .join(", "),
                e.cores
                    .iter()
                    .map(|x| format!("{x:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if let Ok(dl) = &self.download {
            let list = |v: &[f64]| {
                v.iter()
                    .map(|x| format!("{x:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                d,
                "\nDownload runs (each into a fresh directory after a `sync`, nothing deleted until the end; MB/s over the wall time of the process, start to exit; CPU seconds are user + system of that process):\n\n| Tool | MB/s per run | CPU s per run | Peak memory per run |\n|---|---|---|---|"
            );
            let _ = writeln!(
                d,
                "| downloader | {} | {} | {} |",
                list(&dl.downloader.mb_per_s),
                list2(&dl.downloader.cpu_s),
                dl.downloader
                    .peak_bytes
                    .iter()
                    .map(|b| mib(*b))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Ok(curl) = &dl.curl {
                let _ = writeln!(
                    d,
                    "| {} | {} | {} | – |",
                    curl.tool,
                    list(&curl.mb_per_s),
                    list2(&curl.cpu_s)
                );
            }
            let _ = writeln!(d, "\n{}", dl.verified);
        }
        if let Ok(scale) = &self.scale {
            let _ = writeln!(
                d,
                "\nMany-files runs ({} files, each run into a fresh directory, its output hashed in full and compared with its manifest): {} files/s, CPU s {}, peak memory {}.",
                thousands(scale.files as f64),
                scale
                    .files_per_s
                    .iter()
                    .map(|x| thousands(*x))
                    .collect::<Vec<_>>()
                    .join(", "),
                list2(&scale.cpu_s),
                scale
                    .peak_bytes
                    .iter()
                    .map(|b| mib(*b))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        d
    }

    /// Whether any `get-exports` comparison missed its target.
    pub fn api_missed(&self) -> bool {
        self.api.iter().any(|c| c.ratio() > API_OVERHEAD_TARGET)
    }

    /// Whether the downloader was slower than curl.
    pub fn download_missed(&self) -> bool {
        match &self.download {
            Ok(d) => match &d.curl {
                Ok(curl) => median(&d.downloader.mb_per_s) < median(&curl.mb_per_s),
                Err(_) => false,
            },
            Err(_) => false,
        }
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
        for cmp in &self.api {
            out.push(cmp.attribution());
        }
        if let Ok(d) = &self.download {
            if let Ok(curl) = &d.curl {
                let ours = median(&d.downloader.mb_per_s);
                let theirs = median(&curl.mb_per_s);
                if ours < theirs {
                    let mut sentence = format!(
                        "The downloader reached {:.0}% of curl's throughput ({ours:.1} vs {theirs:.1} MB/s)",
                        ours / theirs * 100.0
                    );
                    if !d.downloader.cpu_s.is_empty() && !curl.cpu_s.is_empty() {
                        let ours_cpu = median(&d.downloader.cpu_s);
                        let theirs_cpu = median(&curl.cpu_s);
                        let _ = write!(
                            sentence,
                            " and used {ours_cpu:.2} CPU s per run against curl's {theirs_cpu:.2} ({:.1}× as much); the emulator, generating the tiles, shares the same cores",
                            ours_cpu / theirs_cpu
                        );
                    }
                    sentence.push('.');
                    out.push(sentence);
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
        if let Ok(scale) = &self.scale
            && let Some(&peak) = scale.peak_bytes.iter().max()
            && peak >= PEAK_MEMORY_TARGET
        {
            out.push(format!(
                "On {} files the downloader's peak memory was {} (target under {}).",
                thousands(scale.files as f64),
                mib(peak),
                mib(PEAK_MEMORY_TARGET)
            ));
        }
        out
    }
}
