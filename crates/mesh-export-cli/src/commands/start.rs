//! `start`: starts an export (or, with `--reuse`, finds one already there), and with `--wait`
//! waits for it.

use clap::Args;
use mesh_export::StartExport;

use super::lookup::{TypeArg, id};
use super::wait::{WaitFlags, interruptible, resume_wait};
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `start`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mesh-export start --imodel b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc --reuse --wait"
)]
pub struct StartArgs {
    /// The iModel to export.
    #[arg(long, value_name = "ID", value_parser = id)]
    pub imodel: String,
    /// The changeset to export [default: the latest].
    #[arg(long, value_name = "ID", value_parser = id)]
    changeset: Option<String>,
    #[command(flatten)]
    export_type: TypeArg,
    /// Reuse an export of the same iModel, changeset and type that is running or Complete
    /// instead of starting another.
    #[arg(long)]
    reuse: bool,
    /// Wait until the export is Complete, showing its progress.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    wait_options: WaitFlags,
}

/// `start`.
pub async fn run(g: &Global, args: StartArgs) -> Result<(), CliError> {
    let export_type = args.export_type.or_3d_tiles()?;
    let client = g.client()?;
    let reporter = Reporter::new(g.json).quiet(g.quiet);
    let request = StartExport {
        i_model_id: args.imodel.clone(),
        changeset_id: args.changeset,
        export_type: Some(export_type),
        geometry_options: None,
        view_definition_filter: None,
    };
    let mut export = if args.reuse {
        client.get_or_start_export(request).await?
    } else {
        client.start_export(request).await?
    };
    if args.wait {
        let options = args.wait_options.options(&reporter)?;
        let waiting = async {
            Ok(client
                .wait_for_export(&args.imodel, &export.id, options)
                .await?)
        };
        let resume = resume_wait(&export.id, &args.imodel);
        let waited = interruptible(&reporter, &export.id, resume, waiting).await;
        reporter.finish_status();
        export = waited?;
    }
    reporter.export(&export);
    Ok(())
}
