//! `mesh-export`: the command line tool for Bentley's iTwin Mesh Export API.
//!
//! Lists, starts, waits for and deletes exports, prints an export's signed tileset URL, and
//! downloads the whole tileset to a directory. `mesh-export demo` does all of it against an
//! emulator started in-process, with no account needed (with the default `demo` feature).

mod commands;
mod error;
mod exit;
mod global;
mod help;
mod output;
mod panic_hook;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{
    delete, download, get, list, login, logout, lookup, schema, start, url, wait,
};
use crate::error::CliError;
use crate::exit::Exit;
use crate::global::Global;

/// The command line tool for Bentley's iTwin Mesh Export API.
#[derive(Debug, Parser)]
#[command(name = "mesh-export", version, about, after_long_help = help::after_long_help())]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in with a browser (--client-id alone), or check the credentials in use and where
    /// they came from.
    Login(login::LoginArgs),
    /// Forget the saved sign-in and revoke its refresh token.
    Logout,
    /// List exports (the first page, or all with --all).
    List(list::ListArgs),
    /// Show one export.
    Get(lookup::ExportRef),
    /// Start an export (or, with --wait, start it and wait until it is Complete).
    Start(start::StartArgs),
    /// Wait until an export is Complete.
    Wait(wait::WaitArgs),
    /// Delete an export that is Complete or Invalid.
    Delete(lookup::ExportRef),
    /// Print the signed tileset URL of an export (treat it as a secret for about an hour).
    Url(url::UrlArgs),
    /// Download an export's whole tileset to a directory (resumes an interrupted download).
    Download(download::DownloadArgs),
    /// Start a local emulator, export a demo iModel, and download its tileset.
    #[cfg(feature = "demo")]
    Demo(commands::demo::DemoArgs),
    /// Print the JSON Schema of a command's --json output (of all of them without COMMAND).
    Schema(schema::SchemaArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    panic_hook::install();
    init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Other.into();
        }
    };
    let json = cli.global.json;
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => Exit::Success.into(),
        Err(error) => {
            let code = error.exit().code();
            if json {
                let body =
                    serde_json::json!({"error": {"message": error.to_string(), "exit_code": code}});
                eprintln!("{body}");
            } else {
                eprintln!("error: {error}");
                if let Some(hint) = error.hint() {
                    eprintln!("hint: {hint}");
                }
            }
            ExitCode::from(code)
        }
    }
}

/// Reports a command line clap rejected. `--help` and `--version` print as usual; with `--json`
/// anywhere before `--`, a usage error keeps the JSON error contract (stderr
/// `{"error": {"message", "exit_code": 2}}`), also when an argument is not UTF-8.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !json || informational {
        error.exit();
    }
    let message = error.render().to_string();
    let message = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("usage error")
        .trim_start_matches("error: ")
        .to_owned();
    let body = serde_json::json!({"error": {"message": message, "exit_code": Exit::Usage.code()}});
    eprintln!("{body}");
    Exit::Usage.into()
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let g = &cli.global;
    match cli.command {
        Command::Login(args) => login::run(g, args).await,
        Command::Logout => logout::run().await,
        Command::List(args) => list::run(g, args).await,
        Command::Get(args) => get::run(g, args).await,
        Command::Start(args) => start::run(g, args).await,
        Command::Wait(args) => wait::run(g, args).await,
        Command::Delete(args) => delete::run(g, args).await,
        Command::Url(args) => url::run(g, args).await,
        Command::Download(args) => download::run(g, args).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => commands::demo::run(g, args).await,
        Command::Schema(args) => schema::run(&args),
    }
}

/// Logs to stderr; `RUST_LOG` wins over `-v`.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "error",
        1 => "warn,mesh_export=info,mesh_export_cli=info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
