//! [`from_env`]: credentials from the environment.

use std::sync::Arc;

use super::client_credentials::ClientCredentials;
use super::error::AuthError;
use super::share_key::ShareKey;
use super::static_token::StaticToken;
use super::token_source::TokenSource;

/// Credentials from the environment: `ITWIN_ACCESS_TOKEN` (a static token), else
/// `ITWIN_SHARE_KEY` (a [`ShareKey`]), else `ITWIN_CLIENT_ID` with `ITWIN_CLIENT_SECRET` (client
/// credentials, against `ITWIN_TOKEN_URL` when set), in that order. A variable set to the empty
/// string counts as unset.
///
/// # Errors
///
/// [`AuthError::MissingCredentials`] when none is set, or only half of a pair.
pub fn from_env() -> Result<Arc<dyn TokenSource>, AuthError> {
    from_vars(|name| std::env::var(name).ok())
}

/// [`from_env`] over any lookup of variables. A variable set to the empty string counts as
/// unset: a blank `ITWIN_ACCESS_TOKEN=` (an env file, a CI secret that is not configured)
/// must not become an empty token that takes precedence over the credentials that are set.
fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Arc<dyn TokenSource>, AuthError> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    if let Some(token) = var("ITWIN_ACCESS_TOKEN") {
        return Ok(Arc::new(StaticToken::new(token)));
    }
    if let Some(key) = var("ITWIN_SHARE_KEY") {
        return Ok(Arc::new(ShareKey::new(key)));
    }
    match (var("ITWIN_CLIENT_ID"), var("ITWIN_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => {
            let mut credentials = ClientCredentials::new(id, secret);
            if let Some(url) = var("ITWIN_TOKEN_URL") {
                credentials = credentials.token_url(url);
            }
            Ok(Arc::new(credentials))
        }
        (Some(_), None) => Err(AuthError::MissingCredentials(
            "ITWIN_CLIENT_ID is set but ITWIN_CLIENT_SECRET is not".into(),
        )),
        (None, Some(_)) => Err(AuthError::MissingCredentials(
            "ITWIN_CLIENT_SECRET is set but ITWIN_CLIENT_ID is not".into(),
        )),
        (None, None) => Err(AuthError::MissingCredentials(
            "set ITWIN_ACCESS_TOKEN, ITWIN_SHARE_KEY, or ITWIN_CLIENT_ID and ITWIN_CLIENT_SECRET"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::auth::DEFAULT_TOKEN_URL;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn environment_takes_a_share_key_after_a_token_and_before_client_credentials() {
        let s = from_vars(vars(&[
            ("ITWIN_SHARE_KEY", "sk-from-env"),
            ("ITWIN_CLIENT_ID", "i"),
            ("ITWIN_CLIENT_SECRET", "s"),
        ]))
        .unwrap();
        assert_eq!(format!("{s:?}"), "ShareKey(REDACTED)");
        let s = from_vars(vars(&[
            ("ITWIN_ACCESS_TOKEN", "t"),
            ("ITWIN_SHARE_KEY", "sk-from-env"),
        ]))
        .unwrap();
        assert!(format!("{s:?}").starts_with("StaticToken"));
    }

    #[test]
    fn environment_prefers_a_token_then_client_credentials() {
        let s = from_vars(vars(&[
            ("ITWIN_ACCESS_TOKEN", "t"),
            ("ITWIN_CLIENT_ID", "i"),
        ]))
        .unwrap();
        assert!(format!("{s:?}").starts_with("StaticToken"));
        let s = from_vars(vars(&[
            ("ITWIN_CLIENT_ID", "i"),
            ("ITWIN_CLIENT_SECRET", "very-secret"),
            ("ITWIN_TOKEN_URL", "http://localhost/token"),
        ]))
        .unwrap();
        let text = format!("{s:?}");
        assert!(text.contains("http://localhost/token"), "{text}");
        assert!(!text.contains("very-secret"), "{text}");
        assert!(matches!(
            from_vars(vars(&[("ITWIN_CLIENT_ID", "i")])),
            Err(AuthError::MissingCredentials(_))
        ));
        assert!(matches!(
            from_vars(vars(&[])),
            Err(AuthError::MissingCredentials(_))
        ));
    }

    #[test]
    fn environment_variables_set_to_nothing_count_as_unset() {
        let s = from_vars(vars(&[
            ("ITWIN_ACCESS_TOKEN", ""),
            ("ITWIN_SHARE_KEY", "sk-from-env"),
        ]))
        .unwrap();
        assert_eq!(format!("{s:?}"), "ShareKey(REDACTED)");
        let s = from_vars(vars(&[
            ("ITWIN_ACCESS_TOKEN", ""),
            ("ITWIN_SHARE_KEY", ""),
            ("ITWIN_CLIENT_ID", "i"),
            ("ITWIN_CLIENT_SECRET", "s"),
            ("ITWIN_TOKEN_URL", ""),
        ]))
        .unwrap();
        let text = format!("{s:?}");
        assert!(text.contains(DEFAULT_TOKEN_URL), "{text}");
        assert!(matches!(
            from_vars(vars(&[
                ("ITWIN_CLIENT_ID", "i"),
                ("ITWIN_CLIENT_SECRET", "")
            ])),
            Err(AuthError::MissingCredentials(_))
        ));
    }
}
