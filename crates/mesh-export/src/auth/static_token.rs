//! [`StaticToken`]: a fixed bearer token.

use mesh_export_client::BoxFuture;

use super::error::AuthError;
use super::secret::Secret;
use super::token::{AccessToken, AuthScheme};
use super::token_source::TokenSource;

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
