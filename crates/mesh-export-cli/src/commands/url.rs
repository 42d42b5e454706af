//! `url`: prints an export's signed tileset URL.

use clap::Args;
use mesh_export::tiles::ExportTileset as _;
use mesh_export::tiles::TilesetUrl;

use super::lookup::{TypeArg, Which, which_export};
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `url`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  mesh-export url --imodel b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc")]
pub struct UrlArgs {
    #[command(flatten)]
    pub which: Which,
    /// Export type when choosing by --imodel [default: 3DTiles].
    #[command(flatten)]
    export_type: TypeArg,
}

/// `url`.
pub async fn run(g: &Global, args: UrlArgs) -> Result<(), CliError> {
    let export_type = args.export_type.or_3d_tiles()?;
    let client = g.client()?;
    let export = which_export(
        &client,
        args.which.id.as_deref(),
        args.which.imodel.as_deref(),
        &export_type,
    )
    .await?;
    let tileset = TilesetUrl::from_export(&export)?;
    Reporter::new(g.json)
        .quiet(g.quiet)
        .url(Some(&export.id), &tileset);
    Ok(())
}
