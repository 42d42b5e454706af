//! The access tokens the token endpoint has issued, and who each one stands for.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Issued tokens. Tokens are random, opaque, and only ever compared, never logged.
#[derive(Default)]
pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, Issued>>,
}

struct Issued {
    client_id: String,
    expires_at: Instant,
}

/// Who made a request, as the token says; handlers and the rate limit read it.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) client_id: String,
}

impl Tokens {
    /// A fresh token for `client_id`, valid for `ttl`.
    pub(crate) fn issue(&self, client_id: &str, ttl: Duration) -> String {
        let token = hex::encode(rand::random::<[u8; 32]>());
        let now = Instant::now();
        let mut issued = self.issued.lock().expect("token lock");
        // Forget expired tokens so a long-running emulator does not grow without bound.
        issued.retain(|_, t| t.expires_at > now);
        issued.insert(
            token.clone(),
            Issued {
                client_id: client_id.to_owned(),
                expires_at: now + ttl,
            },
        );
        token
    }

    /// The client a token was issued to, while it is valid.
    pub(crate) fn client_of(&self, token: &str) -> Option<String> {
        let issued = self.issued.lock().expect("token lock");
        issued
            .get(token)
            .filter(|t| t.expires_at > Instant::now())
            .map(|t| t.client_id.clone())
    }

    /// Forgets a token; whether it was known.
    pub(crate) fn revoke(&self, token: &str) -> bool {
        self.issued
            .lock()
            .expect("token lock")
            .remove(token)
            .is_some()
    }
}
