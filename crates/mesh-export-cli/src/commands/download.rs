//! `download`: copies an export's whole tileset to a directory; the fetch `demo` shares.

use mesh_export::tiles::ExportTileset as _;
use std::path::PathBuf;

use clap::Args;
use mesh_export::tiles::{
    Concurrency, DownloadError, DownloadOptions, DownloadSummary, Downloader, ExportLinks,
    FixedUrl, SignedUrlSource, TilesetUrl,
};

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
}

/// How many files are fetched at the same time: found as the download goes unless pinned.
#[derive(Debug, Clone, Copy, Args)]
pub struct ConcurrencyArgs {
    /// Always fetch N files at the same time. Without it the number is found as the download
    /// goes: it starts at --min-concurrency, doubles while throughput grows, settles where
    /// more files in flight stop adding throughput, and backs off when the store answers 429
    /// or 503.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024),
          conflicts_with_all = ["min_concurrency", "max_concurrency"])]
    concurrency: Option<u16>,
    /// The fewest files in flight when the number is found as the download goes [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    min_concurrency: Option<u16>,
    /// The most files in flight when the number is found as the download goes; each holds a
    /// buffer of up to 1 MiB [default: 256].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    max_concurrency: Option<u16>,
}

impl ConcurrencyArgs {
    /// The downloader's setting; a ceiling below the floor is a usage error.
    pub fn concurrency(&self) -> Result<Concurrency, CliError> {
        if let Some(files) = self.concurrency {
            return Ok(Concurrency::Fixed(usize::from(files)));
        }
        let min = self
            .min_concurrency
            .map_or(Concurrency::DEFAULT_MIN, usize::from);
        let max = self
            .max_concurrency
            .map_or(Concurrency::DEFAULT_MAX, usize::from);
        if max < min {
            return Err(CliError::Usage(format!(
                "--max-concurrency ({max}) is below --min-concurrency ({min})"
            )));
        }
        Ok(Concurrency::Adaptive { min, max })
    }
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
        concurrency,
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
    concurrency: Concurrency,
    export_id: Option<&str>,
) -> Result<DownloadSummary, CliError> {
    let options = DownloadOptions {
        concurrency,
        ..DownloadOptions::default()
    };
    let downloader = Downloader::new(dir).with_options(options);
    let display = reporter.download_progress(downloader.progress());
    let result = downloader.download_from(source).await;
    display.finish().await;
    if let Err(DownloadError::Incomplete { failures, summary }) = &result {
        reporter.failures(failures, summary, export_id);
    }
    Ok(result?)
}
