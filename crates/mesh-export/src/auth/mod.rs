//! Bearer tokens: where they come from ([`TokenSource`]) and how they are cached.
//!
//! An iTwin share key ([`ShareKey`]) is a credential of the same kind: it goes into
//! `Authorization` as `Basic <share key>` (the spec's second security scheme) instead of
//! `Bearer <token>`.
//!
//! The client wraps every source in [`TokenCache`]: one token is shared by all calls, refreshed
//! ahead of expiry in the background while calls keep using it, and dropped when the service
//! answers 401. Tokens and secrets are [`Secret`]s, whose `Debug` prints nothing of them.
//!
//! Adding a kind of credential means one more [`TokenSource`]: [`StaticToken`] and
//! [`ClientCredentials`] are the two examples, and [`from_env`] picks one from the
//! environment.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::Shared;
use mesh_export_client::BoxFuture;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use crate::retry::{self, ClassifyRetry, Ended, RetryOptions, TokenFetch};

/// The IMS token endpoint for service applications.
pub const DEFAULT_TOKEN_URL: &str = "https://ims.bentley.com/connect/token";
/// The OAuth2 scope the iTwin Platform APIs require.
pub const DEFAULT_SCOPE: &str = "itwin-platform";
/// How long before expiry a cached token is replaced, at most (see [`TokenCache`]).
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// The longest lifetime a token endpoint's `expires_in` is taken at: a larger (or absurd) value
/// counts as a day, so even a token that claims to live forever is refreshed daily.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

/// A string that must not be shown: `Debug` prints `Secret(***)`. Cloning it is cheap.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(Arc::from(value))
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(Arc::from(value))
    }
}

/// How a credential is written in `Authorization`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Bearer <token>`: an OAuth2 access token (the spec's `oauth2` scheme).
    #[default]
    Bearer,
    /// `Basic <share key>`: an iTwin share key as issued (the spec's `shareKey` scheme).
    Basic,
}

impl AuthScheme {
    /// The scheme's name as `Authorization` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "Bearer",
            AuthScheme::Basic => "Basic",
        }
    }
}

/// A credential for `Authorization` (a bearer token, or a share key) and when it stops working.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The token.
    pub token: Secret,
    /// When it expires; `None` for tokens that do not say (they are never refreshed ahead).
    pub expires_at: Option<Instant>,
    /// How it goes into `Authorization`; [`AuthScheme::Bearer`] for OAuth2 tokens.
    pub scheme: AuthScheme,
}

impl AccessToken {
    /// A bearer token valid for `lifetime` from now (`None`, or a lifetime past what the clock
    /// can represent: no known expiry).
    pub fn new(token: impl Into<Secret>, lifetime: Option<Duration>) -> Self {
        AccessToken {
            token: token.into(),
            expires_at: lifetime.and_then(|l| Instant::now().checked_add(l)),
            scheme: AuthScheme::Bearer,
        }
    }

    /// The `Authorization` header value: `Bearer <token>` or `Basic <share key>`.
    pub fn authorization(&self) -> String {
        format!("{} {}", self.scheme.as_str(), self.token.expose())
    }

    /// Time left before expiry, if known.
    pub fn remaining(&self) -> Option<Duration> {
        self.expires_at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }
}

/// Why no token could be obtained. Cheap to clone: a failure is remembered and shared by every
/// caller that waited for the same fetch.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials were configured or found in the environment.
    #[error("no credentials: {0}")]
    MissingCredentials(String),
    /// The token endpoint refused the request.
    #[error("token endpoint answered HTTP {status}{}{}", error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(), description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenEndpoint {
        /// HTTP status.
        status: u16,
        /// The OAuth2 `error` code (`invalid_client`, ...).
        error: Option<String>,
        /// The OAuth2 `error_description`.
        description: Option<String>,
    },
    /// The token endpoint could not be reached.
    #[error("token endpoint unreachable: {}", crate::error::cause_chain(.0.as_ref()))]
    Transport(#[source] Arc<reqwest::Error>),
    /// The token endpoint answered with something that is not a token.
    #[error("unexpected token response: {0}")]
    Decode(String),
    /// A custom [`TokenSource`] failed.
    #[error("{0}")]
    Other(String),
}

impl AuthError {
    /// Whether asking again later may work: the endpoint was unreachable, overloaded or rate
    /// limiting (the statuses [`Classifier::TokenFetch`] retries).
    pub fn is_retryable(&self) -> bool {
        match self {
            AuthError::Transport(_) => true,
            AuthError::TokenEndpoint { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    /// The error of a token fetch that ended with `status`: the OAuth2 error body when it is
    /// one. Its texts are redacted like every other error text.
    fn from_token_endpoint(status: u16, body: &[u8]) -> AuthError {
        #[derive(Deserialize)]
        struct OAuthError {
            error: Option<String>,
            error_description: Option<String>,
        }
        let parsed = serde_json::from_slice::<OAuthError>(body).ok();
        let redact = |s: String| http_policy::redact::redact(&s);
        AuthError::TokenEndpoint {
            status,
            error: parsed.as_ref().and_then(|p| p.error.clone()).map(redact),
            description: parsed.and_then(|p| p.error_description).map(redact),
        }
    }
}

/// Anything that can produce a bearer token for the iTwin Platform.
///
/// Implement it for a token you obtain elsewhere (an interactive sign-in, a secret store).
/// Sources need not cache: the client wraps them in a [`TokenCache`].
///
/// ```
/// use mesh_export::auth::{AccessToken, AuthError, TokenSource};
/// use mesh_export_client::BoxFuture;
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// impl TokenSource for FromVault {
///     fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
///         Box::pin(async { Ok(AccessToken::new("token-from-vault", None)) })
///     }
/// }
/// ```
pub trait TokenSource: fmt::Debug + Send + Sync {
    /// Obtains a token (a new one, or one the source keeps itself).
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>>;
}

impl<T: TokenSource + ?Sized> TokenSource for Arc<T> {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        (**self).token()
    }
}

/// A fixed token, for example one from `ITWIN_ACCESS_TOKEN`. It is never refreshed; when it
/// expires, calls fail with 401.
#[derive(Clone, Debug)]
pub struct StaticToken(Secret);

impl StaticToken {
    /// Wraps the token.
    pub fn new(token: impl Into<Secret>) -> Self {
        StaticToken(token.into())
    }
}

impl TokenSource for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        let token = AccessToken {
            token: self.0.clone(),
            expires_at: None,
            scheme: AuthScheme::Bearer,
        };
        Box::pin(async move { Ok(token) })
    }
}

/// An iTwin share key, sent as `Authorization: Basic <share key>` (the key as issued; it is
/// not a base64 `user:password` pair). CesiumJS authenticates iTwin Platform calls this way.
/// A share key does not expire on a schedule the client knows; when the service refuses it,
/// calls fail with 401.
///
/// ```
/// use mesh_export::auth::ShareKey;
///
/// let key = ShareKey::new("my-share-key");
/// assert_eq!(format!("{key:?}"), "ShareKey(***)");
/// ```
#[derive(Clone)]
pub struct ShareKey(Secret);

impl ShareKey {
    /// Wraps the share key.
    pub fn new(key: impl Into<Secret>) -> Self {
        ShareKey(key.into())
    }
}

impl fmt::Debug for ShareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShareKey(***)")
    }
}

impl TokenSource for ShareKey {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        let token = AccessToken {
            token: self.0.clone(),
            expires_at: None,
            scheme: AuthScheme::Basic,
        };
        Box::pin(async move { Ok(token) })
    }
}

/// OAuth2 client credentials against IMS (a service application's id and secret).
///
/// ```
/// use mesh_export::auth::ClientCredentials;
///
/// let credentials = ClientCredentials::new("my-app", "my-secret")
///     .token_url("http://127.0.0.1:8080/connect/token");
/// assert!(!format!("{credentials:?}").contains("my-secret"));
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    client_id: String,
    client_secret: Secret,
    token_url: String,
    scope: String,
    http: reqwest::Client,
    retry: RetryOptions,
}

impl ClientCredentials {
    /// Credentials for the default IMS endpoint ([`DEFAULT_TOKEN_URL`]) and scope
    /// ([`DEFAULT_SCOPE`]).
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        ClientCredentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_url: DEFAULT_TOKEN_URL.to_owned(),
            scope: DEFAULT_SCOPE.to_owned(),
            http: token_http_client(),
            retry: token_retry_options(),
        }
    }

    /// Uses another token endpoint (an IMS mirror, or the emulator's).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = url.into();
        self
    }

    /// Asks for another scope (space-separated for several).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// Sends token requests with this client instead of the default one (which has a 30 s
    /// timeout and follows no redirects, so the secret is never posted anywhere else).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Retries token requests per `options` (default: 3 attempts within 30 s). Overloaded or
    /// unreachable endpoints (5xx, 408, 429, transport failures) are retried, by the same loop
    /// as API calls ([`Classifier::TokenFetch`]); a refusal of the credentials is not.
    pub fn retry(mut self, options: RetryOptions) -> Self {
        self.retry = options;
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    async fn fetch(&self) -> Result<AccessToken, AuthError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose())
            .append_pair("scope", &self.scope)
            .finish();
        let method = reqwest::Method::POST;
        let ended = retry::run(
            &self.retry,
            &"token request",
            |outcome: &reqwest::Result<(
                reqwest::StatusCode,
                reqwest::header::HeaderMap,
                bytes::Bytes,
            )>| {
                match outcome {
                    Ok((status, headers, _)) => {
                        TokenFetch.classify_status(&method, *status, headers)
                    }
                    Err(error) => TokenFetch.classify_transport(&method, error),
                }
            },
            |_| self.request_token(body.clone()),
        )
        .await;
        let (status, _, bytes) = match ended {
            Ended::Outcome(outcome) | Ended::HintTooLong { outcome, .. } => {
                outcome.map_err(|e| AuthError::Transport(Arc::new(e.without_url())))?
            }
        };
        if !status.is_success() {
            return Err(AuthError::from_token_endpoint(status.as_u16(), &bytes));
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: String,
            expires_in: Option<serde_json::Value>,
        }
        let token: TokenResponse = serde_json::from_slice(&bytes)
            // The serde message names the field that is wrong, never the body (which holds the token).
            .map_err(|e| AuthError::Decode(e.to_string()))?;
        let lifetime = token.expires_in.as_ref().and_then(token_lifetime);
        tracing::debug!(client_id = %self.client_id, lifetime_s = lifetime.map(|l| l.as_secs()), "obtained a token");
        Ok(AccessToken::new(token.access_token, lifetime))
    }
}

impl ClientCredentials {
    /// One token request, read in full.
    async fn request_token(
        &self,
        body: String,
    ) -> reqwest::Result<(
        reqwest::StatusCode,
        reqwest::header::HeaderMap,
        bytes::Bytes,
    )> {
        let mut response = self
            .http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        Ok((status, headers, response.bytes().await?))
    }
}

/// The lifetime an `expires_in` gives: seconds as a number or a numeric string, at most
/// [`MAX_TOKEN_LIFETIME`]. Anything else (negative, zero, NaN, not a number) is no known expiry:
/// the token is used until the service answers 401, which replaces it.
fn token_lifetime(expires_in: &serde_json::Value) -> Option<Duration> {
    let seconds = match expires_in {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if seconds.is_nan() || seconds <= 0.0 {
        return None;
    }
    Some(
        Duration::try_from_secs_f64(seconds)
            .map_or(MAX_TOKEN_LIFETIME, |l| l.min(MAX_TOKEN_LIFETIME)),
    )
}

/// Token requests are quick or the endpoint is down: three attempts within 30 s, so a call
/// waiting for its first token is not held for the API's whole 90 s budget.
fn token_retry_options() -> RetryOptions {
    RetryOptions {
        max_attempts: 3,
        max_elapsed: Duration::from_secs(30),
        ..RetryOptions::default()
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("token_url", &self.token_url)
            .field("scope", &self.scope)
            .field("retry", &self.retry)
            .finish()
    }
}

impl TokenSource for ClientCredentials {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(self.fetch())
    }
}

fn token_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client with no custom TLS settings always builds")
}

/// Credentials from the environment: `ITWIN_ACCESS_TOKEN` (a static token), else
/// `ITWIN_SHARE_KEY` (a [`ShareKey`]), else `ITWIN_CLIENT_ID` with `ITWIN_CLIENT_SECRET` (client
/// credentials, against `ITWIN_TOKEN_URL` when set), in that order. A variable set to the empty
/// string counts as unset.
///
/// # Errors
///
/// [`AuthError::MissingCredentials`] when none is set, or only half of a pair.
pub fn from_env() -> Result<Arc<dyn TokenSource>, AuthError> {
    from_vars(|name| std::env::var(name).ok())
}

/// [`from_env`] over any lookup of variables. A variable set to the empty string counts as
/// unset: a blank `ITWIN_ACCESS_TOKEN=` (an env file, a CI secret that is not configured)
/// must not become an empty token that takes precedence over the credentials that are set.
fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Arc<dyn TokenSource>, AuthError> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    if let Some(token) = var("ITWIN_ACCESS_TOKEN") {
        return Ok(Arc::new(StaticToken::new(token)));
    }
    if let Some(key) = var("ITWIN_SHARE_KEY") {
        return Ok(Arc::new(ShareKey::new(key)));
    }
    match (var("ITWIN_CLIENT_ID"), var("ITWIN_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => {
            let mut credentials = ClientCredentials::new(id, secret);
            if let Some(url) = var("ITWIN_TOKEN_URL") {
                credentials = credentials.token_url(url);
            }
            Ok(Arc::new(credentials))
        }
        (Some(_), None) => Err(AuthError::MissingCredentials(
            "ITWIN_CLIENT_ID is set but ITWIN_CLIENT_SECRET is not".into(),
        )),
        (None, Some(_)) => Err(AuthError::MissingCredentials(
            "ITWIN_CLIENT_SECRET is set but ITWIN_CLIENT_ID is not".into(),
        )),
        (None, None) => Err(AuthError::MissingCredentials(
            "set ITWIN_ACCESS_TOKEN, ITWIN_SHARE_KEY, or ITWIN_CLIENT_ID and ITWIN_CLIENT_SECRET"
                .into(),
        )),
    }
}

/// Caches the token of a [`TokenSource`] for all calls of a client.
///
/// A cached token is replaced once `min(refresh_ahead, lifetime / 2)` or less of it is left.
/// `refresh_ahead` defaults to 5 minutes: IMS tokens live an hour, and a few minutes leave room
/// for a slow token endpoint and clock skew; the `lifetime / 2` bound keeps short-lived tokens from
/// being refreshed on every call.
///
/// How it behaves under load and failure:
/// - a fresh token is read without waiting on any lock held across I/O (a read lock around a
///   clone), so concurrent calls do not queue behind each other;
/// - in the refresh window, calls keep using the still-valid token while one fetch runs in the
///   background; only a caller with no valid token waits, and all such callers share the fetch;
/// - the fetch is a task of its own (spawned on the current Tokio runtime), so a cancelled
///   caller does not abort it for the others;
/// - a failed fetch is remembered: until a backoff (1 s, doubling to 1 min) passes, callers
///   without a valid token get the same error at once instead of each asking the endpoint, and
///   callers with a valid token keep using it.
pub struct TokenCache {
    shared: Arc<CacheShared>,
}

struct CacheShared {
    source: Arc<dyn TokenSource>,
    refresh_ahead: Duration,
    state: RwLock<CacheState>,
}

type Fetch = Shared<BoxFuture<'static, Result<AccessToken, AuthError>>>;

#[derive(Default)]
struct CacheState {
    // Shared: a call takes the whole record with one reference count.
    cached: Option<Arc<Cached>>,
    inflight: Option<Fetch>,
    failure: Option<Failure>,
}

struct Cached {
    token: AccessToken,
    /// `Authorization: Bearer <token>`, built once per token and marked sensitive.
    bearer: Option<HeaderValue>,
    obtained_at: Instant,
}

struct Failure {
    error: AuthError,
    failures: u32,
    retry_at: Instant,
}

impl Cached {
    fn new(token: AccessToken, obtained_at: Instant) -> Self {
        let bearer = HeaderValue::from_str(&token.authorization())
            .ok()
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        Cached {
            token,
            bearer,
            obtained_at,
        }
    }

    fn fresh(&self, refresh_ahead: Duration, now: Instant) -> bool {
        let Some(expires_at) = self.token.expires_at else {
            return true;
        };
        let lifetime = expires_at.saturating_duration_since(self.obtained_at);
        let ahead = refresh_ahead.min(lifetime / 2);
        now.checked_add(ahead).is_some_and(|at| at < expires_at)
    }

    fn valid(&self, now: Instant) -> bool {
        self.token.expires_at.is_none_or(|at| now < at)
    }
}

/// What [`TokenCache::lookup`] found.
enum Lookup {
    Token(Arc<Cached>),
    Failed(AuthError),
    Wait(Fetch),
}

impl TokenCache {
    /// Caches tokens from `source`, refreshing [`DEFAULT_REFRESH_AHEAD`] before expiry at most.
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        Self::with_refresh_ahead(source, DEFAULT_REFRESH_AHEAD)
    }

    /// Caches tokens from `source`, refreshing `refresh_ahead` before expiry at most.
    pub fn with_refresh_ahead(source: Arc<dyn TokenSource>, refresh_ahead: Duration) -> Self {
        TokenCache {
            shared: Arc::new(CacheShared {
                source,
                refresh_ahead,
                state: RwLock::new(CacheState::default()),
            }),
        }
    }

    /// The cached token, or a new one when there is no valid one (see the type's docs for
    /// refreshing, sharing and failures).
    ///
    /// # Errors
    ///
    /// The source's [`AuthError`] when there is no valid token, also a remembered one while
    /// its backoff lasts.
    pub async fn get(&self) -> Result<AccessToken, AuthError> {
        self.cached().await.map(|c| c.token.clone())
    }

    /// The `Authorization` value of the current token.
    pub(crate) async fn bearer(&self) -> Result<HeaderValue, AuthError> {
        let cached = self.cached().await?;
        cached.bearer.clone().ok_or_else(|| {
            AuthError::Decode("the token contains characters not allowed in a header".into())
        })
    }

    async fn cached(&self) -> Result<Arc<Cached>, AuthError> {
        let fetch = match self.lookup() {
            Lookup::Token(cached) => return Ok(cached),
            Lookup::Failed(error) => return Err(error),
            Lookup::Wait(fetch) => fetch,
        };
        let token = fetch.await?;
        Ok(Arc::new(Cached::new(token, Instant::now())))
    }

    /// Decides from the state alone, holding a lock only for that: the token when it is fresh,
    /// or valid while a refresh runs; else the shared fetch to wait for (started if needed), or
    /// the remembered failure.
    fn lookup(&self) -> Lookup {
        let now = Instant::now();
        {
            let state = self.shared.read();
            if let Some(c) = &state.cached
                && c.fresh(self.shared.refresh_ahead, now)
            {
                return Lookup::Token(Arc::clone(c));
            }
        }
        let mut state = self.shared.write();
        // A fetch that ended without recording its result (its runtime shut down) is over.
        if state.inflight.as_ref().is_some_and(|f| f.peek().is_some()) {
            state.inflight = None;
        }
        let backing_off = state.failure.as_ref().is_some_and(|f| now < f.retry_at);
        if state.inflight.is_none() && !backing_off {
            let cached = state.cached.as_ref();
            let fresh = cached.is_some_and(|c| c.fresh(self.shared.refresh_ahead, now));
            if !fresh {
                state.inflight = Some(self.shared.clone().start_fetch());
            }
        }
        match (&state.cached, &state.inflight, &state.failure) {
            (Some(c), _, _) if c.valid(now) => Lookup::Token(Arc::clone(c)),
            (_, Some(fetch), _) => Lookup::Wait(fetch.clone()),
            (_, None, Some(failure)) => Lookup::Failed(failure.error.clone()),
            (_, None, None) => {
                Lookup::Failed(AuthError::Other("no token could be obtained".into()))
            }
        }
    }

    /// Forgets `rejected` (the service answered 401 to it), so the next [`get`](Self::get)
    /// asks the source again. A newer token, fetched meanwhile by another call, is kept.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut state = self.shared.write();
        if state
            .cached
            .as_ref()
            .is_some_and(|c| &c.token.token == rejected)
        {
            state.cached = None;
            // The rejection is news: ask the source now, whatever failed before.
            state.failure = None;
        }
    }

    /// Forgets the cached token if its `Authorization` value is `bearer`.
    pub(crate) fn invalidate_bearer(&self, bearer: &HeaderValue) {
        let mut state = self.shared.write();
        if state
            .cached
            .as_ref()
            .is_some_and(|c| c.bearer.as_ref() == Some(bearer))
        {
            state.cached = None;
            state.failure = None;
        }
    }
}

impl CacheShared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CacheState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts one fetch as a task of its own and records its result in the state.
    fn start_fetch(self: Arc<Self>) -> Fetch {
        let task = tokio::spawn(async move {
            let obtained_at = Instant::now();
            let result = self.source.token().await;
            let mut state = self.write();
            state.inflight = None;
            match &result {
                Ok(token) => {
                    state.cached = Some(Arc::new(Cached::new(token.clone(), obtained_at)));
                    state.failure = None;
                }
                Err(error) => {
                    let failures = state
                        .failure
                        .as_ref()
                        .map_or(1, |f| f.failures.saturating_add(1));
                    let backoff = Duration::from_secs(1)
                        .saturating_mul(1u32 << failures.saturating_sub(1).min(6))
                        .min(Duration::from_secs(60));
                    if state
                        .cached
                        .as_ref()
                        .is_some_and(|c| c.valid(Instant::now()))
                    {
                        tracing::warn!(error = %error, retry_in_s = backoff.as_secs(), "token refresh failed; using the cached token until it expires");
                    }
                    state.failure = Some(Failure {
                        error: error.clone(),
                        failures,
                        retry_at: Instant::now() + backoff,
                    });
                }
            }
            result
        });
        async move {
            task.await.unwrap_or_else(|e| {
                Err(AuthError::Other(format!(
                    "the token fetch did not finish: {e}"
                )))
            })
        }
        .boxed()
        .shared()
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.shared.source)
            .field("refresh_ahead", &self.shared.refresh_ahead)
            .finish_non_exhaustive()
    }
}

impl TokenSource for TokenCache {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn debug_output_hides_secrets() {
        let credentials = ClientCredentials::new("app", "hunter2-secret");
        let token = AccessToken::new("eyJ-token-value", Some(Duration::from_secs(60)));
        let text = format!(
            "{credentials:?} {token:?} {:?}",
            StaticToken::new("static-tok")
        );
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(!text.contains("eyJ-token-value"), "{text}");
        assert!(!text.contains("static-tok"), "{text}");
        assert!(text.contains("app"));
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[tokio::test]
    async fn a_share_key_is_a_basic_credential_and_debug_hides_it() {
        let key = ShareKey::new("sk-very-secret");
        assert!(!format!("{key:?}").contains("sk-very-secret"));
        let token = key.token().await.unwrap();
        assert_eq!(token.scheme, AuthScheme::Basic);
        assert_eq!(token.authorization(), "Basic sk-very-secret");
        assert!(token.expires_at.is_none());
        assert!(!format!("{token:?}").contains("sk-very-secret"));
        let bearer = AccessToken::new("t", None);
        assert_eq!(bearer.authorization(), "Bearer t");
    }

    #[test]
    fn environment_takes_a_share_key_after_a_token_and_before_client_credentials() {
        let s = from_vars(vars(&[
            ("ITWIN_SHARE_KEY", "sk-from-env"),
            ("ITWIN_CLIENT_ID", "i"),
            ("ITWIN_CLIENT_SECRET", "s"),
        ]))
        .unwrap();
        assert_eq!(format!("{s:?}"), "ShareKey(***)");
        let s = from_vars(vars(&[
            ("ITWIN_ACCESS_TOKEN", "t"),
            ("ITWIN_SHARE_KEY", "sk-from-env"),
        ]))
        .unwrap();
        assert!(format!("{s:?}").starts_with("StaticToken"));
    }

    #[test]
    fn environment_prefers_a_token_then_client_credentials() {
        let s = from_vars(vars(&[
            ("ITWIN_ACCESS_TOKEN", "t"),
            ("ITWIN_CLIENT_ID", "i"),
        ]))
        .unwrap();
        assert!(format!("{s:?}").starts_with("StaticToken"));
        let s = from_vars(vars(&[
            ("ITWIN_CLIENT_ID", "i"),
            ("ITWIN_CLIENT_SECRET", "very-secret"),
            ("ITWIN_TOKEN_URL", "http://localhost/token"),
        ]))
        .unwrap();
        let text = format!("{s:?}");
        assert!(text.contains("http://localhost/token"), "{text}");
        assert!(!text.contains("very-secret"), "{text}");
        assert!(matches!(
            from_vars(vars(&[("ITWIN_CLIENT_ID", "i")])),
            Err(AuthError::MissingCredentials(_))
        ));
        assert!(matches!(
            from_vars(vars(&[])),
            Err(AuthError::MissingCredentials(_))
        ));
    }

    /// Hands out `t0`, `t1`, ... that live `lifetime`, each after a short delay.
    #[derive(Debug)]
    struct Counting {
        issued: AtomicU32,
        lifetime: Duration,
    }

    impl Counting {
        fn living(lifetime: Duration) -> Self {
            Counting {
                issued: AtomicU32::new(0),
                lifetime,
            }
        }
    }

    impl Default for Counting {
        fn default() -> Self {
            Counting::living(Duration::from_secs(3600))
        }
    }

    impl TokenSource for Counting {
        fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
            let n = self.issued.fetch_add(1, Ordering::SeqCst);
            let lifetime = self.lifetime;
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(AccessToken::new(format!("t{n}"), Some(lifetime)))
            })
        }
    }

    #[tokio::test]
    async fn cache_fetches_once_for_concurrent_callers_and_again_after_invalidate() {
        let source = Arc::new(Counting::default());
        let cache = Arc::new(TokenCache::new(source.clone()));
        let tokens = futures::future::join_all((0..16).map(|_| {
            let cache = cache.clone();
            async move { cache.get().await.unwrap() }
        }))
        .await;
        assert_eq!(source.issued.load(Ordering::SeqCst), 1);
        assert!(tokens.iter().all(|t| t.token.expose() == "t0"));
        cache.invalidate(&Secret::new("not-the-cached-one")).await;
        assert_eq!(cache.get().await.unwrap().token.expose(), "t0");
        cache.invalidate(&Secret::new("t0")).await;
        assert_eq!(cache.get().await.unwrap().token.expose(), "t1");
    }

    #[test]
    fn refresh_window_is_bounded_by_half_the_lifetime() {
        let now = Instant::now();
        let short = Cached::new(
            AccessToken {
                token: Secret::new("x"),
                expires_at: Some(now + Duration::from_secs(10)),
                scheme: AuthScheme::Bearer,
            },
            now,
        );
        assert!(short.fresh(DEFAULT_REFRESH_AHEAD, now + Duration::from_secs(4)));
        assert!(!short.fresh(DEFAULT_REFRESH_AHEAD, now + Duration::from_secs(6)));
        let hour = Cached::new(
            AccessToken {
                token: Secret::new("x"),
                expires_at: Some(now + Duration::from_secs(3600)),
                scheme: AuthScheme::Bearer,
            },
            now,
        );
        assert!(hour.fresh(DEFAULT_REFRESH_AHEAD, now + Duration::from_secs(3200)));
        assert!(!hour.fresh(DEFAULT_REFRESH_AHEAD, now + Duration::from_secs(3400)));
    }

    /// A cached token obtained at `obtained_at` that expires `lifetime` later.
    fn cached(obtained_at: Instant, lifetime: Duration) -> Cached {
        Cached::new(
            AccessToken {
                token: Secret::new("x"),
                expires_at: Some(obtained_at + lifetime),
                scheme: AuthScheme::Bearer,
            },
            obtained_at,
        )
    }

    #[test]
    fn a_token_stops_being_fresh_the_instant_its_refresh_window_opens() {
        let now = Instant::now();
        // Ten seconds of life: the window is the last five (half the lifetime).
        let token = cached(now, Duration::from_secs(10));
        let opens = now + Duration::from_secs(5);
        assert!(token.fresh(DEFAULT_REFRESH_AHEAD, opens - Duration::from_nanos(1)));
        assert!(!token.fresh(DEFAULT_REFRESH_AHEAD, opens));
    }

    #[test]
    fn a_token_is_valid_until_the_instant_it_expires() {
        let now = Instant::now();
        let token = cached(now, Duration::from_secs(10));
        let expires_at = now + Duration::from_secs(10);
        assert!(token.valid(now));
        assert!(token.valid(expires_at - Duration::from_nanos(1)));
        assert!(!token.valid(expires_at), "expired at its expiry");
        assert!(!token.valid(expires_at + Duration::from_secs(1)));
        let forever = Cached::new(AccessToken::new("x", None), now);
        assert!(forever.valid(now + Duration::from_secs(86_400 * 365)));
    }

    #[tokio::test]
    async fn an_expired_token_is_not_handed_out_while_its_replacement_is_fetched() {
        let source = Arc::new(Counting::living(Duration::from_millis(50)));
        let cache = TokenCache::new(source.clone());
        assert_eq!(cache.get().await.unwrap().token.expose(), "t0");
        // A sleep only makes t0 older: it has expired, not merely entered its refresh window.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(cache.get().await.unwrap().token.expose(), "t1");
        assert_eq!(source.issued.load(Ordering::SeqCst), 2);
    }

    /// A source that always fails, and counts how often it was asked.
    #[derive(Debug, Default)]
    struct Refusing(AtomicU32);

    impl TokenSource for Refusing {
        fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(AuthError::Other("refused".into())) })
        }
    }

    #[tokio::test]
    async fn a_failed_fetch_backs_off_for_1_s_doubling_to_1_min() {
        let source = Arc::new(Refusing::default());
        let cache = TokenCache::new(source.clone());
        for (failures, seconds) in (1u32..).zip([1, 2, 4, 8, 16, 32, 60, 60]) {
            // The backoff of the previous failure is over.
            if let Some(failure) = cache.shared.write().failure.as_mut() {
                failure.retry_at = Instant::now();
            }
            let before = Instant::now();
            cache.get().await.unwrap_err();
            let after = Instant::now();
            let state = cache.shared.read();
            let failure = state.failure.as_ref().expect("the failure is remembered");
            assert_eq!(failure.failures, failures);
            // The fetch ended between `before` and `after`; its backoff runs from there.
            let backoff = Duration::from_secs(seconds);
            assert!(
                before + backoff <= failure.retry_at && failure.retry_at <= after + backoff,
                "failure {failures}: expected a backoff of {backoff:?}, got {:?}",
                failure.retry_at.saturating_duration_since(before)
            );
        }
        assert_eq!(source.0.load(Ordering::SeqCst), 8);
        // While the backoff lasts, the remembered error comes back without asking the source.
        cache.shared.write().failure.as_mut().unwrap().retry_at =
            Instant::now() + Duration::from_secs(3600);
        let error = cache.get().await.unwrap_err();
        assert!(
            matches!(error, AuthError::Other(ref m) if m == "refused"),
            "{error:?}"
        );
        assert_eq!(source.0.load(Ordering::SeqCst), 8);
    }

    #[test]
    fn a_secret_shows_only_a_placeholder_in_debug_output() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        let token = AccessToken::new("eyJ-token-value", None);
        let text = format!("{token:?}");
        assert!(text.contains("token: Secret(***)"), "{text}");
    }

    #[test]
    fn a_token_cache_shows_its_source_and_refresh_window_in_debug_output() {
        let cache = TokenCache::with_refresh_ahead(
            Arc::new(StaticToken::new("tok-3x4mpl3")),
            Duration::from_secs(42),
        );
        let text = format!("{cache:?}");
        assert!(text.starts_with("TokenCache"), "{text}");
        assert!(text.contains("source: StaticToken(Secret(***))"), "{text}");
        assert!(text.contains("refresh_ahead: 42s"), "{text}");
        assert!(!text.contains("tok-3x4mpl3"), "{text}");
    }

    #[test]
    fn remaining_is_the_time_left_before_expiry_or_none_without_one() {
        let day = Duration::from_secs(86_400);
        let remaining = AccessToken::new("t", Some(day)).remaining().unwrap();
        assert!(
            remaining > Duration::ZERO && remaining <= day,
            "{remaining:?}"
        );
        assert_eq!(AccessToken::new("t", None).remaining(), None);
        // It expires as it is made: by the time it is asked, nothing is left.
        let expired = AccessToken::new("t", Some(Duration::ZERO));
        assert_eq!(expired.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn client_id_is_the_one_configured() {
        let credentials = ClientCredentials::new("my-service-app", "s");
        assert_eq!(credentials.client_id(), "my-service-app");
    }

    #[test]
    fn environment_variables_set_to_nothing_count_as_unset() {
        let s = from_vars(vars(&[
            ("ITWIN_ACCESS_TOKEN", ""),
            ("ITWIN_SHARE_KEY", "sk-from-env"),
        ]))
        .unwrap();
        assert_eq!(format!("{s:?}"), "ShareKey(***)");
        let s = from_vars(vars(&[
            ("ITWIN_ACCESS_TOKEN", ""),
            ("ITWIN_SHARE_KEY", ""),
            ("ITWIN_CLIENT_ID", "i"),
            ("ITWIN_CLIENT_SECRET", "s"),
            ("ITWIN_TOKEN_URL", ""),
        ]))
        .unwrap();
        let text = format!("{s:?}");
        assert!(text.contains(DEFAULT_TOKEN_URL), "{text}");
        assert!(matches!(
            from_vars(vars(&[
                ("ITWIN_CLIENT_ID", "i"),
                ("ITWIN_CLIENT_SECRET", "")
            ])),
            Err(AuthError::MissingCredentials(_))
        ));
    }

    #[test]
    fn expires_in_is_seconds_as_a_number_or_a_numeric_string() {
        let lifetime = |v: serde_json::Value| token_lifetime(&v);
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(lifetime(serde_json::json!(3600)), hour);
        assert_eq!(lifetime(serde_json::json!("3600")), hour);
        assert_eq!(lifetime(serde_json::json!(" 3600 ")), hour);
        assert_eq!(
            lifetime(serde_json::json!(1.5)),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(lifetime(serde_json::json!(1e300)), Some(MAX_TOKEN_LIFETIME));
        assert_eq!(
            lifetime(serde_json::json!("1e300")),
            Some(MAX_TOKEN_LIFETIME)
        );
    }

    #[test]
    fn an_expires_in_that_is_not_a_positive_number_is_no_known_expiry() {
        for value in [
            serde_json::json!(0),
            serde_json::json!(-5),
            serde_json::json!("0"),
            serde_json::json!("-5"),
            serde_json::json!("NaN"),
            serde_json::json!("soon"),
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!([3600]),
        ] {
            assert_eq!(token_lifetime(&value), None, "{value}");
        }
    }

    #[test]
    fn only_an_overloaded_or_unreachable_token_endpoint_is_worth_asking_again() {
        let endpoint = |status| AuthError::TokenEndpoint {
            status,
            error: None,
            description: None,
        };
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(endpoint(status).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 307] {
            assert!(!endpoint(status).is_retryable(), "{status}");
        }
        assert!(!AuthError::MissingCredentials("none".into()).is_retryable());
        assert!(!AuthError::Decode("not a token".into()).is_retryable());
        assert!(!AuthError::Other("custom source".into()).is_retryable());
    }
}
