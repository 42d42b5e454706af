//! `list`: exports, one page or all of them.

use clap::Args;
use futures::TryStreamExt;
use mesh_export::{Export, ExportFilter};

use super::lookup::export_type;
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only exports of this iModel.
    #[arg(long, value_name = "ID")]
    imodel: Option<String>,
    /// Only exports of this changeset.
    #[arg(long, value_name = "ID")]
    changeset: Option<String>,
    /// Only exports of this type (3DTiles, 3DFT, CESIUM, IMODEL).
    #[arg(long = "type", value_name = "TYPE")]
    export_type: Option<String>,
    /// Follow every page instead of printing only the first.
    #[arg(long)]
    all: bool,
}

/// `list`.
pub async fn run(g: &Global, args: ListArgs) -> Result<(), CliError> {
    let client = g.client()?;
    let mut filter = ExportFilter::new();
    if let Some(id) = args.imodel {
        filter = filter.i_model_id(id);
    }
    if let Some(id) = args.changeset {
        filter = filter.changeset_id(id);
    }
    if let Some(t) = args.export_type {
        filter = filter.export_type(export_type(&t));
    }
    let exports: Vec<Export> = if args.all {
        client.exports(filter).try_collect().await?
    } else {
        client.list_page(&filter).await?.exports
    };
    Reporter::new(g.json).exports(&exports);
    Ok(())
}
