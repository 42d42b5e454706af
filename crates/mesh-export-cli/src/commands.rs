//! The subcommands, their arguments, and how their failures map to exit codes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use futures::TryStreamExt;
use mesh_export::auth::{AuthError, ShareKey, StaticToken, TokenSource};
use mesh_export::tiles::{
    DownloadError, DownloadSummary, Downloader, ExportLinks, FixedUrl, SignedUrlSource, TilesetUrl,
    TilesetUrlError,
};
use mesh_export::{
    Client, ClientCredentials, Export, ExportFilter, ExportStatus, ExportType, LastModified,
    StartExport, WaitOptions,
};
use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, ImplicitScheme};

use crate::Global;
use crate::output::{self, Reporter};

/// The iModel the demo exports.
const DEMO_IMODEL: &str = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc";

/// Why a command failed; each kind has its exit code (see `--help`).
#[derive(Debug)]
pub enum CliError {
    /// From the service or its client.
    Api(Box<mesh_export::Error>),
    /// From the tileset download.
    Download(DownloadError),
    /// A tileset URL that cannot be used.
    Url(TilesetUrlError),
    /// Bad or missing input that clap could not catch.
    Usage(String),
    /// Nothing matched.
    NotFound(String),
    /// Credentials missing or refused.
    Auth(String),
    /// Anything else.
    Other(String),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Api(e) => write!(f, "{e}"),
            CliError::Download(e) => write!(f, "{e}"),
            CliError::Url(e) => write!(f, "{e}"),
            CliError::Usage(m) | CliError::NotFound(m) | CliError::Auth(m) | CliError::Other(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for CliError {}

impl From<mesh_export::Error> for CliError {
    fn from(e: mesh_export::Error) -> Self {
        CliError::Api(Box::new(e))
    }
}

impl From<DownloadError> for CliError {
    fn from(e: DownloadError) -> Self {
        CliError::Download(e)
    }
}

impl From<TilesetUrlError> for CliError {
    fn from(e: TilesetUrlError) -> Self {
        match e {
            TilesetUrlError::NoMeshLink(_) => CliError::NotFound(e.to_string()),
            e => CliError::Url(e),
        }
    }
}

impl From<AuthError> for CliError {
    fn from(e: AuthError) -> Self {
        CliError::Api(Box::new(mesh_export::Error::Auth(e)))
    }
}

/// The exit code of a failed token request: 3 when the credentials are missing or refused
/// (HTTP 401/403, or an OAuth2 error that names the client or grant); 6 when rate limited; 1
/// for any other answer, or an endpoint that is down, which is no verdict on the credentials.
fn auth_exit_code(e: &AuthError) -> u8 {
    match e {
        AuthError::TokenEndpoint { status: 429, .. } => 6,
        AuthError::TokenEndpoint {
            status: 401 | 403, ..
        } => 3,
        AuthError::TokenEndpoint { error, .. } => match error.as_deref() {
            Some("invalid_client" | "unauthorized_client" | "invalid_grant") => 3,
            _ => 1,
        },
        AuthError::Transport(_) | AuthError::Decode(_) => 1,
        _ => 3,
    }
}

impl CliError {
    /// The process exit code, as `--help` documents them.
    pub fn exit_code(&self) -> u8 {
        use mesh_export::Error as E;
        match self {
            CliError::Usage(_) => 2,
            CliError::Auth(_) => 3,
            CliError::NotFound(_) => 4,
            CliError::Api(e) => match e.as_ref() {
                E::Auth(auth) => auth_exit_code(auth),
                E::ExportNotFound { .. } => 4,
                E::ExportFailed { .. } => 5,
                E::RateLimited { .. } | E::WaitTimeout { .. } => 6,
                e => match e.status() {
                    Some(401 | 403) => 3,
                    Some(404) => 4,
                    Some(429) => 6,
                    _ => 1,
                },
            },
            CliError::Download(DownloadError::Incomplete { .. }) => 7,
            CliError::Download(DownloadError::SignatureRejected { .. }) => 8,
            CliError::Download(_) | CliError::Url(_) | CliError::Other(_) => 1,
        }
    }

    /// What the user can do about it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Download(DownloadError::Incomplete { failures, summary }) => Some(format!(
                "{} file(s) failed and {} URI(s) were not followed (listed above and in \
                 manifest.json); run the same command again to retry: complete files are kept",
                failures.len(),
                summary.refused.len()
            )),
            CliError::Api(_) if self.exit_code() != 3 => None,
            CliError::Api(_) | CliError::Auth(_) => Some(
                "pass --token, or --client-id and --client-secret (or set ITWIN_ACCESS_TOKEN, or \
                 ITWIN_CLIENT_ID and ITWIN_CLIENT_SECRET)"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// `get ID`, `delete ID`.
#[derive(Debug, Args)]
pub struct ExportRef {
    /// Export id.
    id: String,
    /// The export's iModel: lets `get` read it through get-exports instead of the deprecated
    /// get-export.
    #[arg(long, value_name = "ID")]
    imodel: Option<String>,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only exports of this iModel.
    #[arg(long, value_name = "ID")]
    imodel: Option<String>,
    /// Only exports of this changeset.
    #[arg(long, value_name = "ID")]
    changeset: Option<String>,
    /// Only exports of this type (3DTiles, 3DFT, CESIUM, IMODEL).
    #[arg(long = "type", value_name = "TYPE")]
    export_type: Option<String>,
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

/// `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The iModel to export.
    #[arg(long, value_name = "ID")]
    imodel: String,
    /// The changeset to export [default: the latest].
    #[arg(long, value_name = "ID")]
    changeset: Option<String>,
    /// Export type.
    #[arg(long = "type", value_name = "TYPE", default_value = "3DTiles")]
    export_type: String,
    /// Wait until the export is Complete, showing its progress.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    wait_options: WaitFlags,
}

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

/// Which export: an id, or the newest Complete one of an iModel.
#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "which")]
pub struct Which {
    /// Export id.
    id: Option<String>,
    /// The newest Complete export of this iModel (with --type).
    #[arg(long, value_name = "ID")]
    imodel: Option<String>,
}

/// `url`.
#[derive(Debug, Args)]
pub struct UrlArgs {
    #[command(flatten)]
    which: Which,
    /// Export type when choosing by --imodel.
    #[arg(long = "type", value_name = "TYPE", default_value = "3DTiles")]
    export_type: String,
}

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
    /// Export type when choosing by --imodel.
    #[arg(long = "type", value_name = "TYPE", default_value = "3DTiles")]
    export_type: String,
    /// Output directory (created if missing).
    #[arg(long, short, value_name = "DIR")]
    out: PathBuf,
    /// Files fetched at the same time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output directory.
    #[arg(default_value = "./mesh-export-demo")]
    dir: PathBuf,
    /// Tiles in the demo tileset.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    tiles: u32,
    /// Approximate bytes per tile.
    #[arg(long, default_value_t = 64 * 1024)]
    tile_bytes: u64,
    /// Seconds the emulated export takes.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    export_seconds: f64,
    /// Serve a sparse 3D Tiles 1.1 implicit tileset of this scheme instead; --tiles then does
    /// not apply.
    #[arg(long, value_name = "quadtree|octree")]
    implicit: Option<ImplicitScheme>,
    /// Files fetched at the same time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
}

fn seconds(value: f64, name: &str) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| CliError::Usage(format!("{name} must be a non-negative number of seconds")))
}

impl WaitFlags {
    fn options(&self, reporter: &Reporter) -> Result<WaitOptions, CliError> {
        let reporter = reporter.clone();
        Ok(WaitOptions::default()
            .interval(seconds(self.interval, "--interval")?)
            .timeout(seconds(self.timeout, "--timeout")?)
            .on_status(move |export| reporter.status(export)))
    }
}

/// The credentials the flags and environment give: a token, else a share key, else client
/// credentials.
fn token_source(g: &Global) -> Result<(Arc<dyn TokenSource>, output::Login), CliError> {
    if let Some(token) = g.token.as_deref().filter(|t| !t.is_empty()) {
        let login = output::Login {
            method: "token",
            client_id: None,
            token_url: None,
            expires_in_seconds: None,
        };
        return Ok((Arc::new(StaticToken::new(token)), login));
    }
    if let Some(key) = g.share_key.as_deref().filter(|k| !k.is_empty()) {
        let login = output::Login {
            method: "share_key",
            client_id: None,
            token_url: None,
            expires_in_seconds: None,
        };
        return Ok((Arc::new(ShareKey::new(key)), login));
    }
    match (g.client_id.as_deref(), g.client_secret.as_deref()) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            let token_url = g
                .token_url
                .clone()
                .unwrap_or_else(|| g.environment.unwrap_or_default().token_url().to_owned());
            let credentials = ClientCredentials::new(id, secret).token_url(token_url.clone());
            let login = output::Login {
                method: "client_credentials",
                client_id: Some(id.to_owned()),
                token_url: Some(token_url),
                expires_in_seconds: None,
            };
            Ok((Arc::new(credentials), login))
        }
        (Some(_), None) => Err(CliError::Auth(
            "--client-id is set but --client-secret is not".into(),
        )),
        (None, Some(_)) => Err(CliError::Auth(
            "--client-secret is set but --client-id is not".into(),
        )),
        _ => Err(CliError::Auth("no credentials".into())),
    }
}

fn base_url(g: &Global) -> String {
    if let Some(url) = &g.base_url {
        return url.clone();
    }
    g.environment.unwrap_or_default().base_url().to_owned()
}

fn client_with(g: &Global, source: Arc<dyn TokenSource>) -> Result<Client, CliError> {
    Ok(Client::builder()
        .base_url(base_url(g))
        .token_source(source)
        .user_agent(concat!("mesh-export-cli/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

fn client(g: &Global) -> Result<Client, CliError> {
    let (source, _) = token_source(g)?;
    client_with(g, source)
}

fn export_type(text: &str) -> ExportType {
    text.parse().unwrap_or(ExportType::X3dTiles)
}

/// `login`.
pub async fn login(g: &Global) -> Result<(), CliError> {
    let (source, mut login) = token_source(g)?;
    let token = source.token().await?;
    login.expires_in_seconds = token.remaining().map(|r| r.as_secs());
    // A token is only proven by the service accepting it: read one export.
    // Any failure fails the login: 401/403 (exit 3) refuse the token; anything else (exit 1,
    // or 6 when rate limited) leaves it unproven.
    let client = client_with(g, source)?;
    match client.list_page(&ExportFilter::new().page_size(1)).await {
        Ok(_) => {}
        Err(e) if matches!(e.status(), Some(401 | 403)) => return Err(e.into()),
        Err(e @ (mesh_export::Error::Auth(_) | mesh_export::Error::RateLimited { .. })) => {
            return Err(e.into());
        }
        Err(e) => {
            return Err(CliError::Other(format!(
                "the service did not accept the login check: {e}"
            )));
        }
    }
    Reporter::new(g.json).login(&login);
    Ok(())
}

/// `list`.
pub async fn list(g: &Global, args: ListArgs) -> Result<(), CliError> {
    let client = client(g)?;
    let mut filter = ExportFilter::new();
    if let Some(id) = args.imodel {
        filter = filter.i_model_id(id);
    }
    if let Some(id) = args.changeset {
        filter = filter.changeset_id(id);
    }
    if let Some(t) = args.export_type {
        filter = filter.export_type(export_type(&t));
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
    let exports: Vec<Export> = if args.all {
        client.exports(filter).try_collect().await?
    } else {
        client.list_page(&filter).await?.exports
    };
    Reporter::new(g.json).exports(&exports);
    Ok(())
}

/// One export by id: through get-exports when the iModel is known, else get-export.
async fn export_by_id(client: &Client, id: &str, imodel: Option<&str>) -> Result<Export, CliError> {
    match imodel {
        Some(imodel) => Ok(client.find_export(imodel, id).await?),
        None => {
            #[allow(deprecated)]
            let export = client.get_export(id).await?;
            Ok(export)
        }
    }
}

/// The newest Complete export of an iModel and type.
async fn newest_complete(client: &Client, imodel: &str, kind: &str) -> Result<Export, CliError> {
    let wanted = export_type(kind);
    let filter = ExportFilter::new().i_model_id(imodel);
    let mut exports: Vec<Export> = client
        .exports(filter)
        .try_filter(|e| {
            let ok = e.status == ExportStatus::Complete
                && e.request
                    .as_ref()
                    .and_then(|r| r.export_type.as_ref())
                    .is_none_or(|t| t.eq_ignore_ascii_case(&wanted));
            futures::future::ready(ok)
        })
        .try_collect()
        .await?;
    exports.sort_by_key(|e| std::cmp::Reverse(e.last_modified_at()));
    exports
        .into_iter()
        .next()
        .ok_or_else(|| CliError::NotFound(format!("no Complete {kind} export of iModel {imodel}")))
}

/// `get`.
pub async fn get(g: &Global, args: ExportRef) -> Result<(), CliError> {
    let client = client(g)?;
    let export = export_by_id(&client, &args.id, args.imodel.as_deref()).await?;
    Reporter::new(g.json).export(&export);
    Ok(())
}

/// `start`.
pub async fn start(g: &Global, args: StartArgs) -> Result<(), CliError> {
    let client = client(g)?;
    let reporter = Reporter::new(g.json);
    let request = StartExport {
        i_model_id: args.imodel.clone(),
        changeset_id: args.changeset,
        export_type: Some(export_type(&args.export_type)),
        geometry_options: None,
        view_definition_filter: None,
    };
    let mut export = client.start_export(request).await?;
    if args.wait {
        let options = args.wait_options.options(&reporter)?;
        export = client
            .wait_for_export(&args.imodel, &export.id, options)
            .await?;
        reporter.finish_status();
    }
    reporter.export(&export);
    Ok(())
}

/// `wait`.
pub async fn wait(g: &Global, args: WaitArgs) -> Result<(), CliError> {
    let client = client(g)?;
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

/// `delete`.
pub async fn delete(g: &Global, args: ExportRef) -> Result<(), CliError> {
    client(g)?.delete_export(&args.id).await?;
    Reporter::new(g.json).deleted(&args.id);
    Ok(())
}

/// The export `which` names.
async fn which_export(
    client: &Client,
    id: Option<&str>,
    imodel: Option<&str>,
    kind: &str,
) -> Result<Export, CliError> {
    match (id, imodel) {
        (Some(id), imodel) => export_by_id(client, id, imodel).await,
        (None, Some(imodel)) => newest_complete(client, imodel, kind).await,
        (None, None) => Err(CliError::Usage("name an export: ID or --imodel".into())),
    }
}

/// `url`.
pub async fn url(g: &Global, args: UrlArgs) -> Result<(), CliError> {
    let client = client(g)?;
    let export = which_export(
        &client,
        args.which.id.as_deref(),
        args.which.imodel.as_deref(),
        &args.export_type,
    )
    .await?;
    let tileset = TilesetUrl::from_export(&export)?;
    Reporter::new(g.json).url(Some(&export.id), &tileset);
    Ok(())
}

/// `download`.
///
/// With `--href` the URL is used as it is. For an export (`ID`, `--imodel`), a refused
/// signature is renewed by reading the export again through get-exports.
pub async fn download(g: &Global, args: DownloadArgs) -> Result<(), CliError> {
    let (source, export_id): (Box<dyn SignedUrlSource>, _) = match &args.href {
        Some(href) => (Box::new(FixedUrl(TilesetUrl::parse(href)?)), None),
        None => {
            let client = client(g)?;
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
        args.concurrency,
        export_id.as_deref(),
    )
    .await?;
    reporter.summary(&summary, export_id.as_deref(), &[]);
    Ok(())
}

async fn fetch_tileset(
    reporter: &Reporter,
    source: &dyn SignedUrlSource,
    dir: PathBuf,
    concurrency: u16,
    export_id: Option<&str>,
) -> Result<DownloadSummary, CliError> {
    let downloader = Downloader::new(dir).concurrency(usize::from(concurrency));
    let display = reporter.download_progress(downloader.progress());
    let result = downloader.download_from(source).await;
    display.finish().await;
    if let Err(DownloadError::Incomplete { failures, summary }) = &result {
        reporter.failures(failures, summary, export_id);
    }
    Ok(result?)
}

/// `demo`.
pub async fn demo(g: &Global, args: DemoArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let reporter = Reporter::new(g.json);
    let mut emulator = Emulator::builder()
        .client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
        .tiles(args.tiles)
        .tile_bytes(args.tile_bytes)
        .export_duration(seconds(args.export_seconds, "--export-seconds")?);
    if let Some(scheme) = args.implicit {
        emulator = emulator.implicit(scheme);
    }
    let emulator = emulator
        .start()
        .await
        .map_err(|e| CliError::Other(format!("cannot start the emulator: {e}")))?;
    reporter.note(&format!(
        "emulator listening at {} (token endpoint {})",
        emulator.mesh_export_url(),
        emulator.token_url()
    ));
    let credentials =
        ClientCredentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).token_url(emulator.token_url());
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .client_credentials(credentials)
        .build()?;
    let request = StartExport {
        i_model_id: DEMO_IMODEL.into(),
        changeset_id: None,
        export_type: Some(ExportType::X3dTiles),
        geometry_options: None,
        view_definition_filter: None,
    };
    let export = client.get_or_start_export(request).await?;
    reporter.note(&format!(
        "export {} of iModel {DEMO_IMODEL}: {}",
        export.id,
        export.status.as_str()
    ));
    let interval = seconds(args.export_seconds / 10.0, "--export-seconds")?
        .clamp(Duration::from_millis(50), Duration::from_secs(3));
    let reporter_for_status = reporter.clone();
    let options = WaitOptions::default()
        .interval(interval)
        .on_status(move |e| reporter_for_status.status(e));
    let export = client
        .wait_for_export(DEMO_IMODEL, &export.id, options)
        .await?;
    reporter.finish_status();
    let source = ExportLinks::new(client, DEMO_IMODEL, &export)?;
    let summary = fetch_tileset(
        &reporter,
        &source,
        args.dir,
        args.concurrency,
        Some(&export.id),
    )
    .await;
    emulator.shutdown().await;
    let summary = summary?;
    reporter.summary(&summary, Some(&export.id), &[]);
    reporter.note(&format!(
        "demo finished in {}",
        output::duration(started.elapsed())
    ));
    Ok(())
}
