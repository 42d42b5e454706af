//! The emulator's settings and the builder that fills them in.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::{Emulator, Error, ImplicitScheme};

/// Client id the emulator accepts when no client is configured.
pub const DEMO_CLIENT_ID: &str = "demo-client";
/// Client secret the emulator accepts when no client is configured.
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";
/// The iTwin that every iModel belongs to when no iModel is configured: exports answer it as
/// `request.iTwinId`, which callers such as the iTwin Unreal plugin require.
pub const DEFAULT_ITWIN_ID: &str = "b9a4c1e2-5d3f-4e6a-8b7c-0d1e2f3a4b5c";

/// An iModel the emulated service has: the iTwin it belongs to and its changesets, oldest
/// first (a changeset's place in this list is its `changesetIndex`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IModel {
    /// The iModel id.
    pub id: String,
    /// The iTwin (formerly "context") the iModel belongs to.
    pub itwin_id: String,
    /// Changeset ids, oldest first.
    pub changesets: Vec<String>,
}

impl IModel {
    /// An iModel of `itwin_id` with no changesets yet.
    pub fn new(id: impl Into<String>, itwin_id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            itwin_id: itwin_id.into(),
            changesets: Vec::new(),
        }
    }

    /// Adds a changeset, newer than those added before.
    #[must_use]
    pub fn changeset(mut self, id: impl Into<String>) -> Self {
        self.changesets.push(id.into());
        self
    }
}

/// Everything an [`Emulator`] can be told; every field has a setter on [`EmulatorBuilder`]
/// and a flag on the `mesh-export-emulator` binary.
///
/// `Debug` prints client ids but never their secrets.
#[derive(Clone)]
#[non_exhaustive]
pub struct EmulatorConfig {
    /// Address to bind; port 0 picks a free port. Default `127.0.0.1:0`.
    pub addr: SocketAddr,
    /// Known OAuth2 clients as `(client_id, client_secret)`. Empty means the demo client only.
    pub clients: Vec<(String, String)>,
    /// Lifetime of issued access tokens. Default one hour, like Bentley IMS.
    pub token_ttl: Duration,
    /// How long an authorization code of the sign-in form may wait for its exchange. Default
    /// one minute.
    pub authorization_code_ttl: Duration,
    /// Time from start until an export is `Complete` (or `Invalid`). The first fifth of it the
    /// export is `NotStarted`, the rest `InProgress`. Default five seconds.
    pub export_duration: Duration,
    /// iModel ids whose exports end `Invalid`.
    pub fail_imodels: Vec<String>,
    /// Requests per minute per client on the Mesh Export routes; 0 (the default) is no limit.
    pub rate_limit: u32,
    /// Probability (0 to 1) that a Mesh Export or blob request meets an injected fault.
    pub fault_rate: f64,
    /// Seed of fault injection and of the generated tiles. Default 0.
    pub seed: u64,
    /// Number of `.glb` tiles in each export's tileset (at least 2). Default 20.
    pub tiles: u32,
    /// Approximate size of each `.glb` tile in bytes. Default 16 KiB.
    pub tile_bytes: u64,
    /// How long a `_links.mesh` signature stays valid. Default one hour, like the service.
    pub sas_ttl: Duration,
    /// The permissions a `_links.mesh` signature grants, as Azure's `sp`: `r` reads a blob,
    /// `l` lists the container. Default `rl`, as Bentley's links carry.
    pub sas_permissions: String,
    /// Share keys accepted as `Authorization: Basic <share key>` on the Mesh Export routes.
    /// Empty (the default) accepts none.
    pub share_keys: Vec<String>,
    /// Serve a sparse 3D Tiles 1.1 implicit tileset (quadtree or octree, binary `.subtree`
    /// files) instead of the explicit one; `tiles` then does not apply. Default `None`.
    pub implicit: Option<ImplicitScheme>,
    /// Blob (tileset file) requests answered at once; one more is answered 503 `ServerBusy`
    /// at once, without `Retry-After`, as an Azure Storage account past its limits answers.
    /// 0 (the default) is no limit.
    pub blob_concurrency: u32,
    /// How long every blob answer waits before it is sent, holding its place among the
    /// [`blob_concurrency`](Self::blob_concurrency): a store far away or busy. Default zero.
    pub blob_delay: Duration,
    /// The iModels the service has. Empty (the default): every iModel id exists, in the iTwin
    /// [`DEFAULT_ITWIN_ID`]. Otherwise start-export of any other iModel answers 404
    /// `IModelNotFound`, as the service does.
    pub imodels: Vec<IModel>,
    /// Blob paths under an export's container root (e.g. `tiles/3.glb`) that the store
    /// refuses with 403 `AuthorizationFailure` whatever the signature, while it serves the
    /// others: a fault to inject, as S3 and CloudFront answer 403 for a missing key and as a
    /// blob with its own access policy answers. Empty (the default) refuses none.
    pub forbid_blob_paths: Vec<String>,
    /// Blobs in every export's container beside its tileset, which the tileset does not name,
    /// as `(name, bytes)`: listed and served like its files. Default none.
    pub extra_blobs: Vec<(String, Vec<u8>)>,
    /// Names left out of the container's listing while still served: a listing that lacks a
    /// file. Default none.
    pub unlisted_blobs: Vec<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            clients: Vec::new(),
            token_ttl: Duration::from_secs(3600),
            authorization_code_ttl: Duration::from_secs(60),
            export_duration: Duration::from_secs(5),
            fail_imodels: Vec::new(),
            rate_limit: 0,
            fault_rate: 0.0,
            seed: 0,
            tiles: 20,
            tile_bytes: 16 * 1024,
            sas_ttl: Duration::from_secs(3600),
            sas_permissions: "rl".to_owned(),
            share_keys: Vec::new(),
            implicit: None,
            blob_concurrency: 0,
            blob_delay: Duration::ZERO,
            imodels: Vec::new(),
            forbid_blob_paths: Vec::new(),
            extra_blobs: Vec::new(),
            unlisted_blobs: Vec::new(),
        }
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let client_ids: Vec<&str> = self.clients.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("EmulatorConfig")
            .field("addr", &self.addr)
            .field("clients", &client_ids)
            .field("token_ttl", &self.token_ttl)
            .field("authorization_code_ttl", &self.authorization_code_ttl)
            .field("export_duration", &self.export_duration)
            .field("fail_imodels", &self.fail_imodels)
            .field("rate_limit", &self.rate_limit)
            .field("fault_rate", &self.fault_rate)
            .field("seed", &self.seed)
            .field("tiles", &self.tiles)
            .field("tile_bytes", &self.tile_bytes)
            .field("sas_ttl", &self.sas_ttl)
            .field("sas_permissions", &self.sas_permissions)
            .field(
                "share_keys",
                &format_args!("{} (redacted)", self.share_keys.len()),
            )
            .field("implicit", &self.implicit)
            .field("blob_concurrency", &self.blob_concurrency)
            .field("blob_delay", &self.blob_delay)
            .field("imodels", &self.imodels)
            .field("forbid_blob_paths", &self.forbid_blob_paths)
            .field("extra_blobs", &self.extra_blobs.len())
            .field("unlisted_blobs", &self.unlisted_blobs)
            .finish()
    }
}

impl EmulatorConfig {
    /// Checks the settings, returning a message that names the bad one.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |message: String| Err(Error::InvalidConfig(message));
        if !(0.0..=1.0).contains(&self.fault_rate) || self.fault_rate.is_nan() {
            return bad(format!(
                "fault rate must be between 0 and 1, got {}",
                self.fault_rate
            ));
        }
        if self.tiles < 2 {
            return bad(format!("tiles must be at least 2, got {}", self.tiles));
        }
        if self.tile_bytes > 1 << 30 {
            return bad(format!(
                "tile bytes must be at most 1 GiB, got {}",
                self.tile_bytes
            ));
        }
        for (id, secret) in &self.clients {
            if id.is_empty() || secret.is_empty() {
                return bad("client id and secret must not be empty".to_owned());
            }
        }
        if self.sas_permissions.is_empty()
            || !self
                .sas_permissions
                .bytes()
                .all(|b| b"racwdxl".contains(&b))
        {
            return bad(format!(
                "SAS permissions must be letters of racwdxl, got {:?}",
                self.sas_permissions
            ));
        }
        if self
            .share_keys
            .iter()
            .any(|k| k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()))
        {
            return bad("a share key must be non-empty printable ASCII".to_owned());
        }
        Ok(())
    }

    /// The iModel `id` as the service knows it, or `None` when it does not exist. With no
    /// iModel configured every id exists, in [`DEFAULT_ITWIN_ID`], with no known changesets.
    pub(crate) fn imodel(&self, id: &str) -> Option<IModel> {
        if self.imodels.is_empty() {
            return Some(IModel::new(id, DEFAULT_ITWIN_ID));
        }
        self.imodels.iter().find(|m| m.id == id).cloned()
    }

    /// The configured clients, or the demo client when none is.
    pub(crate) fn effective_clients(&self) -> Vec<(String, String)> {
        if self.clients.is_empty() {
            vec![(DEMO_CLIENT_ID.to_owned(), DEMO_CLIENT_SECRET.to_owned())]
        } else {
            self.clients.clone()
        }
    }
}

/// Builds and starts an [`Emulator`]; get one from [`Emulator::builder`].
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct EmulatorBuilder {
    config: EmulatorConfig,
}

impl EmulatorBuilder {
    /// A builder starting from `config`.
    pub fn from_config(config: EmulatorConfig) -> Self {
        Self { config }
    }

    /// The settings collected so far.
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// Address to bind (`--addr`); default `127.0.0.1:0`.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.config.addr = addr;
        self
    }

    /// Adds a known client (`--client ID:SECRET`, repeatable). With none, the emulator accepts
    /// [`DEMO_CLIENT_ID`] / [`DEMO_CLIENT_SECRET`].
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.config.clients.push((id.into(), secret.into()));
        self
    }

    /// Accepts `Authorization: Basic <key>` on the Mesh Export routes (`--share-key`,
    /// repeatable), as the service accepts an iTwin share key.
    pub fn share_key(mut self, key: impl Into<String>) -> Self {
        self.config.share_keys.push(key.into());
        self
    }

    /// Lifetime of issued tokens (`--token-ttl`).
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.config.token_ttl = ttl;
        self
    }

    /// How long a sign-in's authorization code may wait for its exchange;
    /// `Duration::ZERO` makes every code expired, which is how tests meet a late exchange.
    pub fn authorization_code_ttl(mut self, ttl: Duration) -> Self {
        self.config.authorization_code_ttl = ttl;
        self
    }

    /// Time an export takes to finish (`--export-duration`).
    pub fn export_duration(mut self, duration: Duration) -> Self {
        self.config.export_duration = duration;
        self
    }

    /// Makes exports of this iModel end `Invalid` (`--fail-imodel`, repeatable).
    pub fn fail_imodel(mut self, imodel_id: impl Into<String>) -> Self {
        self.config.fail_imodels.push(imodel_id.into());
        self
    }

    /// Requests per minute per client (`--rate-limit`); 0 is off.
    pub fn rate_limit(mut self, per_minute: u32) -> Self {
        self.config.rate_limit = per_minute;
        self
    }

    /// Probability of an injected fault per request (`--fault-rate`).
    pub fn fault_rate(mut self, rate: f64) -> Self {
        self.config.fault_rate = rate;
        self
    }

    /// Seed of faults and tile content (`--seed`).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Tiles per tileset (`--tiles`).
    pub fn tiles(mut self, tiles: u32) -> Self {
        self.config.tiles = tiles;
        self
    }

    /// Blob requests answered at once, others 503 (`--blob-concurrency`); 0 is no limit.
    pub fn blob_concurrency(mut self, requests: u32) -> Self {
        self.config.blob_concurrency = requests;
        self
    }

    /// How long every blob answer waits (`--blob-delay-ms`).
    pub fn blob_delay(mut self, delay: Duration) -> Self {
        self.config.blob_delay = delay;
        self
    }

    /// Approximate bytes per tile (`--tile-bytes`).
    pub fn tile_bytes(mut self, bytes: u64) -> Self {
        self.config.tile_bytes = bytes;
        self
    }

    /// Validity of signed tile links (`--sas-ttl`); `Duration::ZERO` makes every link expired,
    /// which is how tests meet the 403 of an expired signature.
    pub fn sas_ttl(mut self, ttl: Duration) -> Self {
        self.config.sas_ttl = ttl;
        self
    }

    /// The permissions signed into mesh links (`--sas-permissions`); `r` alone makes links
    /// that read files but cannot list the container, as an Azure SAS without `l`.
    pub fn sas_permissions(mut self, permissions: impl Into<String>) -> Self {
        self.config.sas_permissions = permissions.into();
        self
    }

    /// Serves a sparse implicit tileset of `scheme` (`--implicit quadtree|octree`) instead of
    /// the explicit one.
    pub fn implicit(mut self, scheme: ImplicitScheme) -> Self {
        self.config.implicit = Some(scheme);
        self
    }

    /// Adds an iModel the service has (`--imodel`, repeatable). Once one is added, start-export
    /// of any other iModel answers 404.
    pub fn imodel(mut self, imodel: IModel) -> Self {
        self.config.imodels.push(imodel);
        self
    }

    /// Makes the store refuse the blob at `path` under every export's container root (e.g.
    /// `tiles/3.glb`) with 403 whatever the signature, while it serves the others
    /// (`--forbid-blob`, repeatable).
    pub fn forbid_blob(mut self, path: impl Into<String>) -> Self {
        self.config.forbid_blob_paths.push(path.into());
        self
    }

    /// Adds a blob to every export's container that its tileset does not name.
    pub fn extra_blob(mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.config.extra_blobs.push((name.into(), bytes.into()));
        self
    }

    /// Leaves a blob out of the container's listing; it is still served.
    pub fn unlisted_blob(mut self, name: impl Into<String>) -> Self {
        self.config.unlisted_blobs.push(name.into());
        self
    }

    /// Binds the address and starts serving on the current tokio runtime.
    pub async fn start(self) -> Result<Emulator, Error> {
        Emulator::start_with(self.config).await
    }
}
