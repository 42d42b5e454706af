//! Signing people in, as IMS does for native apps: OpenID discovery, the authorization
//! endpoint with a plain HTML login form, the authorization-code and refresh-token grants with
//! PKCE (S256) and refresh-token rotation, and token revocation.
//!
//! One public client is known, [`DEMO_NATIVE_CLIENT_ID`], with no secret; it accepts any
//! loopback redirect URI (RFC 8252 7.3: any port, since a native app binds what is free). One
//! person is known: [`DEMO_USER`] / [`DEMO_PASSWORD`].

mod exchange;
mod form;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::errors;
use crate::state::AppState;

pub(crate) use exchange::{exchange_code, exchange_refresh_token};
pub(crate) use form::{authorize_form, authorize_submit};

/// The native (public) client the emulator knows: no secret, any loopback redirect URI.
pub const DEMO_NATIVE_CLIENT_ID: &str = "demo-native-client";
/// The person the login form accepts.
pub const DEMO_USER: &str = "demo-user";
/// The password of [`DEMO_USER`].
pub const DEMO_PASSWORD: &str = "demo-password";

/// Whether `uri` is a loopback redirect URI a native app may use: `http`, host `127.0.0.1` (or
/// another loopback IPv4 address), `[::1]` or `localhost`, any port, no user info or fragment.
pub(crate) fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let loopback_host = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    url.scheme() == "http"
        && loopback_host
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
}

/// `GET /.well-known/openid-configuration`: the issuer is the emulator's origin as the caller
/// addressed it, so the endpoints work from where the caller stands.
pub(crate) async fn discovery(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let issuer = state.origin(&headers);
    errors::json(
        StatusCode::OK,
        &json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/connect/authorize"),
            "token_endpoint": format!("{issuer}/connect/token"),
            "revocation_endpoint": format!("{issuer}/connect/revocation"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["itwin-platform", "offline_access", "openid"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        }),
    )
}

/// `POST /connect/revocation` (RFC 7009): forgets a refresh token (and the access tokens of the
/// same grant are left to expire) or an access token. Unknown tokens are answered 200 too, as
/// the RFC asks, so a caller learns nothing from the answer.
pub(crate) async fn revocation(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return crate::oauth::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required (form-encoded body).",
        );
    };
    let client_id = form.get("client_id").map(String::as_str).unwrap_or("");
    let revoked = state.grants.revoke(token, client_id) || state.tokens.revoke(token);
    tracing::info!(client_id = %client_id, revoked, "revocation request");
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::is_loopback_redirect;

    #[test]
    fn only_loopback_http_redirects_on_any_port_are_accepted() {
        for uri in [
            "http://127.0.0.1:49152/callback",
            "http://127.0.0.1/cb",
            "http://localhost:3000/signin-callback",
            "http://[::1]:8080/",
            "http://127.1.2.3:1/x?y=z",
        ] {
            assert!(is_loopback_redirect(uri), "{uri}");
        }
        for uri in [
            "https://127.0.0.1:3000/callback",
            "http://example.com:3000/callback",
            "http://127.0.0.1.example.com/callback",
            "http://localhost.evil:3000/",
            "http://10.0.0.1:3000/callback",
            "http://user@127.0.0.1:3000/callback",
            "http://127.0.0.1:3000/callback#frag",
            "com.example.app:/callback",
            "not a url",
        ] {
            assert!(!is_loopback_redirect(uri), "{uri}");
        }
    }
}
