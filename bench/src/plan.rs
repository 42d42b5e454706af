//! How long and how large each part of a run is, quick or full.

use std::time::Duration;

/// How long and how large each part runs.
pub struct Plan {
    /// Rounds of the API comparison.
    pub rounds: usize,
    /// Length of one API measurement.
    pub measurement: Duration,
    /// A B B A groups each round's measurement of the stack and bare reqwest is cut into.
    pub slice_groups: usize,
    /// Warm-up of each side before the rounds.
    pub warmup: Duration,
    /// Rounds of the emulator's own throughput.
    pub emulator_rounds: usize,
    /// Tiles in the downloaded tileset and bytes per tile.
    pub tiles: u32,
    pub tile_bytes: u64,
    /// Runs of each download tool.
    pub download_rounds: usize,
    /// Tiles in the many-files tileset, and runs of the downloader on it.
    pub scale_tiles: u32,
    pub scale_rounds: usize,
}

impl Plan {
    /// Length of one slice of the stack or bare reqwest within a round.
    pub fn slice(&self) -> Duration {
        self.measurement / (2 * self.slice_groups) as u32
    }

    /// The plan of a `--quick` run, or of a full one.
    pub fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                rounds: 5,
                measurement: Duration::from_millis(600),
                slice_groups: 4,
                warmup: Duration::from_millis(800),
                emulator_rounds: 3,
                tiles: 400,
                tile_bytes: 100_000,
                download_rounds: 3,
                scale_tiles: 10_000,
                scale_rounds: 1,
            }
        } else {
            Plan {
                rounds: 9,
                measurement: Duration::from_millis(1500),
                slice_groups: 10,
                warmup: Duration::from_secs(2),
                emulator_rounds: 5,
                tiles: 2000,
                tile_bytes: 105_000,
                download_rounds: 5,
                scale_tiles: 100_000,
                scale_rounds: 3,
            }
        }
    }
}

/// Bytes of each tile of the many-files tileset: the emulator's smallest (one box).
pub const SCALE_TILE_BYTES: u64 = 2_000;

/// Concurrency of the concurrent API comparison.
pub const CONCURRENT: usize = 32;
/// Connections used to measure the emulator alone.
pub const EMULATOR_CONCURRENCY: [usize; 2] = [32, 64];
