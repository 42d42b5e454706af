//! What the downloader's bounds cost under attack: an implicit tileset whose subtrees claim
//! millions of files, downloaded with the default options in a child process (for its peak
//! memory and wall time), and a subtree naming 100,000 buffers read in-process.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use mesh_export::tiles::{DownloadError, Downloader, TilesetUrl};
use mesh_export_test_support::attacks::{claims_everything, subtree_naming_buffers};
use mesh_export_test_support::blobs::BlobStore;
use serde::{Deserialize, Serialize};
use tiles3d::TilePath;
use tiles3d::walk::{self, FileKind};

use crate::procfs::peak_resident_kib;
use crate::report::{AttackRun, BoundsResults};
use crate::stats::median;

/// The buffers of the subtree read in-process.
const BUFFERS: usize = 100_000;
/// Reads of it; the median is reported.
const BUFFER_READS: usize = 5;

/// A hostile tileset the child downloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Attack {
    /// A quadtree with `subtreeLevels` 10 and `availableLevels` 32 whose every subtree, a
    /// hundred bytes, claims all its tiles and all 2^20 child subtrees: before the bound,
    /// twelve of them grew a download to 1.9 GiB in 40 s.
    ClaimsEverything,
}

impl Attack {
    fn files(self) -> HashMap<String, Vec<u8>> {
        match self {
            Attack::ClaimsEverything => claims_everything(10, 32, 1),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Attack::ClaimsEverything => {
                "subtrees of 10 levels, each claiming all 2^20 child subtrees"
            }
        }
    }
}

/// What the attack child reports on its last stdout line.
#[derive(Debug, Serialize, Deserialize)]
struct AttackReport {
    /// The download's error, first line; `None` if it completed (which it must not).
    outcome: Option<String>,
    /// Files complete on disk when it ended.
    files: u64,
    /// Wall time of the download alone, in milliseconds.
    download_ms: f64,
    /// The child's peak resident set (`VmHWM`), in KiB, the store it serves from included.
    peak_kib: Option<u64>,
}

/// Measures both attacks and the subtree read.
pub fn bounds(exe: &Path) -> Result<BoundsResults, String> {
    let mut attacks = Vec::new();
    for &attack in <Attack as clap::ValueEnum>::value_variants() {
        eprintln!("bounds: {attack:?} attack");
        attacks.push(run_attack(exe, attack)?);
    }
    eprintln!("bounds: a subtree naming {BUFFERS} buffers");
    let reads = (0..BUFFER_READS)
        .map(|_| read_buffers_subtree())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BoundsResults {
        attacks,
        buffers: BUFFERS,
        buffer_read_s: median(&reads),
    })
}

/// Runs the attack child and reads its report.
fn run_attack(exe: &Path, attack: Attack) -> Result<AttackRun, String> {
    let started = Instant::now();
    let output = Command::new(exe)
        .args(["attack-child", "--attack"])
        .arg(
            clap::ValueEnum::to_possible_value(&attack)
                .expect("no variant is skipped")
                .get_name(),
        )
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the attack child: {e}"))?;
    let wall = started.elapsed();
    if !output.status.success() {
        return Err(format!("the attack child failed ({})", output.status));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let report: AttackReport = serde_json::from_str(last)
        .map_err(|e| format!("unreadable attack child report {last:?}: {e}"))?;
    Ok(AttackRun {
        attack: attack.describe().to_owned(),
        outcome: report
            .outcome
            .unwrap_or_else(|| "completed: the bound did not hold".to_owned()),
        files: report.files,
        download_s: report.download_ms / 1000.0,
        process_s: wall.as_secs_f64(),
        peak_bytes: report.peak_kib.map(|kib| kib * 1024),
    })
}

/// The hidden `attack-child` subcommand: serves the attack's files from an in-process blob
/// store, downloads them with the default options into a temporary directory, and prints an
/// [`AttackReport`].
pub fn attack_child_main(attack: Attack) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let out = match tempfile::tempdir() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("error: temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(async {
        let store = BlobStore::start(attack.files()).await;
        let tileset = TilesetUrl::from_root_href(&store.href()).expect("the store's href");
        let started = Instant::now();
        let result = Downloader::new(out.path()).download(&tileset).await;
        let download_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (outcome, files) = match result {
            Ok(summary) => (None, summary.files),
            Err(e) => {
                let files = match &e {
                    DownloadError::Incomplete { summary, .. } => summary.files,
                    _ => 0,
                };
                let first = e.to_string().lines().next().unwrap_or_default().to_owned();
                (Some(first), files)
            }
        };
        AttackReport {
            outcome,
            files,
            download_ms,
            peak_kib: None,
        }
    });
    drop(runtime);
    let report = AttackReport {
        peak_kib: peak_resident_kib(),
        ..report
    };
    let line = serde_json::to_string(&report).expect("a report serializes");
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{line}");
    ExitCode::SUCCESS
}

/// Reads a subtree naming [`BUFFERS`] buffers (each twice) in the context the tileset's
/// implicit tiling gives it, and returns the seconds it took.
fn read_buffers_subtree() -> Result<f64, String> {
    let tileset = claims_everything(2, 5, 0)
        .remove("tileset.json")
        .expect("the attack has a tileset");
    let entry = TilePath::parse("tileset.json").expect("a valid path");
    let walked = walk::read(&FileKind::Tileset, &entry, &tileset[..]).map_err(|e| e.to_string())?;
    let root = walked
        .references
        .iter()
        .find(|r| matches!(r.kind, Some(FileKind::Subtree(_))))
        .ok_or("the tileset names no root subtree")?;
    let kind = root.kind.clone().expect("matched above");
    let path = TilePath::parse(&root.uri).ok_or("the root subtree's name is not a path")?;
    let subtree = subtree_naming_buffers(BUFFERS);

    let started = Instant::now();
    let walked = walk::read(&kind, &path, subtree.as_slice()).map_err(|e| e.to_string())?;
    let took = started.elapsed();
    if walked.references.len() != BUFFERS {
        return Err(format!(
            "the subtree named {} files, not its {BUFFERS} buffers",
            walked.references.len()
        ));
    }
    Ok(took.as_secs_f64())
}
