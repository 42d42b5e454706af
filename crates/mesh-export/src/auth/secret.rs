//! [`Secret`]: a credential that `Debug` output never shows.

use http_policy::redact::REDACTED;
use std::fmt;
use std::sync::Arc;

/// A string that must not be shown: `Debug` prints `Secret(REDACTED)`, and while it lives the
/// redactor removes its value from every text it sees
/// ([`remember_secret`](http_policy::redact::remember_secret)), so a server echoing it back in
/// an error body does not get it into errors, logs or output. Cloning it is cheap.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value, and tells the redactor about it.
    pub fn new(value: impl Into<String>) -> Self {
        let value: Arc<str> = Arc::from(value.into());
        http_policy::redact::remember_secret(&value);
        Secret(value)
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
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
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

    #[test]
    fn the_redactor_removes_a_secret_while_it_lives() {
        let share_key = Secret::from("share-key-value-for-redaction");
        let token = AccessToken::new(String::from("access-token-value-for-redaction"), None);
        let echoed = "401: share-key-value-for-redaction, access-token-value-for-redaction";
        assert_eq!(
            http_policy::redact::redact(echoed),
            "401: REDACTED, REDACTED"
        );
        drop((share_key, token));
    }
}
