//! `logout`: forgets the saved sign-in, and revokes its refresh token at the issuer.

use mesh_export::auth::{UserSession, default_session_store};

use crate::error::CliError;

/// `logout`.
pub async fn run() -> Result<(), CliError> {
    let store = default_session_store()?;
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
    match session.sign_out().await {
        Ok(true) => println!("signed out: session removed from {path}, refresh token revoked"),
        Ok(false) => println!(
            "signed out: session removed from {path} (the issuer has no revocation endpoint)"
        ),
        // The session is forgotten here either way; the issuer's refusal is worth knowing.
        Err(e) => {
            println!("signed out: session removed from {path}");
            eprintln!("warning: the issuer did not revoke the refresh token: {e}");
        }
    }
    Ok(())
}
