//! The loopback listener of a native app's sign-in (RFC 8252 7.3): it binds the redirect
//! URI's port (port 0: a free one), takes exactly one callback that carries the request's
//! `state`, and answers the browser with a short page.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
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
        let callback = Expected {
            redirect_uri: self.redirect_uri.to_string(),
            path: self.redirect_uri.path().to_owned(),
            state: state.to_owned(),
        };
        serve(&self.listener, callback, timeout, ACCEPT_BACKOFF).await
    }
}

/// Where the loopback's connections come from: the bound listener, or a test's stand-in.
pub(super) trait Connections {
    /// One connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection, or why none could be taken.
    fn accept(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

impl Connections for TcpListener {
    type Stream = TcpStream;
    async fn accept(&self) -> io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(stream, _)| stream)
    }
}

/// The callback the loopback waits for.
#[derive(Debug, Clone)]
pub(super) struct Expected {
    /// The redirect URI, as errors name it.
    pub(super) redirect_uri: String,
    /// Its path.
    pub(super) path: String,
    /// The sign-in's `state`.
    pub(super) state: String,
}

/// How the loopback meets an `accept` that fails: a failure (the process out of file
/// descriptors, `EMFILE`) tends to repeat at once, so each failure in a row waits twice as
/// long as the last, from `first` up to `longest`, and the `attempts`-th ends the sign-in
/// with the reason rather than spinning on it until the timeout.
#[derive(Debug, Clone, Copy)]
pub(super) struct AcceptBackoff {
    pub(super) first: Duration,
    pub(super) longest: Duration,
    pub(super) attempts: u32,
}

/// About three seconds of failures in a row before giving up.
const ACCEPT_BACKOFF: AcceptBackoff = AcceptBackoff {
    first: Duration::from_millis(10),
    longest: Duration::from_secs(1),
    attempts: 10,
};

impl AcceptBackoff {
    /// The pause after the `failures`-th failure in a row (from 1), or `None` to give up.
    pub(super) fn pause(&self, failures: u32) -> Option<Duration> {
        (failures < self.attempts).then(|| {
            let doublings = failures.saturating_sub(1).min(20);
            self.first.saturating_mul(1 << doublings).min(self.longest)
        })
    }
}

/// Serves `connections` until one callback matches `expected` (see [`Loopback::wait_for_code`]),
/// pausing after a failed `accept` per `backoff`.
pub(super) async fn serve(
    connections: &impl Connections,
    expected: Expected,
    timeout: Duration,
    backoff: AcceptBackoff,
) -> Result<Secret, AuthError> {
    let (answers, mut answered) = mpsc::unbounded_channel::<Answer>();
    let expected = Arc::new(expected);
    let mut served = JoinSet::new();
    let deadline = tokio::time::sleep(timeout);
    let resume = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(deadline, resume);
    let mut paused = false;
    let mut failures = 0;
    let mut next_id = 0;
    let (id, outcome) = loop {
        tokio::select! {
            accepted = connections.accept(), if !paused => match accepted {
                Ok(stream) => {
                    failures = 0;
                    let answers = answers.clone();
                    spawn_connection(&mut served, next_id, stream, answers, expected.clone());
                    next_id += 1;
                }
                Err(error) => {
                    failures += 1;
                    let Some(pause) = backoff.pause(failures) else {
                        return Err(AuthError::SignIn(format!(
                            "the loopback listener for {} cannot accept the browser's \
                             connection ({failures} failures in a row): {error}",
                            expected.redirect_uri
                        )));
                    };
                    resume.as_mut().reset(tokio::time::Instant::now() + pause);
                    paused = true;
                }
            },
            () = &mut resume, if paused => paused = false,
            Some(answer) = answered.recv() => break answer,
            () = &mut deadline => {
                return Err(AuthError::SignIn(format!(
                    "no answer from the browser within {} s (was the sign-in finished?)",
                    timeout.as_secs()
                )));
            }
            Some(_) = served.join_next(), if !served.is_empty() => {}
        }
    };
    // Let the browser get its page before the listener goes away.
    let _ = tokio::time::timeout(PAGE_DELIVERY, async {
        while let Some(done) = served.join_next().await {
            if done.ok() == Some(id) {
                break;
            }
        }
    })
    .await;
    served.abort_all();
    outcome
}

/// Serves one connection in `served`; a callback's outcome goes to `answers` with the
/// connection's id (the task's result), so its page can be delivered before the end.
fn spawn_connection(
    served: &mut JoinSet<usize>,
    id: usize,
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    answers: mpsc::UnboundedSender<Answer>,
    expected: Arc<Expected>,
) {
    served.spawn(async move {
        let service = hyper::service::service_fn(move |request| {
            let (response, outcome) = callback(&request, &expected.path, &expected.state);
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

#[cfg(test)]
mod tests;
