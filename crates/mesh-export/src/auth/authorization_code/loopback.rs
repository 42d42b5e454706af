//! The loopback listener of a native app's sign-in (RFC 8252 7.3): it binds the redirect
//! URI's port (port 0: a free one), takes exactly one callback that carries the request's
//! `state`, and answers the browser with a short page.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::auth::{AuthError, Secret};

/// How long the browser's page may take to be delivered once the callback arrived.
const PAGE_DELIVERY: Duration = Duration::from_secs(5);

/// A bound loopback listener waiting for the sign-in's callback.
pub(crate) struct Loopback {
    listener: TcpListener,
    redirect_uri: url::Url,
}

/// What a callback said, with the connection it came on.
type Answer = (usize, Result<Secret, AuthError>);

impl Loopback {
    /// Binds the port of `redirect_uri`, which must be `http` on a loopback host.
    pub(crate) async fn bind(redirect_uri: &str) -> Result<Self, AuthError> {
        let mut url = url::Url::parse(redirect_uri)
            .map_err(|e| AuthError::SignIn(format!("redirect URI {redirect_uri:?}: {e}")))?;
        let ip = match url.host() {
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        if url.scheme() != "http" || !ip.is_loopback() {
            return Err(AuthError::SignIn(format!(
                "the redirect URI {redirect_uri} is not http on 127.0.0.1, [::1] or localhost"
            )));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let listener = TcpListener::bind(SocketAddr::new(ip, port))
            .await
            .map_err(|e| {
                AuthError::SignIn(format!(
                    "cannot listen on {ip}:{port} for the redirect URI {redirect_uri}: {e}"
                ))
            })?;
        let bound = listener
            .local_addr()
            .map_err(|e| AuthError::SignIn(format!("loopback listener: {e}")))?;
        url.set_port(Some(bound.port()))
            .map_err(|()| AuthError::SignIn("the redirect URI cannot have a port".into()))?;
        Ok(Loopback {
            listener,
            redirect_uri: url,
        })
    }

    /// The redirect URI with the port bound (the one to send with the request).
    pub(crate) fn redirect_uri(&self) -> &str {
        self.redirect_uri.as_str()
    }

    /// Serves until one callback to the redirect path carries `state`, then returns its code
    /// (or the error it carries). Other paths get 404 and callbacks with another `state` 400,
    /// and neither ends the wait; `timeout` does.
    pub(crate) async fn wait_for_code(
        self,
        state: &str,
        timeout: Duration,
    ) -> Result<Secret, AuthError> {
        let (answers, mut answered) = mpsc::unbounded_channel::<Answer>();
        let expected = Arc::new((self.redirect_uri.path().to_owned(), state.to_owned()));
        let mut connections = JoinSet::new();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut next_id = 0usize;
        let (id, outcome) = loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let id = next_id;
                    next_id += 1;
                    let answers = answers.clone();
                    let expected = expected.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let answer = callback(&request, &expected.0, &expected.1);
                            let (response, outcome) = answer;
                            if let Some(outcome) = outcome {
                                let _ = answers.send((id, outcome));
                            }
                            async move { Ok::<_, Infallible>(response) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .keep_alive(false)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                        id
                    });
                }
                Some(answer) = answered.recv() => break answer,
                () = &mut deadline => {
                    return Err(AuthError::SignIn(format!(
                        "no answer from the browser within {} s (was the sign-in finished?)",
                        timeout.as_secs()
                    )));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        };
        // Let the browser get its page before the listener goes away.
        let _ = tokio::time::timeout(PAGE_DELIVERY, async {
            while let Some(done) = connections.join_next().await {
                if done.ok() == Some(id) {
                    break;
                }
            }
        })
        .await;
        connections.abort_all();
        outcome
    }
}

/// The answer to one request, and what it tells the sign-in if it is the callback.
fn callback(
    request: &Request<Incoming>,
    path: &str,
    state: &str,
) -> (Response<String>, Option<Result<Secret, AuthError>>) {
    if request.uri().path() != path {
        return (page(StatusCode::NOT_FOUND, "Not found."), None);
    }
    let query = request.uri().query().unwrap_or("");
    let field = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if field("state").as_deref() != Some(state) {
        let text = "This answer does not belong to the sign-in in progress; it was ignored.";
        return (page(StatusCode::BAD_REQUEST, text), None);
    }
    if let Some(error) = field("error") {
        let description = field("error_description").unwrap_or_default();
        let message = http_policy::redact::quote(&format!("{error} {description}"));
        return (
            page(StatusCode::OK, "Sign-in failed. Return to the terminal."),
            Some(Err(AuthError::SignIn(format!(
                "the issuer refused the sign-in: {}",
                message.trim_end()
            )))),
        );
    }
    match field("code").filter(|c| !c.is_empty()) {
        Some(code) => (
            page(
                StatusCode::OK,
                "Signed in. You can close this window and return to the terminal.",
            ),
            Some(Ok(Secret::new(code))),
        ),
        None => (
            page(StatusCode::BAD_REQUEST, "The answer carries no code."),
            Some(Err(AuthError::SignIn(
                "the issuer's answer carried neither a code nor an error".into(),
            ))),
        ),
    }
}

fn page(status: StatusCode, text: &str) -> Response<String> {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mesh-export sign-in</title></head><body><p id=\"result\">{text}</p></body></html>\n"
    );
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
