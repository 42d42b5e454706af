//! The codes and refresh tokens of signed-in people (the grants of [`crate::signin`] spend
//! them).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A code handed to the app, waiting to be exchanged.
pub(crate) struct PendingCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) scope: String,
    pub(crate) user: String,
}

/// Who a refresh token stands for.
#[derive(Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) user: String,
}

/// Codes and refresh tokens; values are random, opaque and never logged.
#[derive(Default)]
pub(crate) struct Grants {
    codes: Mutex<HashMap<String, (PendingCode, Instant)>>,
    refresh_tokens: Mutex<HashMap<String, Grant>>,
}

fn random_value() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Grants {
    /// A fresh code for `pending`, valid for `ttl`.
    pub(crate) fn issue_code(&self, pending: PendingCode, ttl: Duration) -> String {
        let code = random_value();
        let now = Instant::now();
        let mut codes = self.codes.lock().expect("codes lock");
        codes.retain(|_, (_, expires_at)| *expires_at > now);
        codes.insert(code.clone(), (pending, now + ttl));
        code
    }

    /// Takes a code out: a code is spent by its first exchange, whatever the outcome.
    pub(crate) fn take_code(&self, code: &str) -> Option<PendingCode> {
        let (pending, expires_at) = self.codes.lock().expect("codes lock").remove(code)?;
        (expires_at > Instant::now()).then_some(pending)
    }

    pub(crate) fn issue_refresh_token(&self, grant: Grant) -> String {
        let token = random_value();
        self.refresh_tokens
            .lock()
            .expect("refresh tokens lock")
            .insert(token.clone(), grant);
        token
    }

    /// Takes a refresh token of `client_id` out: it is spent (rotation).
    pub(crate) fn take_refresh_token(&self, token: &str, client_id: &str) -> Option<Grant> {
        let mut tokens = self.refresh_tokens.lock().expect("refresh tokens lock");
        match tokens.get(token) {
            Some(grant) if grant.client_id == client_id => tokens.remove(token),
            _ => None,
        }
    }

    /// Forgets a refresh token of `client_id`; whether there was one.
    pub(crate) fn revoke(&self, token: &str, client_id: &str) -> bool {
        let mut tokens = self.refresh_tokens.lock().expect("refresh tokens lock");
        let owned = tokens
            .get(token)
            .is_some_and(|g| client_id.is_empty() || g.client_id == client_id);
        owned && tokens.remove(token).is_some()
    }
}
