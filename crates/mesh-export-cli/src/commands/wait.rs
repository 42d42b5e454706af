//! `wait`: polls an export until it is Complete; the polling flags `start --wait` shares.

use std::time::Duration;

use clap::Args;
use mesh_export::WaitOptions;

use super::lookup::export_by_id;
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// Polling options.
#[derive(Debug, Args)]
pub struct WaitFlags {
    /// Seconds between polls.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    interval: f64,
    /// Seconds to wait in all before giving up (exit code 6).
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    timeout: f64,
}

/// `wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Export id.
    id: String,
    /// The export's iModel [default: looked up with get-export].
    #[arg(long, value_name = "ID")]
    imodel: Option<String>,
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

/// `wait`.
pub async fn run(g: &Global, args: WaitArgs) -> Result<(), CliError> {
    let client = g.client()?;
    let reporter = Reporter::new(g.json);
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
    let export = client.wait_for_export(&imodel, &args.id, options).await?;
    reporter.finish_status();
    reporter.export(&export);
    Ok(())
}
