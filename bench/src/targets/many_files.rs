//! The downloader alone on a tileset of many small files, served by an emulator of its own: its
//! rate and its memory at scale.

use std::path::Path;

use mesh_export::tiles::Manifest;

use super::exported_mesh_href;
use crate::api::Api;
use crate::download;
use crate::emulator::{EmulatorProcess, EmulatorSettings};
use crate::plan::{Plan, SCALE_TILE_BYTES};
use crate::report::ScaleResults;

/// The downloader on a tileset of `plan.scale_tiles` small files, served by an emulator of its
/// own: files per second and peak memory, each run's output checked against its manifest.
pub fn many_files(
    runtime: &tokio::runtime::Runtime,
    emulator_exe: &Path,
    exe: &Path,
    plan: &Plan,
    concurrency: usize,
) -> Result<ScaleResults, String> {
    let emulator = EmulatorProcess::start(
        emulator_exe,
        &EmulatorSettings {
            tiles: plan.scale_tiles,
            tile_bytes: SCALE_TILE_BYTES,
        },
    )?;
    let (api, _) = runtime.block_on(Api::setup(&emulator))?;
    let href = exported_mesh_href(runtime, &api)?;
    let work = tempfile::Builder::new()
        .prefix("mesh-export-bench-scale-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let mut results = ScaleResults {
        files: 0,
        bytes: 0,
        concurrency,
        files_per_s: Vec::new(),
        peak_bytes: Vec::new(),
        cpu_s: Vec::new(),
    };
    for round in 1..=plan.scale_rounds {
        eprintln!(
            "many-files download {round}/{}: {} tiles",
            plan.scale_rounds, plan.scale_tiles
        );
        let dir = work.path().join(format!("run-{round}"));
        download::fresh_dir(&dir)?;
        let (wall, report) = download::run_downloader(exe, &href, &dir, Some(concurrency))?;
        let manifest = Manifest::read(&dir)
            .map_err(|e| format!("reading the manifest: {e}"))?
            .ok_or("the downloader wrote no manifest")?;
        let from_manifest = download::manifest_checksums(&manifest);
        download::compare(
            "the downloader",
            &from_manifest,
            &download::tree_checksums(&dir)?,
        )?;
        let files = from_manifest.len() as u64;
        if files < u64::from(plan.scale_tiles) || report.files != files {
            return Err(format!(
                "the downloader reported {} files and its manifest lists {files}, for {} tiles",
                report.files, plan.scale_tiles
            ));
        }
        results.files = files;
        results.bytes = report.bytes;
        results.files_per_s.push(files as f64 / wall.as_secs_f64());
        if let Some(kib) = report.peak_kib {
            results.peak_bytes.push(kib * 1024);
        }
        if let Some(cpu) = report.cpu_s {
            results.cpu_s.push(cpu);
        }
    }
    Ok(results)
}
