//! `/connect/authorize`: the authorization request checked, the login form, and the redirect
//! back to the app with a code.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{DEMO_NATIVE_CLIENT_ID, DEMO_PASSWORD, DEMO_USER, is_loopback_redirect};
use crate::grants::PendingCode;
use crate::markup::escape;
use crate::state::AppState;

/// The parameters of an authorization request, as the form carries them along.
const CARRIED: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
];

/// An authorization request whose client and redirect URI were accepted.
struct Request {
    params: HashMap<String, String>,
    redirect_uri: String,
}

impl Request {
    fn get(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    /// A redirect to the app with `pairs` and the request's `state`.
    fn redirect(&self, pairs: &[(&str, &str)]) -> Response {
        let mut url = url::Url::parse(&self.redirect_uri).expect("checked as a loopback URL");
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in pairs {
                query.append_pair(name, value);
            }
            if !self.get("state").is_empty() {
                query.append_pair("state", self.get("state"));
            }
        }
        let mut response = StatusCode::FOUND.into_response();
        let location = HeaderValue::from_str(url.as_str()).expect("a URL is a header value");
        response.headers_mut().insert(header::LOCATION, location);
        no_store(response)
    }

    /// The error redirect of RFC 6749 4.1.2.1.
    fn error(&self, error: &str, description: &str) -> Response {
        self.redirect(&[("error", error), ("error_description", description)])
    }
}

/// Checks the client and the redirect URI; a failure is shown to the person, never sent to a
/// redirect URI that is not trusted (RFC 6749 4.1.2.1). Then the rest of the request, whose
/// failures go back to the app.
fn check(params: HashMap<String, String>) -> Result<Request, Box<Response>> {
    let client_id = params.get("client_id").map(String::as_str).unwrap_or("");
    if client_id != DEMO_NATIVE_CLIENT_ID {
        return Err(Box::new(page(
            StatusCode::BAD_REQUEST,
            "Unknown client",
            &format!("The client {client_id:?} is not registered."),
        )));
    }
    let redirect_uri = params.get("redirect_uri").cloned().unwrap_or_default();
    if !is_loopback_redirect(&redirect_uri) {
        return Err(Box::new(page(
            StatusCode::BAD_REQUEST,
            "Redirect URI not allowed",
            "A native client may only redirect to http://127.0.0.1, http://[::1] or http://localhost (any port).",
        )));
    }
    let request = Request {
        params,
        redirect_uri,
    };
    if request.get("response_type") != "code" {
        return Err(Box::new(request.error(
            "unsupported_response_type",
            "Only response_type=code is supported.",
        )));
    }
    if request.get("code_challenge_method") != "S256" || request.get("code_challenge").len() != 43 {
        return Err(Box::new(request.error(
            "invalid_request",
            "PKCE is required: code_challenge (43 characters) with code_challenge_method=S256.",
        )));
    }
    if !request
        .get("scope")
        .split_whitespace()
        .any(|s| s == "itwin-platform")
    {
        return Err(Box::new(
            request.error("invalid_scope", "The scope must include itwin-platform."),
        ));
    }
    Ok(request)
}

/// `GET /connect/authorize`: the login form, carrying the authorization request along.
pub(crate) async fn authorize_form(RawQuery(query): RawQuery) -> Response {
    let params = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    match check(params) {
        Ok(request) => login_form(&request, StatusCode::OK, None),
        Err(response) => *response,
    }
}

/// `POST /connect/authorize`: the form submitted. The demo user's password redirects to the app
/// with a code; a wrong one shows the form again.
pub(crate) async fn authorize_submit(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let params: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let username = params.get("username").cloned().unwrap_or_default();
    let password = params.get("password").cloned().unwrap_or_default();
    let request = match check(params) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    if username != DEMO_USER || password != DEMO_PASSWORD {
        tracing::info!(username = %username, "sign-in refused: unknown user or wrong password");
        return login_form(
            &request,
            StatusCode::UNAUTHORIZED,
            Some("Wrong user name or password."),
        );
    }
    let code = state.grants.issue_code(
        PendingCode {
            client_id: request.get("client_id").to_owned(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.get("code_challenge").to_owned(),
            scope: request.get("scope").to_owned(),
            user: username,
        },
        state.config.authorization_code_ttl,
    );
    tracing::info!(client_id = %request.get("client_id"), "signed in; redirecting with a code");
    request.redirect(&[("code", &code)])
}

fn login_form(request: &Request, status: StatusCode, error: Option<&str>) -> Response {
    let mut hidden = String::new();
    for name in CARRIED {
        let _ = writeln!(
            hidden,
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(request.get(name))
        );
    }
    let error = error
        .map(|e| format!(r#"<p id="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<p>Sign in to the Mesh Export emulator for <b>{client}</b>.</p>
{error}
<form method="post" action="/connect/authorize">
{hidden}<p><label>User name <input id="username" name="username" autocomplete="username" required></label></p>
<p><label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label></p>
<p><button id="submit" type="submit">Sign in</button></p>
</form>"#,
        client = escape(request.get("client_id")),
    );
    html(status, "Sign in", &body)
}

/// A page that tells the person why the request cannot go on.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, title, &format!("<p>{}</p>", escape(message)))
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let document = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} - Mesh Export emulator</title></head>\n<body><h1>{title}</h1>\n{body}\n</body></html>\n"
    );
    let mut response = (status, document).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    no_store(response)
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
