//! [`Secret`]: a credential that `Debug` output never shows.

use http_policy::redact::REDACTED;
use std::fmt;
use std::sync::Arc;

/// A string that must not be shown: `Debug` prints `Secret(REDACTED)`. Cloning it is cheap.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(Arc::from(value))
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(Arc::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AccessToken;

    #[test]
    fn a_secret_shows_only_a_placeholder_in_debug_output() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(REDACTED)");
        let token = AccessToken::new("eyJ-token-value", None);
        let text = format!("{token:?}");
        assert!(text.contains("token: Secret(REDACTED)"), "{text}");
    }
}
