//! `start`: starts an export, and with `--wait` waits for it.

use clap::Args;
use mesh_export::StartExport;

use super::lookup::export_type;
use super::wait::WaitFlags;
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The iModel to export.
    #[arg(long, value_name = "ID")]
    imodel: String,
    /// The changeset to export [default: the latest].
    #[arg(long, value_name = "ID")]
    changeset: Option<String>,
    /// Export type.
    #[arg(long = "type", value_name = "TYPE", default_value = "3DTiles")]
    export_type: String,
    /// Wait until the export is Complete, showing its progress.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    wait_options: WaitFlags,
}

/// `start`.
pub async fn run(g: &Global, args: StartArgs) -> Result<(), CliError> {
    let client = g.client()?;
    let reporter = Reporter::new(g.json);
    let request = StartExport {
        i_model_id: args.imodel.clone(),
        changeset_id: args.changeset,
        export_type: Some(export_type(&args.export_type)),
        geometry_options: None,
        view_definition_filter: None,
    };
    let mut export = client.start_export(request).await?;
    if args.wait {
        let options = args.wait_options.options(&reporter)?;
        export = client
            .wait_for_export(&args.imodel, &export.id, options)
            .await?;
        reporter.finish_status();
    }
    reporter.export(&export);
    Ok(())
}
