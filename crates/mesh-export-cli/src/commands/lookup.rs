//! Naming an export on the command line, and finding the export so named.

use clap::Args;
use futures::TryStreamExt;
use mesh_export::{Client, Export, ExportFilter, ExportStatus, ExportType, LastModified};

use crate::error::CliError;

/// `get ID`.
#[derive(Debug, Args)]
pub struct ExportRef {
    /// Export id.
    #[arg(value_parser = id)]
    pub id: String,
    /// The export's iModel: `get` reads the export through get-exports instead of the
    /// deprecated get-export [default: looked up once with get-export].
    #[arg(long, value_name = "ID", value_parser = id)]
    pub imodel: Option<String>,
}

/// Which export: an id, or the newest Complete one of an iModel.
#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "which")]
pub struct Which {
    /// Export id.
    #[arg(value_parser = id)]
    pub id: Option<String>,
    /// The newest Complete export of this iModel (with --type).
    #[arg(long, value_name = "ID", value_parser = id)]
    pub imodel: Option<String>,
}

/// The export types the spec lists for `start-export`, as the service spells them.
pub const KNOWN_TYPES: [&str; 4] = ["3DTiles", "3DFT", "CESIUM", "IMODEL"];

/// An id (of an export, iModel, iTwin or changeset) as the command line gives it, checked
/// before any request. The spec types ids as plain strings; every id the service issues is a
/// GUID or hex, so letters, digits, `-`, `_` and `.` are all an id can hold. Anything else
/// (a space, `/`, `?`, a pasted URL) would change the request's path or query.
pub fn id(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("an id cannot be empty".into());
    }
    if text.len() > 128 {
        return Err("an id is at most 128 characters".into());
    }
    match text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        Some(c) => Err(format!(
            "{c:?} cannot be part of an id (ids look like fc3aa1e5-5196-4dd9-a73e-4cfda693e576)"
        )),
        None => Ok(text.to_owned()),
    }
}

/// `--type`: one of [`KNOWN_TYPES`] in any case (written as the spec spells it), or with
/// `--any-type` any value, sent as it is (the API's enum is open).
#[derive(Debug, Args)]
pub struct TypeArg {
    /// Export type [possible values: 3DTiles, 3DFT, CESIUM, IMODEL].
    #[arg(long = "type", value_name = "TYPE", value_parser = type_name)]
    pub export_type: Option<String>,
    /// Send a --type value this version does not know, as it is.
    #[arg(long, requires = "export_type")]
    pub any_type: bool,
}

/// `--type`'s parser: lists the known values for help and completions, keeps any text (the
/// check that needs `--any-type` is [`TypeArg::checked`]).
fn type_name(text: &str) -> Result<String, String> {
    Ok(KNOWN_TYPES
        .iter()
        .find(|k| k.eq_ignore_ascii_case(text))
        .map_or_else(|| text.to_owned(), |k| (*k).to_owned()))
}

impl TypeArg {
    /// The type given, checked (`None` when none was given).
    pub fn checked(&self) -> Result<Option<ExportType>, CliError> {
        let Some(text) = &self.export_type else {
            return Ok(None);
        };
        if !self.any_type && !KNOWN_TYPES.contains(&text.as_str()) {
            return Err(CliError::Usage(format!(
                "invalid value '{text}' for '--type <TYPE>': the valid values are {} \
                 (--any-type sends an unknown one as it is)",
                KNOWN_TYPES.join(", ")
            )));
        }
        Ok(Some(text.parse().unwrap_or(ExportType::X3dTiles)))
    }

    /// The type given, checked, or 3D Tiles.
    pub fn or_3d_tiles(&self) -> Result<ExportType, CliError> {
        Ok(self.checked()?.unwrap_or(ExportType::X3dTiles))
    }
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
async fn newest_complete(
    client: &Client,
    imodel: &str,
    wanted: &ExportType,
) -> Result<Export, CliError> {
    let kind = wanted.as_str();
    let filter = ExportFilter::new().i_model_id(imodel);
    let mut exports: Vec<Export> = client
        .exports(filter)
        .try_filter(|e| {
            let ok = e.status == ExportStatus::Complete
                && e.request
                    .as_ref()
                    .and_then(|r| r.export_type.as_ref())
                    .is_none_or(|t| t.eq_ignore_ascii_case(wanted));
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
    kind: &ExportType,
) -> Result<Export, CliError> {
    match (id, imodel) {
        (Some(id), imodel) => export_by_id(client, id, imodel).await,
        (None, Some(imodel)) => newest_complete(client, imodel, kind).await,
        (None, None) => Err(CliError::Usage("name an export: ID or --imodel".into())),
    }
}
