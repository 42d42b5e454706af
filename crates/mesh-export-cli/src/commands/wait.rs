//! `wait`: polls an export until it is Complete; the polling flags `start --wait` shares, and
//! what Ctrl-C says while a command waits.

use std::future::Future;
use std::time::Duration;

use clap::Args;
use mesh_export::WaitOptions;

use super::lookup::{export_by_id, id};
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// Polling options.
#[derive(Debug, Args)]
pub struct WaitFlags {
    /// Seconds between polls.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    interval: f64,
    /// Seconds to wait in all before giving up (exit code 6); the export goes on.
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    timeout: f64,
}

/// `wait`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mesh-export wait fc3aa1e5-5196-4dd9-a73e-4cfda693e576 --timeout 1800"
)]
pub struct WaitArgs {
    /// Export id.
    #[arg(value_parser = id)]
    pub id: String,
    /// The export's iModel [default: looked up with get-export].
    #[arg(long, value_name = "ID", value_parser = id)]
    pub imodel: Option<String>,
    #[command(flatten)]
    wait_options: WaitFlags,
}

/// `value` seconds, or a usage error that names the flag `name`.
pub fn seconds(value: f64, name: &str) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| CliError::Usage(format!("{name} must be a non-negative number of seconds")))
}

impl WaitFlags {
    /// Waiting as the flags say, each status shown by `reporter`.
    pub fn options(&self, reporter: &Reporter) -> Result<WaitOptions, CliError> {
        let reporter = reporter.clone();
        Ok(WaitOptions::default()
            .interval(seconds(self.interval, "--interval")?)
            .timeout(seconds(self.timeout, "--timeout")?)
            .on_status(move |export| reporter.status(export)))
    }
}

/// The command that waits for export `id` of `imodel` again.
pub fn resume_wait(id: &str, imodel: &str) -> String {
    format!("mesh-export wait {id} --imodel {imodel}")
}

/// Runs `work` until it ends or Ctrl-C: then the display is cleared and the error names the
/// export, says it goes on at the service, and gives `resume`, the command that picks up.
pub async fn interruptible<T>(
    reporter: &Reporter,
    export_id: &str,
    resume: String,
    work: impl Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    tokio::select! {
        result = work => result,
        signal = tokio::signal::ctrl_c() => {
            if let Err(e) = signal {
                tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            }
            reporter.finish_status();
            crate::output::clear_drawn();
            Err(CliError::Interrupted {
                export_id: export_id.to_owned(),
                resume,
            })
        }
    }
}

/// `wait`.
pub async fn run(g: &Global, args: WaitArgs) -> Result<(), CliError> {
    let client = g.client()?;
    let reporter = Reporter::new(g.json).quiet(g.quiet);
    let imodel = match args.imodel {
        Some(imodel) => imodel,
        None => export_by_id(&client, &args.id, None)
            .await?
            .request
            .and_then(|r| r.i_model_id)
            .ok_or_else(|| {
                CliError::Usage("the export does not name its iModel: pass --imodel".into())
            })?,
    };
    let options = args.wait_options.options(&reporter)?;
    let waiting = async { Ok(client.wait_for_export(&imodel, &args.id, options).await?) };
    let export = interruptible(&reporter, &args.id, resume_wait(&args.id, &imodel), waiting).await;
    reporter.finish_status();
    reporter.export(&export?);
    Ok(())
}
