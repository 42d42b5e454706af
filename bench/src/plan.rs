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
    /// The downloads over link profiles.
    pub link: LinkPlan,
}

/// How the link benchmark runs: its profiles, its tileset, its tools.
pub struct LinkPlan {
    /// One-way delays of the profiles, in milliseconds; 0 is loopback without the proxy.
    pub profiles_ms: Vec<u64>,
    /// Tiles of the tileset (plus its tileset files) and bytes per tile.
    pub tiles: u32,
    pub tile_bytes: u64,
    /// Counted runs of each tool at each profile, against each server.
    pub rounds: usize,
    /// Fixed concurrencies the downloader is swept over; 8 is the fixed default before
    /// adaptive concurrency, the loopback reference.
    pub sweep: Vec<usize>,
    /// Whether the emulator is measured too, beside Azurite.
    pub emulator: bool,
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
                link: LinkPlan {
                    profiles_ms: LINK_PROFILES_MS.to_vec(),
                    tiles: 200,
                    tile_bytes: LINK_TILE_BYTES,
                    rounds: 2,
                    sweep: vec![8, 32, 128],
                    emulator: false,
                },
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
                link: LinkPlan {
                    profiles_ms: LINK_PROFILES_MS.to_vec(),
                    tiles: 2_000,
                    tile_bytes: LINK_TILE_BYTES,
                    rounds: 3,
                    sweep: vec![8, 16, 32, 64, 128],
                    emulator: true,
                },
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

/// One-way delays of the link profiles: loopback, a nearby region, a far one.
pub const LINK_PROFILES_MS: [u64; 3] = [0, 20, 50];
/// Bytes of each tile of the link benchmark's tileset: 16 KiB, as the measurement.
pub const LINK_TILE_BYTES: u64 = 16 * 1024;
/// Files curl fetches at the same time over a link: its own default for `--parallel`.
pub const CURL_PARALLEL_DEFAULT: usize = 50;
