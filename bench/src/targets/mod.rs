//! The benchmark targets, one per file: `get-exports` against bare reqwest
//! ([`get_exports`]), the emulator alone ([`emulator_throughput`]), the tileset download
//! against curl ([`tileset_download`]), the downloader on many small files ([`many_files`]),
//! the download over link profiles against curl and azcopy ([`link`]), and the bounds under
//! attack ([`bounds`]); and what they share.

pub mod bounds;
pub mod emulator_throughput;
pub mod get_exports;
pub mod link;
pub mod many_files;
pub mod tileset_download;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mesh_export::types::{ExportType, StartExport};

use crate::api::{self, Api, Measured, Side};
use crate::emulator::EmulatorProcess;

/// Emulator CPU use in cores over `wall`, from two readings of its CPU time.
fn cores(before: Option<f64>, after: Option<f64>, wall: Duration) -> f64 {
    match (before, after) {
        (Some(b), Some(a)) => (a - b) / wall.as_secs_f64(),
        _ => f64::NAN,
    }
}

/// Measures `side` and the emulator's CPU use meanwhile.
async fn measure_with_cpu(
    api: &Arc<Api>,
    emulator: &EmulatorProcess,
    side: Side,
    concurrency: usize,
    duration: Duration,
) -> Result<(Measured, f64), String> {
    let before = emulator.cpu_seconds();
    let started = Instant::now();
    let measured = api::measure(api, side, concurrency, duration).await?;
    let cores = cores(before, emulator.cpu_seconds(), started.elapsed());
    Ok((measured, cores))
}

/// Starts an export on the emulator behind `api`, waits for it and returns its signed mesh href.
fn exported_mesh_href(runtime: &tokio::runtime::Runtime, api: &Api) -> Result<String, String> {
    const IMODEL: &str = "5c1a7d0e-bench-tile-0000-000000000002";
    let client = api.client();
    let export = runtime.block_on(async {
        let export = client
            .start_export(StartExport {
                i_model_id: IMODEL.into(),
                changeset_id: None,
                export_type: Some(ExportType::X3dTiles),
                geometry_options: None,
                view_definition_filter: None,
            })
            .await
            .map_err(|e| format!("start-export: {e}"))?;
        client
            .wait_for_export(IMODEL, &export.id, api::fast_wait())
            .await
            .map_err(|e| format!("waiting for the export: {e}"))
    })?;
    export
        .links
        .as_ref()
        .and_then(|l| l.mesh.as_ref())
        .map(|m| m.href.clone())
        .ok_or_else(|| "the complete export has no mesh link".to_owned())
}
