//! [`UserSession`]: a signed-in person's tokens, refreshed with the refresh token (rotated when
//! the issuer rotates it, and saved again), and revoked on sign-out.

use std::fmt;
use std::sync::Arc;

use mesh_export_client::BoxFuture;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::store::{SavedSession, SessionStore};
use crate::auth::client_credentials::{
    post_token_form, token_http_client, token_lifetime, token_retry_options,
};
use crate::auth::{AccessToken, AuthError, Secret, TokenSource};
use http_policy::retry::RetryOptions;

/// A token endpoint's answer to the code or refresh-token grant.
pub(crate) struct TokenAnswer {
    pub(crate) access_token: AccessToken,
    pub(crate) refresh_token: Option<Secret>,
}

/// Reads a token endpoint's answer; what is wrong with it is described, never quoted.
pub(crate) fn parse_answer(body: &[u8]) -> Result<TokenAnswer, AuthError> {
    #[derive(Deserialize)]
    struct Answer {
        access_token: String,
        expires_in: Option<serde_json::Value>,
        refresh_token: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| AuthError::undecodable(&e))?;
    let lifetime = answer.expires_in.as_ref().and_then(token_lifetime);
    Ok(TokenAnswer {
        access_token: AccessToken::new(answer.access_token, lifetime),
        refresh_token: answer
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new),
    })
}

struct Tokens {
    session: SavedSession,
    /// The access token the sign-in itself gave, used once before the first refresh.
    first: Option<AccessToken>,
}

/// A signed-in person's session: a [`TokenSource`] that refreshes with the refresh token, and
/// keeps the rotated one (in its [`SessionStore`] too, when it has one).
pub struct UserSession {
    issuer: String,
    client_id: String,
    tokens: Mutex<Tokens>,
    store: Option<Arc<dyn SessionStore>>,
    http: reqwest::Client,
    retry: RetryOptions,
}

impl UserSession {
    /// A session from what a sign-in left; `first`, when given, is used before any refresh.
    pub fn new(session: SavedSession, first: Option<AccessToken>) -> Self {
        UserSession {
            issuer: session.issuer.clone(),
            client_id: session.client_id.clone(),
            tokens: Mutex::new(Tokens { session, first }),
            store: None,
            http: token_http_client(),
            retry: token_retry_options(),
        }
    }

    /// The session saved in `store`, or `None` when there is none.
    pub fn load(store: Arc<dyn SessionStore>) -> Result<Option<Self>, AuthError> {
        Ok(store
            .load()?
            .map(|session| UserSession::new(session, None).keep_in(store)))
    }

    /// Keeps the session in `store` from now on: each rotated refresh token is saved there.
    #[must_use]
    pub fn keep_in(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Saves the session in its store now (a no-op without one).
    pub async fn save(&self) -> Result<(), AuthError> {
        match &self.store {
            Some(store) => save_in(store, self.saved().await).await,
            None => Ok(()),
        }
    }

    /// The issuer signed in with.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The native client id signed in with.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The session as it stands (with the latest refresh token).
    pub async fn saved(&self) -> SavedSession {
        self.tokens.lock().await.session.clone()
    }

    /// Forgets the session: revokes the refresh token where the issuer has a revocation
    /// endpoint (RFC 7009), then removes it from the store. Returns whether it was revoked.
    /// The store is cleared even when the revocation fails, and that failure is returned
    /// after; a store that cannot forget the session fails with [`AuthError::SessionStore`].
    pub async fn sign_out(&self) -> Result<bool, AuthError> {
        let session = self.saved().await;
        let revoked = match &session.revocation_endpoint {
            Some(endpoint) => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", session.refresh_token.expose())
                    .append_pair("token_type_hint", "refresh_token")
                    .append_pair("client_id", &session.client_id)
                    .finish();
                Some(post_token_form(&self.http, &self.retry, endpoint, body).await)
            }
            None => None,
        };
        if let Some(store) = self.store.clone() {
            blocking(move || store.remove()).await?;
        }
        match revoked {
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(e),
            None => Ok(false),
        }
    }

    async fn refresh(&self) -> Result<AccessToken, AuthError> {
        let mut tokens = self.tokens.lock().await;
        if let Some(first) = tokens
            .first
            .take()
            .filter(|t| t.remaining() != Some(Default::default()))
        {
            return Ok(first);
        }
        let session = &tokens.session;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", session.refresh_token.expose())
            .append_pair("client_id", &session.client_id)
            .append_pair("scope", &session.scopes)
            .finish();
        let bytes = post_token_form(&self.http, &self.retry, &session.token_endpoint, body).await?;
        let answer = parse_answer(&bytes).map_err(|e| e.answered_by(&session.token_endpoint))?;
        if let Some(rotated) = answer
            .refresh_token
            .filter(|r| *r != tokens.session.refresh_token)
        {
            tokens.session.refresh_token = rotated;
            if let Some(store) = &self.store {
                // The old refresh token is spent: losing the new one would sign the person out
                // at the next run, so a failure to save is an error people see (the CLI shows
                // errors without -v), though not this call's failure.
                if let Err(e) = save_in(store, tokens.session.clone()).await {
                    tracing::error!(
                        error = %e,
                        "the rotated refresh token could not be saved: the next run will need a new sign-in"
                    );
                }
            }
        }
        tracing::debug!(client_id = %tokens.session.client_id, "refreshed the signed-in session");
        Ok(answer.access_token)
    }
}

/// Saves `session` in `store` on a blocking thread: a keyring answers over IPC.
async fn save_in(store: &Arc<dyn SessionStore>, session: SavedSession) -> Result<(), AuthError> {
    let store = store.clone();
    blocking(move || store.save(&session)).await
}

async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| AuthError::SessionStore(format!("the session store did not answer: {e}")))?
}

impl fmt::Debug for UserSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSession")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl TokenSource for UserSession {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(self.refresh())
    }
}
