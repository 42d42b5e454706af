//! The command line: the options of a run, and the hidden subcommand the download benchmark
//! runs itself as.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::targets::bounds::Attack;

/// Benchmarks of the Mesh Export client against bare reqwest, curl and azcopy, on the local
/// emulator and Azurite.
#[derive(Debug, Parser)]
#[command(name = "mesh-export-bench")]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Hidden>,
    /// A run of a few minutes: fewer rounds, smaller tilesets; writes no BENCHMARKS.md.
    #[arg(long)]
    pub quick: bool,
    /// `codegen --check` wall time measured by xtask in-process, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub codegen_check_ms: Option<f64>,
    /// Wall time of one `cargo xtask codegen --check` process, in milliseconds.
    #[arg(long, value_name = "MS")]
    pub codegen_subprocess_ms: Option<f64>,
    /// The emulator binary (default: `mesh-export-emulator` next to this binary).
    #[arg(long, value_name = "PATH")]
    pub emulator: Option<PathBuf>,
    /// Files both downloaders fetch at the same time.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub download_concurrency: usize,
    /// Where the report goes (default: BENCHMARKS.md at the workspace root, full runs only;
    /// given explicitly, any run writes it).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Write no report file, even on a full run.
    #[arg(long)]
    pub no_report: bool,
    /// Tiles of the many-files tileset, for profiling (default: 100,000, or 10,000 with
    /// `--quick`).
    #[arg(long, value_name = "N", hide = true)]
    pub scale_tiles: Option<u32>,
    /// One-way delays of the link profiles, in milliseconds (default: 0,20,50).
    #[arg(long, value_name = "MS,...", value_delimiter = ',')]
    pub profiles: Option<Vec<u64>>,
    /// Tiles of the link benchmark's tileset, for profiling (default: 2,000, or 200 with
    /// `--quick`).
    #[arg(long, value_name = "N", hide = true)]
    pub link_tiles: Option<u32>,
    /// Counted runs of each tool at each link profile (default: 3, or 2 with `--quick`).
    #[arg(long, value_name = "N", hide = true)]
    pub link_rounds: Option<usize>,
    /// Run one part only, for profiling (`api`, `download`, `link` or `bounds`); implies --no-report.
    #[arg(long, value_name = "PART", hide = true)]
    pub only: Option<Part>,
    /// For profiling: send `get-exports` the stack's way (`stack`) or bare reqwest's (`bare`),
    /// 32 at a time for 10 seconds, print the rate and exit.
    #[arg(long, value_name = "SIDE", hide = true)]
    pub profile: Option<ProfileSide>,
}

/// A side `--profile` can run alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileSide {
    /// The mesh-export stack.
    Stack,
    /// Bare reqwest.
    Bare,
}

/// A part of the benchmark that `--only` can select.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// `get-exports` and the emulator's throughput.
    Api,
    /// The tileset download on loopback, and the many-files download.
    Download,
    /// The downloads over link profiles, against curl and azcopy.
    Link,
    /// The downloader's bounds under attack.
    Bounds,
}

// Subcommands the benchmark runs itself as; not for users.
#[derive(Debug, Subcommand)]
pub enum Hidden {
    /// Downloads the tileset whose signed mesh href arrives on stdin (used by the benchmark).
    #[command(hide = true)]
    DownloadChild {
        /// Output directory.
        #[arg(long)]
        dir: PathBuf,
        /// Files at the same time (default: the downloader's own).
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Downloads a hostile tileset served in-process (used by the benchmark).
    #[command(hide = true)]
    AttackChild {
        /// Which one.
        #[arg(long, value_enum)]
        attack: Attack,
    },
}
