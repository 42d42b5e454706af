//! `download`: copies an export's whole tileset to a directory; the fetch `demo` shares.

use mesh_export::tiles::ExportTileset as _;
use std::path::PathBuf;

use clap::Args;
use mesh_export::tiles::{
    DownloadError, DownloadOptions, DownloadSummary, Downloader, ExportLinks, FixedUrl,
    SignedUrlSource, TilesetUrl,
};

mod bounds;
mod concurrency;

pub use bounds::DownloadBounds;
pub use concurrency::ConcurrencyArgs;

use super::lookup::which_export;
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `download`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["id", "imodel", "href"]))]
pub struct DownloadArgs {
    /// Export id.
    id: Option<String>,
    /// The newest Complete export of this iModel (with --type).
    #[arg(long, value_name = "ID")]
    imodel: Option<String>,
    /// A raw `_links.mesh.href` (container root plus signed query), or a signed tileset.json URL.
    #[arg(long, value_name = "URL")]
    href: Option<String>,
    /// A folder of the same container above the --href tileset (unsigned): the tileset may
    /// name files up to it, and files are written at their paths under it.
    #[arg(long, value_name = "URL", requires = "href", conflicts_with_all = ["id", "imodel"])]
    root: Option<String>,
    /// Export type when choosing by --imodel.
    #[arg(long = "type", value_name = "TYPE", default_value = "3DTiles")]
    export_type: String,
    /// Output directory (created if missing).
    #[arg(long, short, value_name = "DIR")]
    out: PathBuf,
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
                &args.export_type,
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
    let reporter = Reporter::new(g.json);
    let summary = fetch_tileset(
        &reporter,
        source.as_ref(),
        args.out,
        DownloadOptions {
            use_listing: !args.no_listing,
            all_files: args.all_files,
            ..args.bounds.options(concurrency)
        },
        export_id.as_deref(),
    )
    .await?;
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
    let downloader = Downloader::new(dir).with_options(options);
    let display = reporter.download_progress(downloader.progress());
    let result = downloader.download_from(source).await;
    display.finish().await;
    if let Err(DownloadError::Incomplete { failures, summary }) = &result {
        reporter.failures(failures, summary, export_id);
    }
    Ok(result?)
}
