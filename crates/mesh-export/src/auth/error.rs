//! [`AuthError`]: why no token could be obtained.

use std::sync::Arc;

use http_policy::redact::cause_chain;

/// Why no token could be obtained. Cheap to clone: a failure is remembered and shared by every
/// caller that waited for the same fetch.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials were configured or found in the environment.
    #[error("no credentials: {0}")]
    MissingCredentials(String),
    /// The token endpoint refused the request.
    #[error("token endpoint {endpoint} answered HTTP {status}{}{}", error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(), description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenEndpoint {
        /// The endpoint's URL, redacted ([`http_policy::redact::redact_link`]): which server
        /// answered, so a person can tell the token endpoint from the service.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The OAuth2 `error` code (`invalid_client`, ...).
        error: Option<String>,
        /// The OAuth2 `error_description`.
        description: Option<String>,
    },
    /// The token endpoint (or the issuer's discovery document) could not be reached.
    #[error("cannot reach {endpoint}: {}", cause_chain(.source.as_ref()))]
    Transport {
        /// The URL asked, redacted ([`http_policy::redact::redact_link`]).
        endpoint: String,
        /// Why; its own text names no URL.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The token endpoint answered with something that is not a token.
    #[error("unexpected token response: {0}")]
    Decode(String),
    /// An interactive sign-in could not finish (the browser's answer, the loopback listener,
    /// the saved session).
    #[error("sign-in failed: {0}")]
    SignIn(String),
    /// The saved session could not be read, kept or removed (a file, the OS keyring); the text
    /// names where.
    #[error("{0}")]
    SessionStore(String),
    /// A custom [`TokenSource`](super::TokenSource) failed.
    #[error("{0}")]
    Other(String),
}

impl AuthError {
    /// A failure to reach `url`: the error keeps the URL redacted, and its source none.
    pub(crate) fn transport(url: &str, source: reqwest::Error) -> Self {
        AuthError::Transport {
            endpoint: http_policy::redact::redact_link(url),
            source: Arc::new(source.without_url()),
        }
    }

    /// An answer that is no token, described by `e` without quoting it (see [`unquoted`]).
    pub(crate) fn undecodable(e: &serde_json::Error) -> Self {
        AuthError::Decode(unquoted(e))
    }

    /// This error, if it is an answer that is no token, naming the endpoint at `url` that gave
    /// it (redacted).
    pub(crate) fn answered_by(self, url: &str) -> Self {
        match self {
            AuthError::Decode(why) => AuthError::Decode(format!(
                "{why} (from {})",
                http_policy::redact::redact_link(url)
            )),
            other => other,
        }
    }

    /// The URL (redacted) of the server the failure concerns, when it is one: the token
    /// endpoint that answered or could not be reached, or the issuer's discovery document.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            AuthError::TokenEndpoint { endpoint, .. } | AuthError::Transport { endpoint, .. } => {
                Some(endpoint)
            }
            _ => None,
        }
    }

    /// Whether asking again later may work: the endpoint was unreachable, overloaded or rate
    /// limiting (the statuses [`TokenFetch`](crate::retry::TokenFetch) retries).
    pub fn is_retryable(&self) -> bool {
        match self {
            AuthError::Transport { .. } => true,
            AuthError::TokenEndpoint { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }
}

/// What is wrong with a JSON text that may hold a secret (a token endpoint's answer, a saved
/// session), without quoting it: serde's messages quote the strings they did not expect, and
/// any of them may be a token.
pub(crate) fn unquoted(e: &serde_json::Error) -> String {
    let message = e.to_string();
    // A missing field is named by the type being read, never by the text.
    if message.starts_with("missing field `") {
        return message;
    }
    let what = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of another shape",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_overloaded_or_unreachable_token_endpoint_is_worth_asking_again() {
        let endpoint = |status| AuthError::TokenEndpoint {
            endpoint: "https://ims.example/connect/token".into(),
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
