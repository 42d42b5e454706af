//! `url`: prints an export's signed tileset URL.

use clap::Args;
use mesh_export::tiles::ExportTileset as _;
use mesh_export::tiles::TilesetUrl;

use super::lookup::{Which, which_export};
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `url`.
#[derive(Debug, Args)]
pub struct UrlArgs {
    #[command(flatten)]
    which: Which,
    /// Export type when choosing by --imodel.
    #[arg(long = "type", value_name = "TYPE", default_value = "3DTiles")]
    export_type: String,
}

/// `url`.
pub async fn run(g: &Global, args: UrlArgs) -> Result<(), CliError> {
    let client = g.client()?;
    let export = which_export(
        &client,
        args.which.id.as_deref(),
        args.which.imodel.as_deref(),
        &args.export_type,
    )
    .await?;
    let tileset = TilesetUrl::from_export(&export)?;
    Reporter::new(g.json).url(Some(&export.id), &tileset);
    Ok(())
}
