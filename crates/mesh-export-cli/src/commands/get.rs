//! `get`: one export, its signed link redacted unless `--show-url` asks for it.

use clap::Args;

use super::lookup::{ExportRef, export_by_id};
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `get`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mesh-export get fc3aa1e5-5196-4dd9-a73e-4cfda693e576 --imodel b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc"
)]
pub struct GetArgs {
    #[command(flatten)]
    pub export: ExportRef,
    /// Print the export's signed link (`_links.mesh.href`) as it is: a secret for about an hour.
    #[arg(long)]
    show_url: bool,
}

/// `get`.
pub async fn run(g: &Global, args: GetArgs) -> Result<(), CliError> {
    let client = g.client()?;
    let mut export = export_by_id(&client, &args.export.id, args.export.imodel.as_deref()).await?;
    if !args.show_url
        && let Some(mesh) = export.links.as_mut().and_then(|l| l.mesh.as_mut())
    {
        mesh.href = http_policy::redact::redact(&mesh.href);
    }
    Reporter::new(g.json).quiet(g.quiet).export(&export);
    Ok(())
}
