//! The IMS-like token endpoint and the bearer-token check of the Mesh Export routes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::errors::{self, detail};
use crate::oauth::{oauth_error, token_response};
use crate::signin;
use crate::state::{AppState, Counters};
use crate::tokens::Caller;

/// The scope every Mesh Export call needs.
const REQUIRED_SCOPE: &str = "itwin-platform";

/// Client id and secret from an `Authorization: Basic` header, if there is one.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = decode_base64(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 2.3.1: both parts are form-urlencoded before base64.
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Base64 as HTTP Basic carries it; clients differ on padding, so either is accepted.
fn decode_base64(input: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(input).ok()
}

/// `POST /connect/token`: the OAuth2 client-credentials grant, and the authorization-code and
/// refresh-token grants of people signed in ([`crate::signin`]).
pub(crate) async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let Some(grant_type) = form.get("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required (form-encoded body).",
        );
    };
    match grant_type.as_str() {
        "client_credentials" => {}
        "authorization_code" => return signin::exchange_code(&state, &form),
        "refresh_token" => return signin::exchange_refresh_token(&state, &form),
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Supported grants: client_credentials, authorization_code, refresh_token.",
            );
        }
    }
    let credentials = basic_credentials(&headers).or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    });
    let Some((client_id, secret)) = credentials else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client credentials are missing.",
        );
    };
    if state.clients.get(&client_id) != Some(&secret) {
        tracing::info!(client_id = %client_id, "token refused: unknown client or wrong secret");
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client or wrong secret.",
        );
    }
    let scope = form.get("scope").map(String::as_str).unwrap_or("");
    if !scope.split_whitespace().any(|s| s == REQUIRED_SCOPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The scope must include itwin-platform.",
        );
    }
    let ttl = state.config.token_ttl;
    let access_token = state.tokens.issue(&client_id, ttl);
    Counters::bump(&state.counters.tokens_issued);
    tracing::info!(client_id = %client_id, ttl_secs = ttl.as_secs(), "token issued");
    token_response(&access_token, ttl, REQUIRED_SCOPE, None)
}

fn unauthorized(
    code: &str,
    message: &str,
    details: Vec<mesh_export_client::types::ErrorDetail>,
) -> Response {
    let mut response = errors::service_error(StatusCode::UNAUTHORIZED, code, message, details);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The caller a share key stands for, when `value` is `Basic <key>` with a configured key.
/// The key is never logged: the caller is named by the key's position.
fn share_key_caller(state: &AppState, value: &str) -> Option<String> {
    let (scheme, key) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let key = key.trim();
    state
        .config
        .share_keys
        .iter()
        .position(|k| k == key)
        .map(|n| format!("share-key-{n}"))
}

/// Middleware of the Mesh Export routes: a valid bearer token or share key, or 401.
pub(crate) async fn require_bearer(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return unauthorized(
            "HeaderNotFound",
            "Header Authorization was not found in the request. Access denied.",
            Vec::new(),
        );
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let client_id = token.and_then(|t| state.tokens.client_of(t)).or_else(|| {
        value
            .to_str()
            .ok()
            .and_then(|v| share_key_caller(&state, v))
    });
    let Some(client_id) = client_id else {
        return unauthorized(
            "Unauthorized",
            "The request was not authorized.",
            vec![detail(
                "InvalidToken",
                "The access token is invalid or expired.",
                "Authorization",
            )],
        );
    };
    request.extensions_mut().insert(Caller { client_id });
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn decodes_base64_with_and_without_padding() {
        assert_eq!(decode_base64("ZGVtbzpzZWNyZXQ=").unwrap(), b"demo:secret");
        assert_eq!(decode_base64("YWI").unwrap(), b"ab");
        assert!(decode_base64("a*b").is_none());
    }
}
