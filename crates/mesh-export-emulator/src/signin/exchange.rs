//! The two grants of people signed in: `authorization_code` (PKCE S256 checked, each code
//! once) and `refresh_token` (rotated: a refresh token works once, and its answer carries the
//! next one).

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::grants::Grant;
use crate::oauth::{oauth_error, token_response};
use crate::state::{AppState, Counters};

/// `BASE64URL(SHA256(verifier))` equals the challenge (RFC 7636 4.6), for a verifier of the
/// allowed length and alphabet.
fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

fn invalid_grant(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// An access token and the next refresh token for `grant`.
fn issue_pair(state: &AppState, grant: Grant) -> Response {
    let ttl = state.config.token_ttl;
    let access_token = state.tokens.issue(&grant.user, ttl);
    let scope = grant.scope.clone();
    let client_id = grant.client_id.clone();
    let refresh_token = state.grants.issue_refresh_token(grant);
    Counters::bump(&state.counters.tokens_issued);
    tracing::info!(client_id = %client_id, ttl_secs = ttl.as_secs(), "user token issued");
    token_response(&access_token, ttl, &scope, Some(&refresh_token))
}

/// `grant_type=authorization_code`.
pub(crate) fn exchange_code(state: &Arc<AppState>, form: &HashMap<String, String>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let Some(pending) = state.grants.take_code(field("code")) else {
        return invalid_grant("The authorization code is unknown, already used or expired.");
    };
    if pending.client_id != field("client_id") {
        return invalid_grant("The code was issued to another client.");
    }
    if pending.redirect_uri != field("redirect_uri") {
        return invalid_grant("redirect_uri differs from the authorization request's.");
    }
    if !verifier_matches(field("code_verifier"), &pending.code_challenge) {
        return invalid_grant("code_verifier does not match the code challenge.");
    }
    issue_pair(
        state,
        Grant {
            client_id: pending.client_id,
            scope: pending.scope,
            user: pending.user,
        },
    )
}

/// `grant_type=refresh_token`: the refresh token is spent and a new one issued with the access
/// token.
pub(crate) fn exchange_refresh_token(
    state: &Arc<AppState>,
    form: &HashMap<String, String>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    match state
        .grants
        .take_refresh_token(field("refresh_token"), field("client_id"))
    {
        Some(grant) => issue_pair(state, grant),
        None => invalid_grant(
            "The refresh token is unknown, revoked, already used, or of another client.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::verifier_matches;

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge_and_nothing_else_does() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            challenge
        ));
        assert!(!verifier_matches("short", challenge));
        assert!(!verifier_matches(challenge, challenge));
    }
}
