//! [`TokenSource`]: anything that produces a credential for `Authorization`.

use std::fmt;
use std::sync::Arc;

use mesh_export_client::BoxFuture;

use super::error::AuthError;
use super::token::AccessToken;

/// Anything that can produce a bearer token for the iTwin Platform.
///
/// Implement it for a token you obtain elsewhere (an interactive sign-in, a secret store).
/// Sources need not cache: the client wraps them in a [`TokenCache`](super::TokenCache).
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
