//! `demo`: an emulator started in-process, one export of a demo iModel, and its download.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use mesh_export::tiles::ExportLinks;
use mesh_export::{Client, ClientCredentials, ExportType, StartExport, WaitOptions};
use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, ImplicitScheme};

use super::download::{ConcurrencyArgs, DownloadBounds, fetch_tileset};
use super::wait::seconds;
use crate::error::CliError;
use crate::global::Global;
use crate::output::{self, Reporter};

/// The iModel the demo exports.
const DEMO_IMODEL: &str = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc";

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(default_value = "./mesh-export-demo")]
    dir: PathBuf,
    /// Tiles in the demo tileset.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    tiles: u32,
    /// Approximate bytes per tile.
    #[arg(long, default_value_t = 64 * 1024)]
    tile_bytes: u64,
    /// Seconds the emulated export takes.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    export_seconds: f64,
    /// Serve a sparse 3D Tiles 1.1 implicit tileset of this scheme instead; --tiles then does
    /// not apply.
    #[arg(long, value_name = "quadtree|octree")]
    implicit: Option<ImplicitScheme>,
    #[command(flatten)]
    concurrency: ConcurrencyArgs,
}

/// `demo`.
pub async fn run(g: &Global, args: DemoArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let concurrency = args.concurrency.concurrency()?;
    let reporter = Reporter::new(g.json).quiet(g.quiet);
    let mut emulator = Emulator::builder()
        .client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        .tiles(args.tiles)
        .tile_bytes(args.tile_bytes)
        .export_duration(seconds(args.export_seconds, "--export-seconds")?);
    if let Some(scheme) = args.implicit {
        emulator = emulator.implicit(scheme);
    }
    let emulator = emulator
        .start()
        .await
        .map_err(|e| CliError::Other(format!("cannot start the emulator: {e}")))?;
    reporter.note(&format!(
        "emulator listening at {} (token endpoint {})",
        emulator.mesh_export_url(),
        emulator.token_url()
    ));
    let credentials =
        ClientCredentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).token_url(emulator.token_url());
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .client_credentials(credentials)
        .build()?;
    let request = StartExport {
        i_model_id: DEMO_IMODEL.into(),
        changeset_id: None,
        export_type: Some(ExportType::X3dTiles),
        geometry_options: None,
        view_definition_filter: None,
    };
    let export = client.get_or_start_export(request).await?;
    reporter.note(&format!(
        "export {} of iModel {DEMO_IMODEL}: {}",
        export.id,
        export.status.as_str()
    ));
    let interval = seconds(args.export_seconds / 10.0, "--export-seconds")?
        .clamp(Duration::from_millis(50), Duration::from_secs(3));
    let reporter_for_status = reporter.clone();
    let options = WaitOptions::default()
        .interval(interval)
        .on_status(move |e| reporter_for_status.status(e));
    let export = client
        .wait_for_export(DEMO_IMODEL, &export.id, options)
        .await?;
    reporter.finish_status();
    let source = ExportLinks::new(client, DEMO_IMODEL, &export)?;
    let summary = fetch_tileset(
        &reporter,
        &source,
        args.dir,
        DownloadBounds::default().options(concurrency),
        Some(&export.id),
    )
    .await;
    emulator.shutdown().await;
    let summary = summary?;
    reporter.summary(&summary, Some(&export.id), &[]);
    reporter.note(&format!(
        "demo finished in {}",
        output::duration(started.elapsed())
    ));
    Ok(())
}
