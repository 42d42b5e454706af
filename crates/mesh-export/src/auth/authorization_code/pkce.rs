//! PKCE (RFC 7636) with the S256 method, and the `state` that ties a callback to its request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::auth::Secret;

/// A code verifier and its S256 challenge.
pub(crate) struct Pkce {
    /// 43 characters of base64url (32 random bytes), sent only with the code exchange.
    pub(crate) verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`, sent with the authorization request.
    pub(crate) challenge: String,
}

impl Pkce {
    /// A fresh verifier from the operating system's randomness.
    pub(crate) fn new() -> Self {
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let challenge = challenge_of(&verifier);
        Pkce {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A random `state`: a callback that does not carry it was not answered to our request.
pub(crate) fn random_state() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_rfc_7636_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let pkce = Pkce::new();
        assert_eq!(pkce.verifier.expose().len(), 43);
        assert_eq!(pkce.challenge, challenge_of(pkce.verifier.expose()));
        assert_ne!(
            Pkce::new().verifier,
            pkce.verifier,
            "each verifier is fresh"
        );
        assert_ne!(random_state(), random_state());
    }
}
