//! `logout`: forgets the saved sign-in, and revokes its refresh token at the issuer.

use mesh_export::auth::{AuthError, UserSession};

use crate::error::CliError;

/// `logout`.
pub async fn run() -> Result<(), CliError> {
    let store = crate::global::session_store()?;
    let path = store.location();
    let session = match UserSession::load(store.clone()) {
        Ok(Some(session)) => session,
        Ok(None) => {
            println!("not signed in (no session at {path})");
            return Ok(());
        }
        // Kept, a session file that cannot be read would be warned about by every command and
        // could not be forgotten but by hand.
        Err(e) => {
            store.remove()?;
            println!("signed out: unreadable session removed from {path}");
            eprintln!("warning: its refresh token could not be revoked: {e}");
            return Ok(());
        }
    };
    let (said, warning) = signed_out(session.sign_out().await, &path)?;
    println!("{said}");
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

/// What `logout` says after [`UserSession::sign_out`]: the line for stdout, and a warning.
fn signed_out(
    result: Result<bool, AuthError>,
    path: &str,
) -> Result<(String, Option<String>), CliError> {
    Ok(match result {
        Ok(true) => (
            format!("signed out: session removed from {path}, refresh token revoked"),
            None,
        ),
        Ok(false) => (
            format!(
                "signed out: session removed from {path} (the issuer has no revocation endpoint)"
            ),
            None,
        ),
        // Not removed: saying "signed out" would leave the person believing it is gone.
        Err(e @ AuthError::SessionStore(_)) => return Err(e.into()),
        // The session is forgotten here; the issuer's refusal is worth knowing.
        Err(e) => (
            format!("signed out: session removed from {path}"),
            Some(format!("the issuer did not revoke the refresh token: {e}")),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_the_store_could_not_remove_is_not_reported_as_signed_out() {
        let failed = AuthError::SessionStore(
            "the session cannot be kept in the OS keyring: it is locked or refused access".into(),
        );
        let result = signed_out(Err(failed), "the OS keyring");
        let error = result.expect_err("the session is still there").to_string();
        assert!(error.contains("locked or refused access"), "{error}");
    }

    #[test]
    fn a_revocation_the_issuer_refused_is_a_warning_after_the_session_is_removed() {
        let refused = AuthError::TokenEndpoint {
            endpoint: "https://issuer.example/connect/revocation".into(),
            status: 400,
            error: Some("invalid_request".into()),
            description: None,
        };
        let (said, warning) = signed_out(Err(refused), "/config/session.json").unwrap();
        assert_eq!(
            said,
            "signed out: session removed from /config/session.json"
        );
        assert!(warning.unwrap().contains("did not revoke"));
    }
}
