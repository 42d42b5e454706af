//! `delete`: removes an export that is Complete or Invalid, after asking on a terminal.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;

use super::lookup::id;
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `delete`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  mesh-export delete fc3aa1e5-5196-4dd9-a73e-4cfda693e576 --yes")]
pub struct DeleteArgs {
    /// Export id.
    #[arg(value_parser = id)]
    pub id: String,
    /// The export's iModel; only named in the hint when the export is still running.
    #[arg(long, value_name = "ID", value_parser = id)]
    pub imodel: Option<String>,
    /// Delete without asking (required when standard input is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

/// `delete`.
pub async fn run(g: &Global, args: DeleteArgs) -> Result<(), CliError> {
    if !args.yes {
        confirm(&args.id)?;
    }
    g.client()?.delete_export(&args.id).await?;
    Reporter::new(g.json).quiet(g.quiet).deleted(&args.id);
    Ok(())
}

/// Asks on the terminal whether to delete export `id`; without a terminal, `--yes` is needed.
fn confirm(id: &str) -> Result<(), CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Usage(format!(
            "not deleting export {id}: pass --yes to delete without a terminal to ask on"
        )));
    }
    eprint!("delete export {id}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Other(format!("cannot read the answer: {e}")))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::Usage(format!(
            "not deleting export {id}: not confirmed"
        ))),
    }
}
