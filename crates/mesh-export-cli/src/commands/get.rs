//! `get`: one export.

use super::lookup::{ExportRef, export_by_id};
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `get`.
pub async fn run(g: &Global, args: ExportRef) -> Result<(), CliError> {
    let client = g.client()?;
    let export = export_by_id(&client, &args.id, args.imodel.as_deref()).await?;
    Reporter::new(g.json).export(&export);
    Ok(())
}
