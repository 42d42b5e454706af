//! Naming an export on the command line, and finding the export so named.

use clap::Args;
use futures::TryStreamExt;
use mesh_export::{Client, Export, ExportFilter, ExportStatus, ExportType, LastModified};

use crate::error::CliError;

/// `get ID`, `delete ID`.
#[derive(Debug, Args)]
pub struct ExportRef {
    /// Export id.
    pub id: String,
    /// The export's iModel: lets `get` read it through get-exports instead of the deprecated
    /// get-export.
    #[arg(long, value_name = "ID")]
    pub imodel: Option<String>,
}

/// Which export: an id, or the newest Complete one of an iModel.
#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "which")]
pub struct Which {
    /// Export id.
    pub id: Option<String>,
    /// The newest Complete export of this iModel (with --type).
    #[arg(long, value_name = "ID")]
    pub imodel: Option<String>,
}

/// The export type `--type` names; an unknown name means 3D Tiles.
pub fn export_type(text: &str) -> ExportType {
    text.parse().unwrap_or(ExportType::X3dTiles)
}

/// One export by id: through get-exports when the iModel is known, else get-export.
pub async fn export_by_id(
    client: &Client,
    id: &str,
    imodel: Option<&str>,
) -> Result<Export, CliError> {
    match imodel {
        Some(imodel) => Ok(client.find_export(imodel, id).await?),
        None => {
            #[allow(deprecated)]
            let export = client.get_export(id).await?;
            Ok(export)
        }
    }
}

/// The newest Complete export of an iModel and type.
async fn newest_complete(client: &Client, imodel: &str, kind: &str) -> Result<Export, CliError> {
    let wanted = export_type(kind);
    let filter = ExportFilter::new().i_model_id(imodel);
    let mut exports: Vec<Export> = client
        .exports(filter)
        .try_filter(|e| {
            let ok = e.status == ExportStatus::Complete
                && e.request
                    .as_ref()
                    .and_then(|r| r.export_type.as_ref())
                    .is_none_or(|t| t.eq_ignore_ascii_case(&wanted));
            futures::future::ready(ok)
        })
        .try_collect()
        .await?;
    exports.sort_by_key(|e| std::cmp::Reverse(e.last_modified_at()));
    exports
        .into_iter()
        .next()
        .ok_or_else(|| CliError::NotFound(format!("no Complete {kind} export of iModel {imodel}")))
}

/// The export an id, or else an iModel (its newest Complete export of type `kind`), names.
pub async fn which_export(
    client: &Client,
    id: Option<&str>,
    imodel: Option<&str>,
    kind: &str,
) -> Result<Export, CliError> {
    match (id, imodel) {
        (Some(id), imodel) => export_by_id(client, id, imodel).await,
        (None, Some(imodel)) => newest_complete(client, imodel, kind).await,
        (None, None) => Err(CliError::Usage("name an export: ID or --imodel".into())),
    }
}
