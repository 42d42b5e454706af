//! `list`: exports, one page or all of them.

use clap::Args;
use futures::TryStreamExt;
use mesh_export::{Export, ExportFilter};

use super::lookup::{TypeArg, id};
use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `list`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  mesh-export list --imodel b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc --all"
)]
pub struct ListArgs {
    /// Only exports of this iModel.
    #[arg(long, value_name = "ID", value_parser = id)]
    imodel: Option<String>,
    /// Only exports of this changeset.
    #[arg(long, value_name = "ID", value_parser = id)]
    changeset: Option<String>,
    /// Only exports of this type.
    #[command(flatten)]
    export_type: TypeArg,
    /// Only exports a reader of this major tile format version can read (e.g. 36).
    #[arg(long, value_name = "N")]
    tile_version: Option<u32>,
    /// Only exports compatible with this iTwin.js version (e.g. 4.10.2).
    #[arg(long, value_name = "VERSION")]
    itwinjs: Option<String>,
    /// Ask for CDN URLs in the mesh links.
    #[arg(long)]
    cdn: bool,
    /// Order by date instead of by changeset, newest first.
    #[arg(long, value_name = "asc|desc", value_parser = ["asc", "desc"])]
    order: Option<String>,
    /// Exports per page (the service's default is 100, at most 1000).
    #[arg(long, value_name = "N")]
    page_size: Option<u32>,
    /// Name this application to the service as NAME:VERSION [default: mesh-export and its
    /// version].
    #[arg(long, value_name = "NAME:VERSION")]
    client: Option<String>,
    /// Follow every page instead of printing only the first.
    #[arg(long)]
    all: bool,
}

/// `list`.
pub async fn run(g: &Global, args: ListArgs) -> Result<(), CliError> {
    let export_type = args.export_type.checked()?;
    let client = g.client()?;
    let mut filter = ExportFilter::new();
    if let Some(id) = args.imodel {
        filter = filter.i_model_id(id);
    }
    if let Some(id) = args.changeset {
        filter = filter.changeset_id(id);
    }
    if let Some(t) = export_type {
        filter = filter.export_type(t);
    }
    if let Some(major) = args.tile_version {
        filter = filter.tile_version(major);
    }
    if let Some(version) = args.itwinjs {
        filter = filter.itwinjs(version);
    }
    if let Some(order) = args.order {
        filter = filter.order_by(match order.as_str() {
            "asc" => mesh_export::types::ExportOrderBy::DateAsc,
            _ => mesh_export::types::ExportOrderBy::DateDesc,
        });
    }
    if let Some(size) = args.page_size {
        filter = filter.page_size(size);
    }
    if let Some(client) = args.client {
        let (name, version) = client.split_once(':').unwrap_or((client.as_str(), ""));
        filter = filter.client(name, version);
    }
    filter = filter.cdn(args.cdn);
    let (exports, more): (Vec<Export>, bool) = if args.all {
        (client.exports(filter).try_collect().await?, false)
    } else {
        let page = client.list_page(&filter).await?;
        let more = page.links.next.is_some();
        (page.exports, more)
    };
    let reporter = Reporter::new(g.json).quiet(g.quiet);
    reporter.exports(&exports);
    if more {
        reporter.notice(&format!(
            "showing the first {} exports; more exist: pass --all to list them all",
            exports.len()
        ));
    }
    Ok(())
}
