//! The blob container behind `_links.mesh`: SAS-like signed links and the file route.
//!
//! A link is `{origin}/blobs/{exportId}?sv=..&sr=c&sp=r&se={expiry}&sig={signature}`, like an
//! Azure container SAS. The signature is SHA-256 over a per-emulator random key, the export
//! id, the permissions and the expiry, so a link cannot be altered or outlive its expiry.
//! Refusals answer like Azure Storage: 403 `AuthenticationFailed` with an XML body.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::state::{AppState, Counters};
use crate::tiles::Layout;

/// The storage service version a link claims, as Azure's `sv`.
const SIGNED_VERSION: &str = "2024-11-04";
/// Read-only permission, as Azure's `sp`.
const SIGNED_PERMISSIONS: &str = "r";

fn signature(state: &AppState, export_id: &str, permissions: &str, expiry: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(state.sas_key);
    for part in [export_id, permissions, expiry] {
        hasher.update(b"\n");
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The signed container URL of an export's tiles, valid for the configured SAS lifetime.
pub(crate) fn mesh_href(state: &AppState, origin: &str, export_id: &str) -> String {
    let ttl = chrono::Duration::from_std(state.config.sas_ttl).unwrap_or(chrono::TimeDelta::MAX);
    let expiry = Utc::now()
        .checked_add_signed(ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let sig = signature(state, export_id, SIGNED_PERMISSIONS, &expiry);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", SIGNED_VERSION)
        .append_pair("sr", "c")
        .append_pair("sp", SIGNED_PERMISSIONS)
        .append_pair("se", &expiry)
        .append_pair("sig", &sig)
        .finish();
    format!("{origin}/blobs/{export_id}?{query}")
}

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

fn authentication_failed(reason: &str) -> Response {
    storage_error(
        StatusCode::FORBIDDEN,
        "AuthenticationFailed",
        &format!(
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. {reason}"
        ),
    )
}

/// Checks the signed query; the reason it is refused otherwise (never echoing the signature).
fn check_signature(state: &AppState, export_id: &str, raw_query: &str) -> Result<(), String> {
    let mut expiry = None;
    let mut sig = None;
    let mut permissions = None;
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        match name.as_ref() {
            "se" => expiry = Some(value.into_owned()),
            "sig" => sig = Some(value.into_owned()),
            "sp" => permissions = Some(value.into_owned()),
            _ => {}
        }
    }
    let (Some(expiry), Some(sig), Some(permissions)) = (expiry, sig, permissions) else {
        return Err("The signed query (sp, se, sig) is missing.".to_owned());
    };
    let expected = signature(state, export_id, &permissions, &expiry);
    let same = expected.len() == sig.len()
        && expected
            .bytes()
            .zip(sig.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err("Signature did not match.".to_owned());
    }
    let expires_at = DateTime::parse_from_rfc3339(&expiry)
        .map_err(|_| "Signed expiry time is malformed.".to_owned())?;
    if expires_at <= Utc::now() {
        return Err(format!(
            "Signed expiry time [{}] must be after the current time.",
            expires_at.with_timezone(&Utc).to_rfc2822()
        ));
    }
    Ok(())
}

/// A single byte range from a `Range` header, or `None` to serve the whole file. Headers this
/// does not understand (several ranges, other units, bad syntax) are ignored, as RFC 9110 allows.
enum RangeRequest {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

fn parse_range(headers: &HeaderMap, len: u64) -> RangeRequest {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeRequest::Whole;
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        // Suffix range: the last N bytes.
        return match end.parse::<u64>() {
            Ok(0) => RangeRequest::Unsatisfiable,
            Ok(_) if len == 0 => RangeRequest::Unsatisfiable,
            Ok(n) => RangeRequest::Part(len.saturating_sub(n), len - 1),
            Err(_) => RangeRequest::Whole,
        };
    }
    let Ok(first) = start.parse::<u64>() else {
        return RangeRequest::Whole;
    };
    let last = if end.is_empty() {
        u64::MAX
    } else {
        match end.parse::<u64>() {
            Ok(last) if last >= first => last,
            _ => return RangeRequest::Whole,
        }
    };
    if first >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part(first, last.min(len - 1))
}

/// `GET /blobs/{exportId}/{path}`: one file of an export's tileset, through a signed link.
pub(crate) async fn serve(
    State(state): State<Arc<AppState>>,
    Path((export_id, path)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    Counters::bump(&state.counters.blob_requests);
    if let Err(reason) = check_signature(&state, &export_id, raw.as_deref().unwrap_or("")) {
        tracing::info!(export_id = %export_id, reason = %reason, "blob request refused");
        return authentication_failed(&reason);
    }
    let complete = (state.store.lock().expect("store lock"))
        .is_complete(&export_id, state.config.export_duration);
    if !complete {
        return storage_error(
            StatusCode::NOT_FOUND,
            "ContainerNotFound",
            "The specified container does not exist.",
        );
    }
    let layout = Layout::of(&state.config);
    // Generating a large tile is CPU work; keep it off the reactor threads.
    let file = {
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
    let (status, body, content_range) = match parse_range(&headers, len) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, len: u64) -> Option<(u64, u64)> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        match parse_range(&headers, len) {
            RangeRequest::Part(a, b) => Some((a, b)),
            RangeRequest::Whole => None,
            RangeRequest::Unsatisfiable => Some((u64::MAX, u64::MAX)),
        }
    }

    #[test]
    fn parses_single_byte_ranges() {
        assert_eq!(range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(range("bytes=100-", 100), Some((u64::MAX, u64::MAX)));
        assert_eq!(range("bytes=0-1,5-6", 100), None);
        assert_eq!(range("items=0-1", 100), None);
        assert_eq!(range("bytes=9-1", 100), None);
    }
}
