//! Building a [`Client`]: service environment, credentials, retries, timeouts, user agent.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;

use super::Client;
use crate::auth::{
    self, AuthError, ClientCredentials, Secret, ShareKey, StaticToken, TokenCache, TokenSource,
};
use crate::deprecation::{DeprecationWarnings, Notices};
use crate::error::Error;
use crate::headers::USER_AGENT_PRODUCT;
use crate::policy::MeshExportPolicy;
use crate::retry::RetryOptions;

/// A Mesh Export deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Environment {
    /// Production, `https://api.bentley.com/mesh-export`.
    #[default]
    Prod,
    /// QA, `https://qa-api.bentley.com/mesh-export`.
    Qa,
    /// Development, `https://dev-api.bentley.com/mesh-export`.
    Dev,
}

impl Environment {
    /// The service root of this environment.
    pub fn base_url(self) -> &'static str {
        match self {
            Environment::Prod => "https://api.bentley.com/mesh-export",
            Environment::Qa => "https://qa-api.bentley.com/mesh-export",
            Environment::Dev => "https://dev-api.bentley.com/mesh-export",
        }
    }

    /// The IMS token endpoint of this environment: IMS carries the same `qa-` / `dev-` prefix
    /// as the API (iTwin/3d-tiles-samples sign in at `https://${prefix}ims.bentley.com` with the
    /// prefix of the API they call).
    pub fn token_url(self) -> &'static str {
        match self {
            Environment::Prod => crate::auth::DEFAULT_TOKEN_URL,
            Environment::Qa => "https://qa-ims.bentley.com/connect/token",
            Environment::Dev => "https://dev-ims.bentley.com/connect/token",
        }
    }
}

/// Default time limit for one HTTP request (the whole exchange). The service answers its four
/// operations quickly; 60 s tolerates a slow proxy without letting a dead connection hang a
/// call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time limit for establishing a connection (10 s tolerates slow corporate proxies).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures and builds a [`Client`]; start with [`Client::builder`].
///
/// ```
/// use mesh_export::{Client, Environment, RetryOptions};
///
/// let client = Client::builder()
///     .environment(Environment::Qa)
///     .static_token("eyJ...")
///     .retry(RetryOptions::none())
///     .user_agent("my-tool/1.2")
///     .build()?;
/// assert_eq!(client.base_url(), "https://qa-api.bentley.com/mesh-export");
/// assert_eq!(Environment::Qa.token_url(), "https://qa-ims.bentley.com/connect/token");
/// # Ok::<(), mesh_export::Error>(())
/// ```
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    tokens: Result<Option<Arc<dyn TokenSource>>, AuthError>,
    refresh_ahead: Duration,
    retry: RetryOptions,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: Option<String>,
    http: Option<reqwest::Client>,
    deprecation: DeprecationWarnings,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: Environment::Prod.base_url().to_owned(),
            tokens: Ok(None),
            refresh_ahead: auth::DEFAULT_REFRESH_AHEAD,
            retry: RetryOptions::default(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: None,
            http: None,
            deprecation: DeprecationWarnings::default(),
        }
    }
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("tokens", &self.tokens)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("deprecation", &self.deprecation)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder for production with default retries and timeouts and no credentials yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Talks to one of Bentley's deployments (production by default).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.base_url = environment.base_url().to_owned();
        self
    }

    /// Talks to any service root, such as `http://127.0.0.1:PORT/mesh-export` (an emulator).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Authenticates with tokens from `source` (cached by the client).
    pub fn token_source(mut self, source: impl TokenSource + 'static) -> Self {
        self.tokens = Ok(Some(Arc::new(source)));
        self
    }

    /// Authenticates with a fixed bearer token.
    pub fn static_token(self, token: impl Into<Secret>) -> Self {
        self.token_source(StaticToken::new(token))
    }

    /// Authenticates with an iTwin share key (`Authorization: Basic <share key>`).
    pub fn share_key(self, key: impl Into<Secret>) -> Self {
        self.token_source(ShareKey::new(key))
    }

    /// Authenticates with OAuth2 client credentials.
    pub fn client_credentials(self, credentials: ClientCredentials) -> Self {
        self.token_source(credentials)
    }

    /// Authenticates with credentials from the environment (see [`auth::from_env`]); if none
    /// are found, [`build`](Self::build) fails with [`AuthError::MissingCredentials`].
    pub fn credentials_from_env(mut self) -> Self {
        self.tokens = auth::from_env().map(Some);
        self
    }

    /// Refreshes cached tokens at most this long before they expire (default 5 minutes; see
    /// [`TokenCache`]).
    pub fn refresh_ahead(mut self, refresh_ahead: Duration) -> Self {
        self.refresh_ahead = refresh_ahead;
        self
    }

    /// Retries per `options` (see [`RetryOptions::default`]; [`RetryOptions::none`] turns them off).
    pub fn retry(mut self, options: RetryOptions) -> Self {
        self.retry = options;
        self
    }

    /// Time limit for one HTTP request ([`DEFAULT_TIMEOUT`]); ignored with [`http_client`](Self::http_client).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time limit for connecting ([`DEFAULT_CONNECT_TIMEOUT`]); ignored with [`http_client`](Self::http_client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Names your application in `User-Agent`, after this crate's `mesh-export/<version>`.
    pub fn user_agent(mut self, product: impl Into<String>) -> Self {
        self.user_agent = Some(product.into());
        self
    }

    /// Sends requests with this `reqwest::Client` (proxies, TLS roots, timeouts of your choice).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Chooses what happens on this client's first call of each deprecated operation (a
    /// `tracing` warning by default).
    pub fn deprecation_warnings(mut self, warnings: DeprecationWarnings) -> Self {
        self.deprecation = warnings;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Auth`] without credentials, [`Error::Config`] for a base URL that is not an
    /// http(s) URL with a host, a user agent that is not a header value, or an HTTP client
    /// that cannot be built.
    pub fn build(self) -> Result<Client, Error> {
        let source = self.tokens?.ok_or_else(|| {
            AuthError::MissingCredentials(
                "configure static_token, share_key, client_credentials, token_source or credentials_from_env"
                    .into(),
            )
        })?;
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base_url)
            .map_err(|e| Error::Config(format!("base URL {base_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(Error::Config(format!(
                "base URL {base_url:?} must be an http(s) URL with a host"
            )));
        }
        let user_agent = match &self.user_agent {
            Some(product) => {
                let user_agent = format!("{USER_AGENT_PRODUCT} {product}");
                HeaderValue::from_str(&user_agent).map_err(|_| {
                    Error::Config(format!(
                        "user agent {user_agent:?} is not a valid header value"
                    ))
                })?
            }
            // Static: copied into each request without touching a shared reference count.
            None => HeaderValue::from_static(USER_AGENT_PRODUCT),
        };
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        let policy = MeshExportPolicy {
            tokens: Arc::new(TokenCache::with_refresh_ahead(source, self.refresh_ahead)),
            retry: self.retry,
            user_agent,
            deprecation: Notices::new(self.deprecation),
        };
        Ok(Client::from_parts(parsed, base_url, http, Arc::new(policy)))
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A production client with credentials from the environment (`ITWIN_ACCESS_TOKEN`, or
    /// `ITWIN_CLIENT_ID` + `ITWIN_CLIENT_SECRET`).
    ///
    /// # Errors
    ///
    /// [`Error::Auth`] when the environment holds no usable credentials.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::new().credentials_from_env().build()
    }
}
