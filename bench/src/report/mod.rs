//! The results of one run and their markdown: the summary table ([`table`]), the per-round
//! details ([`details`]), the targets missed ([`findings`]), the link profiles' tables
//! ([`link`]) and `BENCHMARKS.md` ([`markdown`]).

mod bounds;
mod details;
mod findings;
pub mod link;
mod markdown;
mod table;

use crate::stats::median;

pub use bounds::{AttackRun, BoundsResults};

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
    /// The bounds under attack, or why they were not measured.
    pub bounds: Result<BoundsResults, String>,
    /// The downloads over link profiles, or why they did not run.
    pub link: Result<link::LinkResults, String>,
    /// `codegen --check` in-process wall time (median of several runs), in ms.
    pub codegen_ms: Option<f64>,
    /// One `cargo xtask codegen --check` subprocess, in ms.
    pub codegen_subprocess_ms: Option<f64>,
    /// The load averages (1, 5, 15 minutes) before and after the run.
    pub load: (String, String),
    /// Sizes in bytes of the future of one stack call and of one bare call.
    pub future_sizes: (usize, usize),
}

/// The result cell of a target.
fn verdict(pass: bool) -> &'static str {
    if pass { "**pass**" } else { "**MISS**" }
}

/// Bytes as decimal megabytes.
fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Values with two decimals, comma-separated, or `unknown`.
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

/// Bytes as binary mebibytes.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub use markdown::benchmarks_md;
