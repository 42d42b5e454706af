//! [`AccessToken`]: a credential for `Authorization` and when it stops working.

use std::time::{Duration, Instant};

use super::secret::Secret;

/// How a credential is written in `Authorization`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Bearer <token>`: an OAuth2 access token (the spec's `oauth2` scheme).
    #[default]
    Bearer,
    /// `Basic <share key>`: an iTwin share key as issued (the spec's `shareKey` scheme).
    Basic,
}

impl AuthScheme {
    /// The scheme's name as `Authorization` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "Bearer",
            AuthScheme::Basic => "Basic",
        }
    }
}

/// A credential for `Authorization` (a bearer token, or a share key) and when it stops working.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The token.
    pub token: Secret,
    /// When it expires; `None` for tokens that do not say (they are never refreshed ahead).
    pub expires_at: Option<Instant>,
    /// How it goes into `Authorization`; [`AuthScheme::Bearer`] for OAuth2 tokens.
    pub scheme: AuthScheme,
}

impl AccessToken {
    /// A bearer token valid for `lifetime` from now (`None`, or a lifetime past what the clock
    /// can represent: no known expiry).
    pub fn new(token: impl Into<Secret>, lifetime: Option<Duration>) -> Self {
        AccessToken {
            token: token.into(),
            expires_at: lifetime.and_then(|l| Instant::now().checked_add(l)),
            scheme: AuthScheme::Bearer,
        }
    }

    /// The `Authorization` header value: `Bearer <token>` or `Basic <share key>`.
    pub fn authorization(&self) -> String {
        format!("{} {}", self.scheme.as_str(), self.token.expose())
    }

    /// Time left before expiry, if known.
    pub fn remaining(&self) -> Option<Duration> {
        self.expires_at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_is_the_time_left_before_expiry_or_none_without_one() {
        let day = Duration::from_secs(86_400);
        let remaining = AccessToken::new("t", Some(day)).remaining().unwrap();
        assert!(
            remaining > Duration::ZERO && remaining <= day,
            "{remaining:?}"
        );
        assert_eq!(AccessToken::new("t", None).remaining(), None);
        // It expires as it is made: by the time it is asked, nothing is left.
        let expired = AccessToken::new("t", Some(Duration::ZERO));
        assert_eq!(expired.remaining(), Some(Duration::ZERO));
    }
}
