//! Signing a person in: OAuth2 Authorization Code with PKCE (S256) in the system browser and a
//! loopback redirect (RFC 8252), as Bentley's own command-line sign-in (iTwin/auth-clients
//! `node-cli`) does. The issuer's endpoints come from its OpenID discovery document; the
//! session that results ([`UserSession`]) is a [`TokenSource`](crate::auth::TokenSource) and
//! can be kept between runs in a [`SessionStore`]: the OS keyring, else a [`SessionFile`].
//!
//! ```no_run
//! use mesh_export::auth::{InteractiveSignIn, default_session_store};
//!
//! # async fn demo() -> Result<(), mesh_export::auth::AuthError> {
//! let session = InteractiveSignIn::new("my-native-client-id")
//!     .open_with(|url| eprintln!("Open this URL to sign in:\n{url}"))
//!     .sign_in()
//!     .await?
//!     .keep_in(default_session_store()?);
//! session.save().await?;
//! # Ok(())
//! # }
//! ```

mod discovery;
mod loopback;
mod pkce;
mod session;
mod store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use discovery::{Endpoints, discovery_url};
pub use session::UserSession;
pub use store::{
    CONFIG_DIR_VAR, KEYRING_OPEN_DEADLINE, OsKeyring, STORE_VAR, SavedSession, SessionFile,
    SessionStore, default_session_store,
};

use super::AuthError;
use super::client_credentials::{post_token_form, token_http_client, token_retry_options};
use http_policy::retry::RetryOptions;
use loopback::Loopback;
use pkce::Pkce;
use store::SavedSession as Saved;

/// Bentley's issuer (IMS) for production.
pub const BENTLEY_ISSUER: &str = "https://ims.bentley.com";
/// The redirect URI Bentley's desktop sign-in uses by default; register it with the client.
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:3000/signin-callback";
/// The scopes asked by default: the iTwin Platform, and a refresh token.
pub const DEFAULT_SIGN_IN_SCOPE: &str = "itwin-platform offline_access";
/// How long before expiry a signed-in session's token is refreshed (as `node-cli` does); the
/// [`TokenCache`](crate::auth::TokenCache) takes at most half a token's lifetime.
pub const SIGN_IN_REFRESH_AHEAD: Duration = Duration::from_secs(600);
/// How long a sign-in waits for the browser by default.
pub const DEFAULT_SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

type UrlHandler = Arc<dyn Fn(&str) + Send + Sync>;

/// An interactive sign-in of a person, for a native (public) client: no secret.
#[derive(Clone)]
pub struct InteractiveSignIn {
    client_id: String,
    issuer: String,
    redirect_uri: String,
    scope: String,
    timeout: Duration,
    open_with: Option<UrlHandler>,
    http: reqwest::Client,
    retry: RetryOptions,
}

impl InteractiveSignIn {
    /// A sign-in with `client_id` at [`BENTLEY_ISSUER`], redirecting to
    /// [`DEFAULT_REDIRECT_URI`], asking [`DEFAULT_SIGN_IN_SCOPE`], opening the system browser.
    pub fn new(client_id: impl Into<String>) -> Self {
        InteractiveSignIn {
            client_id: client_id.into(),
            issuer: BENTLEY_ISSUER.to_owned(),
            redirect_uri: DEFAULT_REDIRECT_URI.to_owned(),
            scope: DEFAULT_SIGN_IN_SCOPE.to_owned(),
            timeout: DEFAULT_SIGN_IN_TIMEOUT,
            open_with: None,
            http: token_http_client(),
            retry: token_retry_options(),
        }
    }

    /// Another issuer (`https://qa-ims.bentley.com`, an emulator's base URL).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into().trim_end_matches('/').to_owned();
        self
    }

    /// Another loopback redirect URI; port 0 listens on a free port.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = uri.into();
        self
    }

    /// Other scopes (space-separated).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// How long to wait for the browser's answer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Hands the authorization URL to `handler` instead of opening the system browser (a
    /// machine without one: print it for the person to open elsewhere).
    pub fn open_with(mut self, handler: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.open_with = Some(Arc::new(handler));
        self
    }

    /// The issuer signed in with.
    pub fn issuer_url(&self) -> &str {
        &self.issuer
    }

    /// Signs the person in: discovery, the browser (or the handler), the loopback callback, the
    /// code exchange. The session is not saved; see [`UserSession::keep_in`].
    pub async fn sign_in(&self) -> Result<UserSession, AuthError> {
        let endpoints = discovery::discover(&self.http, &self.retry, &self.issuer).await?;
        let loopback = Loopback::bind(&self.redirect_uri).await?;
        let redirect_uri = loopback.redirect_uri().to_owned();
        let pkce = Pkce::new();
        let state = pkce::random_state();
        let mut url = url::Url::parse(&endpoints.authorization_endpoint)
            .map_err(|e| AuthError::SignIn(format!("the issuer's authorization endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &self.scope)
            .append_pair("state", &state)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256");
        match &self.open_with {
            Some(handler) => handler(url.as_str()),
            None => webbrowser::open(url.as_str())
                .map_err(|e| AuthError::SignIn(format!("cannot open the system browser: {e}")))?,
        }
        let code = loopback.wait_for_code(&state, self.timeout).await?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code.expose())
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("client_id", &self.client_id)
            .append_pair("code_verifier", pkce.verifier.expose())
            .finish();
        let bytes =
            post_token_form(&self.http, &self.retry, &endpoints.token_endpoint, body).await?;
        let answer =
            session::parse_answer(&bytes).map_err(|e| e.answered_by(&endpoints.token_endpoint))?;
        let refresh_token = answer.refresh_token.ok_or_else(|| {
            AuthError::SignIn(format!(
                "the issuer gave no refresh token: the client must be allowed the offline_access scope (asked: {})",
                self.scope
            ))
        })?;
        tracing::info!(client_id = %self.client_id, issuer = %self.issuer, "signed in");
        let saved = Saved {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            scopes: self.scope.clone(),
            token_endpoint: endpoints.token_endpoint,
            revocation_endpoint: endpoints.revocation_endpoint,
            refresh_token,
        };
        Ok(UserSession::new(saved, Some(answer.access_token)))
    }
}

impl fmt::Debug for InteractiveSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractiveSignIn")
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("timeout", &self.timeout)
            .field("opens_browser", &self.open_with.is_none())
            .finish()
    }
}
