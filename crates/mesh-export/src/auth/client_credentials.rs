//! [`ClientCredentials`]: OAuth2 client credentials against IMS, fetched through the one retry
//! loop.

use std::fmt;
use std::time::Duration;

use mesh_export_client::BoxFuture;
use serde::Deserialize;

use super::error::AuthError;
use super::secret::Secret;
use super::token::AccessToken;
use super::token_source::TokenSource;
use http_policy::retry::{self, ClassifyRetry, Ended, RetryOptions};

/// The IMS token endpoint for service applications.
pub const DEFAULT_TOKEN_URL: &str = "https://ims.bentley.com/connect/token";
/// The OAuth2 scope the iTwin Platform APIs require.
pub const DEFAULT_SCOPE: &str = "itwin-platform";
/// The longest lifetime a token endpoint's `expires_in` is taken at: a larger (or absurd) value
/// counts as a day, so even a token that claims to live forever is refreshed daily.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

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
    /// as API calls ([`TokenFetch`](crate::retry::TokenFetch)); a refusal of the credentials is not.
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
        let bytes = post_token_form(&self.http, &self.retry, &self.token_url, body).await?;
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: String,
            expires_in: Option<serde_json::Value>,
        }
        let token: TokenResponse = serde_json::from_slice(&bytes)
            .map_err(|e| AuthError::undecodable(&e).answered_by(&self.token_url))?;
        let lifetime = token.expires_in.as_ref().and_then(token_lifetime);
        tracing::debug!(client_id = %self.client_id, lifetime_s = lifetime.map(|l| l.as_secs()), "obtained a token");
        Ok(AccessToken::new(token.access_token, lifetime))
    }
}

/// Posts a form to a token endpoint through the one retry loop ([`TokenFetch`]) and returns
/// the body of its success answer; any other answer is an [`AuthError::TokenEndpoint`].
pub(crate) async fn post_token_form(
    http: &reqwest::Client,
    options: &RetryOptions,
    url: &str,
    body: String,
) -> Result<bytes::Bytes, AuthError> {
    let method = reqwest::Method::POST;
    let ended = retry::run(
        options,
        &"token request",
        |outcome: &reqwest::Result<(
            reqwest::StatusCode,
            reqwest::header::HeaderMap,
            bytes::Bytes,
        )>| {
            match outcome {
                Ok((status, headers, _)) => TokenFetch.classify_status(&method, *status, headers),
                Err(error) => TokenFetch.classify_transport(&method, error),
            }
        },
        |_| request_token(http, url, body.clone()),
    )
    .await;
    let (status, _, bytes) = match ended {
        Ended::Outcome(outcome) | Ended::HintTooLong { outcome, .. } => {
            outcome.map_err(|e| AuthError::transport(url, e))?
        }
    };
    if !status.is_success() {
        return Err(token_endpoint_error(url, status.as_u16(), &bytes));
    }
    Ok(bytes)
}

/// One token request, read in full.
async fn request_token(
    http: &reqwest::Client,
    url: &str,
    body: String,
) -> reqwest::Result<(
    reqwest::StatusCode,
    reqwest::header::HeaderMap,
    bytes::Bytes,
)> {
    let mut response = http
        .post(url)
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

/// The error of a token fetch from `url` that ended with `status`: the OAuth2 error body when
/// it is one. Its texts are quoted like every other network text: redacted (this source's own
/// secret included, see [`Secret`]) and capped.
fn token_endpoint_error(url: &str, status: u16, body: &[u8]) -> AuthError {
    #[derive(Deserialize)]
    struct OAuthError {
        error: Option<String>,
        error_description: Option<String>,
    }
    let parsed = serde_json::from_slice::<OAuthError>(body).ok();
    let redact = |s: String| http_policy::redact::quote(&s);
    AuthError::TokenEndpoint {
        endpoint: http_policy::redact::redact_link(url),
        status,
        error: parsed.as_ref().and_then(|p| p.error.clone()).map(redact),
        description: parsed.and_then(|p| p.error_description).map(redact),
    }
}

/// The lifetime an `expires_in` gives: seconds as a number or a numeric string, at most
/// [`MAX_TOKEN_LIFETIME`]. Anything else (negative, zero, NaN, not a number) is no known expiry:
/// the token is used until the service answers 401, which replaces it.
pub(crate) fn token_lifetime(expires_in: &serde_json::Value) -> Option<Duration> {
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
pub(crate) fn token_retry_options() -> RetryOptions {
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

pub(crate) fn token_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client with no custom TLS settings always builds")
}

/// The classifier of requests to the OAuth2 token endpoint: a repeat only mints another token,
/// so any 408, 429 or 5xx and any transport failure may be repeated.
pub use http_policy::retry::RepeatableRequest as TokenFetch;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::StaticToken;

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

    #[test]
    fn client_id_is_the_one_configured() {
        let credentials = ClientCredentials::new("my-service-app", "s");
        assert_eq!(credentials.client_id(), "my-service-app");
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
}
