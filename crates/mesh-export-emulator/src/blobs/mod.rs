//! The blob container behind `_links.mesh`: its files and its listing, through signed links.
//!
//! A link is `{origin}/blobs/{exportId}?sv=..&sr=c&sp=rl&se={expiry}&sig={signature}`, like an
//! Azure container SAS (see [`sas`]). A file needs the `r` permission, the listing
//! (`?restype=container&comp=list`, Azure's List Blobs) the `l` permission. Refusals answer
//! like Azure Storage: 403 `AuthenticationFailed` or `AuthorizationPermissionMismatch` with an
//! XML body.

mod listing;
mod range;
mod sas;

pub(crate) use sas::mesh_href;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::state::{AppState, Counters};
use crate::tiles::{Layout, TileFile};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use range::{RangeRequest, parse_range};

/// An Azure-Storage-style XML error.
fn storage_error(status: StatusCode, code: &'static str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert("x-ms-error-code", HeaderValue::from_static(code));
    response
}

/// The start of Azure's `AuthenticationFailed` message; the reason follows it.
const AUTHENTICATION_FAILED: &str = "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";

/// An Azure Storage refusal, turned into its XML answer by [`Refusal::into_response`].
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn into_response(self) -> Response {
        storage_error(self.status, self.code, &self.message)
    }
}

/// Checks the signature and that it grants `permission`, and that the export is complete:
/// the refusal to answer otherwise.
fn authorize(
    state: &AppState,
    export_id: &str,
    raw_query: Option<&str>,
    permission: char,
) -> Result<(), Refusal> {
    Counters::bump(&state.counters.blob_requests);
    let permissions =
        sas::check_signature(state, export_id, raw_query.unwrap_or("")).map_err(|reason| {
            tracing::info!(export_id = %export_id, reason = %reason, "blob request refused");
            Refusal::new(
                StatusCode::FORBIDDEN,
                "AuthenticationFailed",
                format!("{AUTHENTICATION_FAILED} {reason}"),
            )
        })?;
    if !permissions.contains(permission) {
        tracing::info!(export_id = %export_id, permission = %permission, "blob request refused: permission");
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ));
    }
    let complete = (state.store.lock().expect("store lock"))
        .is_complete(export_id, state.config.export_duration);
    if !complete {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "ContainerNotFound",
            "The specified container does not exist.",
        ));
    }
    Ok(())
}

/// Every file of an export's tileset. Generating large tiles is CPU work: off the reactor.
pub(crate) async fn files_of(state: &AppState, export_id: &str) -> Vec<(String, TileFile)> {
    let layout = Layout::of(&state.config);
    let export_id = export_id.to_owned();
    let extra = state.config.extra_blobs.clone();
    tokio::task::spawn_blocking(move || {
        let tileset = (layout.paths().into_iter())
            .filter_map(|path| Some((path.clone(), layout.file(&export_id, &path)?)));
        let extra = extra.into_iter().map(|(name, bytes)| {
            let file = TileFile {
                bytes,
                media_type: "application/octet-stream",
            };
            (name, file)
        });
        tileset.chain(extra).collect()
    })
    .await
    .expect("tile generation does not panic")
}

/// `GET /blobs/{exportId}?restype=container&comp=list&..`: the container's listing.
pub(crate) async fn container(
    State(state): State<Arc<AppState>>,
    Path(export_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = authorize(&state, &export_id, raw.as_deref(), 'l') {
        return refused.into_response();
    }
    listing::list(&state, &export_id, raw.as_deref().unwrap_or(""), &headers).await
}

/// A blob request's place among those answered at once; released when dropped.
struct BusySlot<'a>(&'a AtomicU64);

impl<'a> BusySlot<'a> {
    /// A place among `limit` (0: any number), or `None` when all are taken.
    fn take(in_flight: &'a AtomicU64, limit: u32) -> Option<Self> {
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let slot = BusySlot(in_flight);
        (limit == 0 || now <= u64::from(limit)).then_some(slot)
    }
}

impl Drop for BusySlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `GET /blobs/{exportId}/{path}`: one file of an export's tileset, through a signed link,
/// after the configured delay; 503 `ServerBusy` when `blob_concurrency` others are being
/// answered.
pub(crate) async fn serve(
    State(state): State<Arc<AppState>>,
    Path((export_id, path)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(_slot) = BusySlot::take(
        &state.counters.blobs_in_flight,
        state.config.blob_concurrency,
    ) else {
        Counters::bump(&state.counters.blob_requests);
        Counters::bump(&state.counters.blobs_busy);
        return storage_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServerBusy",
            "The server is busy.",
        );
    };
    if !state.config.blob_delay.is_zero() {
        tokio::time::sleep(state.config.blob_delay).await;
    }
    serve_file(&state, export_id, path, raw, &headers).await
}

/// One file of an export's tileset, as [`serve`] answers once it has a place.
async fn serve_file(
    state: &AppState,
    export_id: String,
    path: String,
    raw: Option<String>,
    headers: &HeaderMap,
) -> Response {
    if let Err(refused) = authorize(state, &export_id, raw.as_deref(), 'r') {
        return refused.into_response();
    }
    if state.config.forbid_blob_paths.contains(&path) {
        tracing::info!(export_id = %export_id, path = %path, "blob request refused: forbidden blob");
        return storage_error(
            StatusCode::FORBIDDEN,
            "AuthorizationFailure",
            "This request is not authorized to perform this operation.",
        );
    }
    let layout = Layout::of(&state.config);
    // Generating a large tile is CPU work; keep it off the reactor threads.
    let extra = (state.config.extra_blobs.iter())
        .find(|(name, _)| *name == path)
        .map(|(_, bytes)| TileFile {
            bytes: bytes.clone(),
            media_type: "application/octet-stream",
        });
    let file = if extra.is_some() {
        extra
    } else {
        let export_id = export_id.clone();
        let path = path.clone();
        tokio::task::spawn_blocking(move || layout.file(&export_id, &path))
            .await
            .expect("tile generation does not panic")
    };
    let Some(file) = file else {
        return storage_error(
            StatusCode::NOT_FOUND,
            "BlobNotFound",
            "The specified blob does not exist.",
        );
    };
    let len = file.bytes.len() as u64;
    let (status, body, content_range) = match parse_range(headers, len) {
        RangeRequest::Whole => (StatusCode::OK, file.bytes, None),
        RangeRequest::Part(first, last) => (
            StatusCode::PARTIAL_CONTENT,
            file.bytes[first as usize..=last as usize].to_vec(),
            Some(format!("bytes {first}-{last}/{len}")),
        ),
        RangeRequest::Unsatisfiable => {
            let mut response = storage_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The range specified is invalid for the current size of the resource.",
            );
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"),
            );
            return response;
        }
    };
    tracing::debug!(export_id = %export_id, path = %path, bytes = body.len(), "blob served");
    let mut response = (status, body).into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.media_type),
    );
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(range) = content_range {
        out.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&range).expect("ascii"),
        );
    }
    response
}
