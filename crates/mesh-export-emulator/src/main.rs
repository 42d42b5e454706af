//! `mesh-export-emulator`: serve a local Mesh Export service until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mesh_export_emulator::{Emulator, EmulatorBuilder, IModel, ImplicitScheme};

/// A local emulator of Bentley's iTwin Mesh Export service.
///
/// Prints `listening on http://HOST:PORT` as its first line, then serves until killed.
/// Clients get tokens at /connect/token and use /mesh-export as the service root. People sign
/// in with the native client demo-native-client (any loopback redirect URI) as demo-user /
/// demo-password; the issuer is the base URL (OpenID discovery at
/// /.well-known/openid-configuration).
#[derive(Debug, Parser)]
#[command(name = "mesh-export-emulator", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// A known OAuth2 client as ID:SECRET (repeatable; default demo-client:demo-secret).
    #[arg(long = "client", value_name = "ID:SECRET", value_parser = parse_client)]
    clients: Vec<(String, String)>,
    /// Accept this share key as `Authorization: Basic <KEY>` (repeatable).
    #[arg(long = "share-key", value_name = "KEY")]
    share_keys: Vec<String>,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    token_ttl: u64,
    /// Time an export takes to complete, in seconds (fractions allowed).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = parse_seconds)]
    export_duration: f64,
    /// An iModel the service has, in its iTwin, with its changesets oldest first (repeatable).
    /// Once one is given, start-export of any other iModel answers 404.
    #[arg(long = "imodel", value_name = "ID:ITWIN_ID[:CHANGESET,...]", value_parser = parse_imodel)]
    imodels: Vec<IModel>,
    /// Make exports of this iModel end Invalid (repeatable).
    #[arg(long = "fail-imodel", value_name = "ID")]
    fail_imodels: Vec<String>,
    /// Requests per minute per client on the Mesh Export routes; 0 is no limit.
    #[arg(long, value_name = "N", default_value_t = 0)]
    rate_limit: u32,
    /// Probability (0 to 1) of an injected fault per Mesh Export or blob request: a 503, a 429,
    /// a dropped connection, a slow answer, or a request handled whose answer is then lost or
    /// replaced by a 503.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate)]
    fault_rate: f64,
    /// Seed of fault injection and tile content.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Number of .glb tiles in each export's tileset (at least 2).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(2..))]
    tiles: u32,
    /// Approximate size of each tile in bytes.
    #[arg(long, value_name = "N", default_value_t = 16 * 1024)]
    tile_bytes: u64,
    /// Blob (tileset file) requests answered at once; one more is answered 503 ServerBusy, as
    /// an Azure Storage account past its limits answers. 0 is no limit.
    #[arg(long, value_name = "N", default_value_t = 0)]
    blob_concurrency: u32,
    /// Milliseconds every blob answer waits before it is sent: a store far away or busy.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    blob_delay_ms: u64,
    /// Validity of signed tile links, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    sas_ttl: u64,
    /// Permissions of signed tile links, as Azure's `sp`: r reads files, l lists the container.
    #[arg(long, value_name = "LETTERS", default_value = "rl")]
    sas_permissions: String,
    /// Serve a sparse 3D Tiles 1.1 implicit tileset (binary .subtree files) of this scheme
    /// instead of the explicit one; --tiles then does not apply.
    #[arg(long, value_name = "quadtree|octree")]
    implicit: Option<ImplicitScheme>,
    /// Refuse the blob at this path under every export's container root (e.g. tiles/3.glb)
    /// with 403 whatever the signature, while serving the others (repeatable).
    #[arg(long = "forbid-blob", value_name = "PATH")]
    forbid_blobs: Vec<String>,
    /// Write one export's tileset (with the tile options above) into DIR and exit, for
    /// offline validation of the content.
    #[arg(long, value_name = "DIR")]
    dump_tileset: Option<PathBuf>,
}

fn parse_client(value: &str) -> Result<(String, String), String> {
    match value.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_owned(), secret.to_owned()))
        }
        _ => Err("expected ID:SECRET with both parts non-empty".to_owned()),
    }
}

fn parse_imodel(value: &str) -> Result<IModel, String> {
    let mut parts = value.splitn(3, ':');
    let (Some(id), Some(itwin)) = (parts.next(), parts.next()) else {
        return Err("expected ID:ITWIN_ID[:CHANGESET,...]".to_owned());
    };
    if id.is_empty() || itwin.is_empty() {
        return Err("the iModel and iTwin ids must not be empty".to_owned());
    }
    let changesets = parts
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|c| !c.is_empty());
    Ok(changesets.fold(IModel::new(id, itwin), IModel::changeset))
}

fn parse_seconds(value: &str) -> Result<f64, String> {
    let seconds: f64 = value
        .parse()
        .map_err(|_| format!("not a number: {value}"))?;
    if seconds.is_finite() && (0.0..=1e9).contains(&seconds) {
        Ok(seconds)
    } else {
        Err("expected a number of seconds between 0 and 1e9".to_owned())
    }
}

fn parse_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value
        .parse()
        .map_err(|_| format!("not a number: {value}"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err("expected a probability between 0 and 1".to_owned())
    }
}

impl Args {
    fn builder(&self) -> EmulatorBuilder {
        let mut builder = Emulator::builder()
            .addr(self.addr)
            .token_ttl(Duration::from_secs(self.token_ttl))
            .export_duration(Duration::from_secs_f64(self.export_duration))
            .rate_limit(self.rate_limit)
            .fault_rate(self.fault_rate)
            .seed(self.seed)
            .tiles(self.tiles)
            .tile_bytes(self.tile_bytes)
            .blob_concurrency(self.blob_concurrency)
            .blob_delay(Duration::from_millis(self.blob_delay_ms))
            .sas_ttl(Duration::from_secs(self.sas_ttl))
            .sas_permissions(&self.sas_permissions);
        for (id, secret) in &self.clients {
            builder = builder.client(id, secret);
        }
        if let Some(scheme) = self.implicit {
            builder = builder.implicit(scheme);
        }
        for imodel in &self.imodels {
            builder = builder.imodel(imodel.clone());
        }
        for imodel in &self.fail_imodels {
            builder = builder.fail_imodel(imodel);
        }
        for key in &self.share_keys {
            builder = builder.share_key(key);
        }
        for path in &self.forbid_blobs {
            builder = builder.forbid_blob(path);
        }
        builder
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Colour only on a terminal and without `NO_COLOR`: a log redirected to a file stays text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    if let Some(dir) = &args.dump_tileset {
        let config = args.builder().config().clone();
        return match mesh_export_emulator::dump_tileset(&config, "dump", dir) {
            Ok(files) => {
                println!("wrote {files} files to {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!(
                    "error: cannot write the tileset to {}: {err}",
                    dir.display()
                );
                ExitCode::FAILURE
            }
        };
    }
    let emulator = match args.builder().start().await {
        Ok(emulator) => emulator,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "listening on {}", emulator.base_url());
    let _ = stdout.flush();
    drop(stdout);
    wait_for_signal().await;
    tracing::info!("stopping");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
