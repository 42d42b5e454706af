//! The bounds under attack: the table rows and findings of [`BoundsResults`].

use std::fmt::Write as _;
use std::time::Duration;

use super::{Results, mib, verdict};
use crate::stats::thousands;

/// The most an attack may take, from the download's start to its clear error.
pub const ATTACK_TIME_TARGET: Duration = Duration::from_secs(10);
/// The most memory the process downloading an attack may reach (bytes).
pub const ATTACK_MEMORY_TARGET: u64 = 256 * 1024 * 1024;
/// The longest read of the subtree naming many buffers.
pub const BUFFER_READ_TARGET: Duration = Duration::from_secs(1);

/// One hostile tileset downloaded with the default options.
pub struct AttackRun {
    /// What the tileset claims.
    pub attack: String,
    /// The first line of the download's error.
    pub outcome: String,
    /// Files complete on disk when it ended.
    pub files: u64,
    /// Seconds from the download's start to its end.
    pub download_s: f64,
    /// Seconds of the whole process, the in-process store's setup included.
    pub process_s: f64,
    /// Peak resident memory of the process, store included, when known.
    pub peak_bytes: Option<u64>,
}

/// The bounds measured under attack.
pub struct BoundsResults {
    /// Each attack, once.
    pub attacks: Vec<AttackRun>,
    /// Buffers the subtree read in-process names.
    pub buffers: usize,
    /// Seconds its read took (median).
    pub buffer_read_s: f64,
}

impl AttackRun {
    fn within_targets(&self) -> bool {
        self.download_s < ATTACK_TIME_TARGET.as_secs_f64()
            && self.peak_bytes.is_some_and(|p| p < ATTACK_MEMORY_TARGET)
    }
}

impl Results {
    /// One row per attack and one for the subtree read.
    pub(super) fn bounds_rows(&self, t: &mut String) {
        let bounds = match &self.bounds {
            Ok(bounds) => bounds,
            Err(why) => {
                let _ = writeln!(
                    t,
                    "| bounds under attack | not run: {why} | – | – | – | not measured |"
                );
                return;
            }
        };
        for run in &bounds.attacks {
            let _ = writeln!(
                t,
                "| attack: {} (default options; peak memory VmHWM) | ends in {:.2} s (process {:.2} s) with \"{}\" ({} files kept), peak {} | – | – | < {} s, < {} | {} |",
                run.attack,
                run.download_s,
                run.process_s,
                run.outcome,
                thousands(run.files as f64),
                run.peak_bytes
                    .map_or_else(|| "unknown (no /proc)".to_owned(), mib),
                ATTACK_TIME_TARGET.as_secs(),
                mib(ATTACK_MEMORY_TARGET),
                verdict(run.within_targets()),
            );
        }
        let _ = writeln!(
            t,
            "| a subtree naming {} buffers, each twice, read (median of 5) | {:.3} s | – | – | < {} s | {} |",
            thousands(bounds.buffers as f64),
            bounds.buffer_read_s,
            BUFFER_READ_TARGET.as_secs(),
            verdict(bounds.buffer_read_s < BUFFER_READ_TARGET.as_secs_f64()),
        );
    }

    /// A finding per bound missed.
    pub(super) fn bounds_findings(&self, out: &mut Vec<String>) {
        let Ok(bounds) = &self.bounds else { return };
        for run in bounds.attacks.iter().filter(|run| !run.within_targets()) {
            out.push(format!(
                "The attack \"{}\" took {:.2} s and {} (targets {} s, {}).",
                run.attack,
                run.download_s,
                run.peak_bytes
                    .map_or_else(|| "unknown memory".to_owned(), mib),
                ATTACK_TIME_TARGET.as_secs(),
                mib(ATTACK_MEMORY_TARGET),
            ));
        }
        if bounds.buffer_read_s >= BUFFER_READ_TARGET.as_secs_f64() {
            out.push(format!(
                "Reading a subtree naming {} buffers took {:.2} s (target under {} s).",
                thousands(bounds.buffers as f64),
                bounds.buffer_read_s,
                BUFFER_READ_TARGET.as_secs()
            ));
        }
    }
}
