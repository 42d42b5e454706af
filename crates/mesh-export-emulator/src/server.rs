//! The HTTP server: routes, the fault-injecting wrapper, and the connection loop.
//!
//! The accept loop is hand-written on hyper (instead of `axum::serve`) so that an injected
//! "dropped connection" fault really closes the socket without an answer: hyper ends a
//! connection whose service returns an error.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::middleware;
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service;

use crate::limits::{self, Fault};
use crate::state::{AppState, Counters};
use crate::{auth, blobs, errors, exports, signin};

/// How long a graceful shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let mesh_export = Router::new()
        .route("/mesh-export", get(exports::list).post(exports::start))
        .route("/mesh-export/", get(exports::list).post(exports::start))
        .route(
            "/mesh-export/{id}",
            get(exports::get).delete(exports::delete),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::rate_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    Router::new()
        .route("/connect/token", post(auth::token))
        .route("/.well-known/openid-configuration", get(signin::discovery))
        .route(
            "/connect/authorize",
            get(signin::authorize_form).post(signin::authorize_submit),
        )
        .route("/connect/revocation", post(signin::revocation))
        .route("/blobs/{export_id}", get(blobs::container))
        .route("/blobs/{export_id}/{*path}", get(blobs::serve))
        .merge(mesh_export)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn not_found() -> axum::response::Response {
    errors::service_error(
        StatusCode::NOT_FOUND,
        "NotFound",
        "The requested resource does not exist.",
        Vec::new(),
    )
}

async fn method_not_allowed() -> axum::response::Response {
    errors::service_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The method is not allowed on this resource.",
        Vec::new(),
    )
}

/// Error that makes hyper close a connection without answering (an injected fault).
#[derive(Debug)]
struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected fault: connection dropped")
    }
}

impl std::error::Error for DroppedConnection {}

/// Counts the request, draws a fault, then hands the request to the router.
async fn handle(
    state: Arc<AppState>,
    mut router: Router,
    request: Request<Incoming>,
) -> Result<Response<Body>, DroppedConnection> {
    Counters::bump(&state.counters.requests);
    let path = request.uri().path().to_owned();
    let fault = limits::draw_fault(&state, &path);
    if let Some(fault) = fault {
        Counters::bump(&state.counters.faults_injected);
        tracing::info!(?fault, method = %request.method(), path = %path, "fault injected");
        match fault {
            Fault::DropConnection => return Err(DroppedConnection),
            Fault::Unavailable | Fault::TooManyRequests => {
                return Ok(limits::fault_response(fault));
            }
            Fault::Slow => tokio::time::sleep(limits::SLOW_RESPONSE_DELAY).await,
            Fault::AnswerLost | Fault::UnavailableAfterHandling => {}
        }
    }
    let method = request.method().clone();
    let response = match router.call(request.map(Body::new)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if let Some(fault) = fault.filter(|f| f.after_handling()) {
        Counters::bump(&state.counters.answers_lost);
        return match fault {
            Fault::AnswerLost => Err(DroppedConnection),
            _ => Ok(limits::fault_response(fault)),
        };
    }
    tracing::debug!(method = %method, path = %path, status = response.status().as_u16(), "request served");
    Ok(response)
}

/// Accepts connections until `shutdown` changes (or its sender is gone), then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let router = router(state.clone());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let router = router.clone();
                let mut conn_shutdown = shutdown.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(state.clone(), router.clone(), request)
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(connection);
                    tokio::select! {
                        result = connection.as_mut() => {
                            if let Err(err) = result {
                                tracing::debug!(%peer, error = %err, "connection ended");
                            }
                        }
                        _ = conn_shutdown.changed() => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.as_mut().await;
                        }
                    }
                });
            }
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
    tracing::info!("emulator stopped");
}
