//! `delete`: removes an export that is Complete or Invalid.

use super::lookup::ExportRef;
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `delete`.
pub async fn run(g: &Global, args: ExportRef) -> Result<(), CliError> {
    g.client()?.delete_export(&args.id).await?;
    Reporter::new(g.json).deleted(&args.id);
    Ok(())
}
