//! [`ShareKey`]: an iTwin share key, sent as `Authorization: Basic <share key>`.

use http_policy::redact::REDACTED;
use std::fmt;

use mesh_export_client::BoxFuture;

use super::error::AuthError;
use super::secret::Secret;
use super::token::{AccessToken, AuthScheme};
use super::token_source::TokenSource;

/// An iTwin share key, sent as `Authorization: Basic <share key>` (the key as issued; it is
/// not a base64 `user:password` pair). CesiumJS authenticates iTwin Platform calls this way.
/// A share key does not expire on a schedule the client knows; when the service refuses it,
/// calls fail with 401.
///
/// ```
/// use mesh_export::auth::ShareKey;
///
/// let key = ShareKey::new("my-share-key");
/// assert_eq!(format!("{key:?}"), "ShareKey(REDACTED)");
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
        write!(f, "ShareKey({REDACTED})")
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
