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
//! Adding a kind of credential means one more [`TokenSource`]: [`StaticToken`],
//! [`ClientCredentials`] and a person's [`UserSession`] (from an [`InteractiveSignIn`]) are
//! examples, and [`from_env`] picks one from the
//! environment.

pub(crate) mod authorization_code;
mod cache;
pub(crate) mod client_credentials;
mod env;
mod error;
mod secret;
mod share_key;
mod static_token;
mod token;
mod token_source;

pub use authorization_code::{
    BENTLEY_ISSUER, CONFIG_DIR_VAR, DEFAULT_REDIRECT_URI, DEFAULT_SIGN_IN_SCOPE,
    DEFAULT_SIGN_IN_TIMEOUT, Endpoints, InteractiveSignIn, KEYRING_OPEN_DEADLINE, OsKeyring,
    SIGN_IN_REFRESH_AHEAD, STORE_VAR, SavedSession, SessionFile, SessionStore, UserSession,
    default_session_store, discovery_url,
};
pub use cache::{DEFAULT_REFRESH_AHEAD, TokenCache};
pub use client_credentials::{
    ClientCredentials, DEFAULT_SCOPE, DEFAULT_TOKEN_URL, MAX_TOKEN_LIFETIME,
};
pub use env::from_env;
pub use error::AuthError;
pub use secret::Secret;
pub use share_key::ShareKey;
pub use static_token::StaticToken;
pub use token::{AccessToken, AuthScheme};
pub use token_source::TokenSource;
