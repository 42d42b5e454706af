//! `download`'s concurrency flags: pinned, or the bounds of the number the download finds.

use clap::Args;
use mesh_export::tiles::Concurrency;

use crate::error::CliError;
/// How many files are fetched at the same time: found as the download goes unless pinned.
#[derive(Debug, Clone, Copy, Args)]
pub struct ConcurrencyArgs {
    /// Always fetch N files at the same time. Without it the number is found as the download
    /// goes: it starts at 32 (within the bounds), doubles while throughput grows, settles where
    /// more files in flight stop adding throughput, and backs off when the store answers 429
    /// or 503.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024),
          conflicts_with_all = ["min_concurrency", "max_concurrency"])]
    concurrency: Option<u16>,
    /// The fewest files in flight when the number is found as the download goes [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    min_concurrency: Option<u16>,
    /// The most files in flight when the number is found as the download goes; each holds a
    /// buffer of up to 1 MiB [default: 256].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    max_concurrency: Option<u16>,
}

impl ConcurrencyArgs {
    /// The downloader's setting; a ceiling below the floor is a usage error.
    pub fn concurrency(&self) -> Result<Concurrency, CliError> {
        if let Some(files) = self.concurrency {
            return Ok(Concurrency::Fixed(usize::from(files)));
        }
        let min = self
            .min_concurrency
            .map_or(Concurrency::DEFAULT_MIN, usize::from);
        let max = self
            .max_concurrency
            .map_or(Concurrency::DEFAULT_MAX, usize::from);
        if max < min {
            return Err(CliError::Usage(format!(
                "--max-concurrency ({max}) is below --min-concurrency ({min})"
            )));
        }
        Ok(Concurrency::Adaptive { min, max })
    }
}
