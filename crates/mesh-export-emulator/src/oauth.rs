//! OAuth2 answers of the token endpoints: errors (RFC 6749 5.2) and tokens.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::errors;

/// An OAuth2 error answer, never cached.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = errors::json(
        status,
        &json!({ "error": error, "error_description": description }),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A token endpoint's success answer: an access token for `ttl`, and a refresh token when the
/// grant has one.
pub(crate) fn token_response(
    access_token: &str,
    ttl: std::time::Duration,
    scope: &str,
    refresh_token: Option<&str>,
) -> Response {
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "scope": scope,
    });
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    let mut response = errors::json(StatusCode::OK, &body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
