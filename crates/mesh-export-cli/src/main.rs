//! `mesh-export`: the command line tool for Bentley's iTwin Mesh Export API.
//!
//! Lists, starts, waits for and deletes exports, prints an export's signed tileset URL, and
//! downloads the whole tileset to a directory. `mesh-export demo` does all of it against an
//! emulator started in-process, with no account needed.

mod commands;
mod output;
mod schema;

use std::process::ExitCode;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use mesh_export::Environment;

/// Exit codes and `--json` shapes, printed by `--help`.
const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  any other error (network, service, I/O, a token endpoint that is down)
  2  usage error (bad flags or arguments)
  3  authentication failed (no or bad credentials, HTTP 401/403 from the service)
  4  not found (no such export, or no Complete export for the iModel)
  5  the export ended Invalid
  6  rate limited (Retry-After beyond the retry budget) or timed out waiting
  7  download incomplete: files failed, or URIs were refused or could not be read
     (listed, and in manifest.json; run again to retry)
  8  the tileset URL's signature expired or was refused, and no fresh one could be had
     (--href cannot be renewed; an export is renewed through get-exports a few times)

With --json, stdout holds one JSON document:
  login             {\"method\", \"client_id\"?, \"token_url\"?, \"expires_in_seconds\"?}
  list              [Export, ...]   (the API's Export objects)
  get, start, wait  Export
  delete            {\"deleted\": ID}
  url               {\"export_id\"?, \"tileset_url\"}   (signed: treat it as a secret)
  download, demo    {\"complete\", \"dir\", \"tileset\", \"manifest\", \"files\", \"bytes\",
                     \"downloaded_files\", \"downloaded_bytes\", \"skipped\", \"retries\", \"resigns\",
                     \"elapsed_seconds\", \"failed\": [{\"path\", \"reason\"}],
                     \"refused\": [{\"uri\", \"in_file\", \"reason\"}], \"export_id\"?}
                    (also on exit 7, with \"complete\": false)
and on failure stderr holds {\"error\": {\"message\", \"exit_code\"}}.
`mesh-export schema [COMMAND]` prints the JSON Schema of these documents.

Credentials: --token or ITWIN_ACCESS_TOKEN; or --share-key or ITWIN_SHARE_KEY (an iTwin share
key, sent as Authorization: Basic); or --client-id and --client-secret, or ITWIN_CLIENT_ID and
ITWIN_CLIENT_SECRET (OAuth2 client credentials against --token-url).
Tokens, secrets and URL signatures are never logged.";

/// The command line tool for Bentley's iTwin Mesh Export API.
#[derive(Debug, Parser)]
#[command(name = "mesh-export", version, about, after_long_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Service root [default: https://api.bentley.com/mesh-export, or the --env one].
    #[arg(long, global = true, env = "MESH_EXPORT_BASE_URL", value_name = "URL")]
    base_url: Option<String>,
    /// Deployment whose service root (and IMS token endpoint) to use when --base-url (and
    /// --token-url) is not given.
    #[arg(long = "env", global = true, value_name = "ENV", value_parser = environment_parser())]
    environment: Option<Environment>,
    /// OAuth2 token endpoint for client credentials [default: https://ims.bentley.com/connect/token, or the --env one].
    #[arg(long, global = true, env = "ITWIN_TOKEN_URL", value_name = "URL")]
    token_url: Option<String>,
    /// OAuth2 client id (with --client-secret).
    #[arg(long, global = true, env = "ITWIN_CLIENT_ID", value_name = "ID")]
    client_id: Option<String>,
    /// OAuth2 client secret (with --client-id).
    #[arg(
        long,
        global = true,
        env = "ITWIN_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    client_secret: Option<String>,
    /// A bearer token to use as it is (wins over client credentials).
    #[arg(
        long,
        global = true,
        env = "ITWIN_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
    /// An iTwin share key, sent as `Authorization: Basic <KEY>` (after --token, before client
    /// credentials).
    #[arg(
        long,
        global = true,
        env = "ITWIN_SHARE_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    share_key: Option<String>,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Print machine-readable JSON on stdout (shapes below).
    #[arg(long, global = true)]
    json: bool,
}

/// `--env`: the library's deployments, each shown with its service root.
fn environment_parser() -> impl TypedValueParser<Value = Environment> {
    const ALL: [(&str, Environment); 3] = [
        ("prod", Environment::Prod),
        ("qa", Environment::Qa),
        ("dev", Environment::Dev),
    ];
    clap::builder::PossibleValuesParser::new(
        ALL.map(|(name, env)| PossibleValue::new(name).help(env.base_url())),
    )
    .map(|name| {
        ALL.into_iter()
            .find(|(n, _)| *n == name)
            .map_or(Environment::Prod, |(_, env)| env)
    })
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the credentials; print the client and the token's expiry (never the token).
    Login,
    /// List exports (the first page, or all with --all).
    List(commands::ListArgs),
    /// Show one export.
    Get(commands::ExportRef),
    /// Start an export (or, with --wait, start it and wait until it is Complete).
    Start(commands::StartArgs),
    /// Wait until an export is Complete.
    Wait(commands::WaitArgs),
    /// Delete an export that is Complete or Invalid.
    Delete(commands::ExportRef),
    /// Print the signed tileset URL of an export (treat it as a secret for about an hour).
    Url(commands::UrlArgs),
    /// Download an export's whole tileset to a directory (resumes an interrupted download).
    Download(commands::DownloadArgs),
    /// Start a local emulator, export a demo iModel, and download its tileset.
    Demo(commands::DemoArgs),
    /// Print the JSON Schema of a command's --json output (of all of them without COMMAND).
    Schema(schema::SchemaArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let json = cli.global.json;
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error.exit_code();
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
    let body = serde_json::json!({"error": {"message": message, "exit_code": 2}});
    eprintln!("{body}");
    ExitCode::from(2)
}

async fn run(cli: Cli) -> Result<(), commands::CliError> {
    let g = &cli.global;
    match cli.command {
        Command::Login => commands::login(g).await,
        Command::List(args) => commands::list(g, args).await,
        Command::Get(args) => commands::get(g, args).await,
        Command::Start(args) => commands::start(g, args).await,
        Command::Wait(args) => commands::wait(g, args).await,
        Command::Delete(args) => commands::delete(g, args).await,
        Command::Url(args) => commands::url(g, args).await,
        Command::Download(args) => commands::download(g, args).await,
        Command::Demo(args) => commands::demo(g, args).await,
        Command::Schema(args) => schema::print(&args),
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
