//! `download`: copies an export's whole tileset to a directory; the fetch `demo` shares.

use mesh_export::tiles::ExportTileset as _;
use std::path::{Path, PathBuf};

use clap::Args;
use mesh_export::tiles::{
    DownloadError, DownloadOptions, DownloadSummary, Downloader, ExportLinks, FixedUrl,
    SignedUrlSource, TilesetUrl,
};

mod bounds;
mod concurrency;

pub use bounds::DownloadBounds;
pub use concurrency::ConcurrencyArgs;

use super::lookup::{TypeArg, id, which_export};
use super::wait::interruptible;
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `download`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["id", "imodel", "href"]))]
#[command(
    after_help = "Example:\n  mesh-export download fc3aa1e5-5196-4dd9-a73e-4cfda693e576 --out ./tiles"
)]
pub struct DownloadArgs {
    /// Export id.
    #[arg(value_parser = id)]
    pub id: Option<String>,
    /// The newest Complete export of this iModel (with --type).
    #[arg(long, value_name = "ID", value_parser = id)]
    pub imodel: Option<String>,
    /// A raw `_links.mesh.href` (container root plus signed query), or a signed tileset.json URL.
    #[arg(long, value_name = "URL")]
    pub href: Option<String>,
    /// A folder of the same container above the --href tileset (unsigned): the tileset may
    /// name files up to it, and files are written at their paths under it.
    #[arg(long, value_name = "URL", requires = "href", conflicts_with_all = ["id", "imodel"])]
    root: Option<String>,
    /// Export type when choosing by --imodel [default: 3DTiles].
    #[command(flatten)]
    export_type: TypeArg,
    /// Output directory (created if missing; checked writable before the service is called).
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    concurrency: ConcurrencyArgs,
    #[command(flatten)]
    bounds: DownloadBounds,
    /// Walk the tileset only: do not list the container, even where the link allows it.
    #[arg(long)]
    no_listing: bool,
    /// Also download the container's files that the tileset does not name (as `azcopy copy
    /// --recursive` would); needs a link that allows listing.
    #[arg(long, conflicts_with = "no_listing")]
    all_files: bool,
}

/// `download`.
///
/// With `--href` the URL is used as it is. For an export (`ID`, `--imodel`), a refused
/// signature is renewed by reading the export again through get-exports.
pub async fn run(g: &Global, args: DownloadArgs) -> Result<(), CliError> {
    let concurrency = args.concurrency.concurrency()?;
    let export_type = args.export_type.or_3d_tiles()?;
    check_writable(&args.out)?;
    let (source, export_id): (Box<dyn SignedUrlSource>, _) = match &args.href {
        Some(href) => {
            let tileset = match &args.root {
                Some(root) => TilesetUrl::with_root(href, root)?,
                None => TilesetUrl::parse(href)?,
            };
            (Box::new(FixedUrl(tileset)), None)
        }
        None => {
            let client = g.client()?;
            let export = which_export(
                &client,
                args.id.as_deref(),
                args.imodel.as_deref(),
                &export_type,
            )
            .await?;
            let imodel = args
                .imodel
                .clone()
                .or_else(|| export.request.as_ref().and_then(|r| r.i_model_id.clone()));
            let source: Box<dyn SignedUrlSource> = match imodel {
                Some(imodel) => Box::new(ExportLinks::new(client, imodel, &export)?),
                // Without its iModel the export cannot be found through get-exports again.
                None => Box::new(FixedUrl(TilesetUrl::from_export(&export)?)),
            };
            (source, Some(export.id))
        }
    };
    let reporter = Reporter::new(g.json).quiet(g.quiet);
    let fetch = fetch_tileset(
        &reporter,
        source.as_ref(),
        args.out.clone(),
        DownloadOptions {
            use_listing: !args.no_listing,
            all_files: args.all_files,
            ..args.bounds.options(concurrency)
        },
        export_id.as_deref(),
    );
    let summary = match &export_id {
        Some(id) => {
            let resume = format!(
                "mesh-export download {id} --out {}",
                shell_word(&args.out.to_string_lossy())
            );
            interruptible(&reporter, id, resume, fetch).await?
        }
        None => fetch.await?,
    };
    reporter.summary(&summary, export_id.as_deref(), &[]);
    Ok(())
}

/// Downloads the tileset `source` signs into `dir`, showing progress, and on an incomplete
/// download what is missing.
pub async fn fetch_tileset(
    reporter: &Reporter,
    source: &dyn SignedUrlSource,
    dir: PathBuf,
    options: DownloadOptions,
    export_id: Option<&str>,
) -> Result<DownloadSummary, CliError> {
    // The blob store's waits are announced like the service's.
    let options = DownloadOptions {
        retry: mesh_export::RetryOptions {
            on_wait: reporter.wait_observer(),
            ..options.retry
        },
        ..options
    };
    let downloader = Downloader::new(dir).with_options(options);
    let display = reporter.download_progress(downloader.progress());
    let result = downloader.download_from(source).await;
    // An incomplete download is a failure too: its bar goes before the failures are listed,
    // or they would be written onto the bar's last line.
    match &result {
        Ok(_) => display.finish().await,
        Err(_) => display.clear().await,
    }
    if let Err(DownloadError::Incomplete { failures, summary }) = &result {
        reporter.failures(failures, summary, export_id);
    }
    result.map_err(|error| CliError::Download {
        error,
        // Where the files came from, so a failure names its host (the root carries no query).
        store: Some(http_policy::redact::redact_url(
            source.current().root_unsigned(),
        )),
    })
}

/// Fails with a usage error, before any request, when `dir` cannot be created or written to.
fn check_writable(dir: &Path) -> Result<(), CliError> {
    let refuse = |e: std::io::Error| {
        CliError::Usage(format!(
            "cannot write to --out {}: {e}",
            dir.to_string_lossy()
        ))
    };
    std::fs::create_dir_all(dir).map_err(refuse)?;
    // Permission bits do not say what the process may do (root, ACLs, read-only mounts): a
    // file created and removed at once does.
    let probe = dir.join(format!(".mesh-export-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(refuse)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// `text` as one word a POSIX shell reads back unchanged.
pub fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}
