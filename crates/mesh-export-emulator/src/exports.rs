//! The four Mesh Export operations and the exports they act on.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::SubsecRound;
use mesh_export_client::types::{
    Export, ExportLinks, ExportResponse, ExportStatsDisplay, ExportStatus, ExportsPage, Link,
    PageLinks,
};
use serde_json::Value;
use tokio::time::Instant;

use crate::blobs;
use crate::errors::{self, detail};
use crate::list_query::{EXPORT_TYPES, ListQuery, compatible, page_href, parse_list_query};
use crate::state::{AppState, Counters};
use crate::store::{ExportRecord, NewExport, Snapshot, service_timestamp};

/// How much of an export a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// `id`, `displayName`, `status`, `lastModified`.
    Minimal,
    /// Everything: `request`, `error`, `stats` and `_links.mesh` once Complete.
    Full,
}

fn render(state: &AppState, origin: &str, record: &ExportRecord, detail: Detail) -> Export {
    let now = Instant::now();
    let duration = state.config.export_duration;
    let snapshot = record.snapshot(now, duration);
    let mut export = Export {
        id: record.id.clone(),
        display_name: record.display_name(),
        status: snapshot.status.clone(),
        last_modified: Some(service_timestamp(snapshot.last_modified)),
        request: None,
        error: None,
        stats: None,
        links: None,
    };
    if detail == Detail::Minimal {
        return export;
    }
    export.request = Some(record.request());
    match snapshot.status {
        ExportStatus::Complete => {
            export.links = Some(ExportLinks {
                mesh: Some(Link {
                    href: blobs::mesh_href(state, origin, &record.id),
                }),
            });
            let raw = state.config.tile_bytes * u64::from(state.config.tiles);
            let queued = duration / 5;
            // The portal types these Number: sizes are whole bytes, and the processing time is
            // in milliseconds with its fraction (microsecond precision), as a timer reports it.
            export.stats = Some(ExportStatsDisplay {
                i_model_size: Some((raw / 2 + 4096) as f64),
                compressed_size: Some((raw * 3 / 5) as f64),
                raw_size: Some(raw as f64),
                start_time: chrono::Duration::from_std(queued)
                    .ok()
                    .map(|q| (record.started_wall + q).trunc_subsecs(3)),
                duration: Some(processing_millis(duration - queued)),
                metrics: serde_json::Map::new(),
            });
        }
        ExportStatus::Invalid => {
            export.error = Some(format!(
                "The export of iModel {} failed: the emulator was told to fail it (--fail-imodel).",
                record.imodel_id
            ));
        }
        _ => {}
    }
    export
}

/// A processing time in milliseconds, with its sub-millisecond fraction.
fn processing_millis(elapsed: Duration) -> f64 {
    elapsed.as_micros() as f64 / 1000.0
}

/// What a start-export body asks for, once checked.
struct StartBody {
    imodel_id: String,
    changeset_id: String,
    export_type: String,
}

/// Checks a start-export body; otherwise the field it refuses and why. Fields the emulator does not
/// use (`geometryOptions`, `viewDefinitionFilter`, tiler configuration) are accepted, as
/// callers send them.
fn parse_start_body(body: &[u8]) -> Result<StartBody, (&'static str, String)> {
    let invalid = |target: &'static str, message: String| (target, message);
    let parsed: Value = serde_json::from_slice(body).map_err(|err| {
        invalid(
            "body",
            format!("The request body is not valid JSON: {err}."),
        )
    })?;
    let Some(fields) = parsed.as_object() else {
        return Err(invalid(
            "body",
            "The request body must be a JSON object.".to_owned(),
        ));
    };
    let imodel_id = match fields.get("iModelId") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(invalid("iModelId", "iModelId cannot be empty.".to_owned()));
        }
        Some(_) => return Err(invalid("iModelId", "iModelId must be a string.".to_owned())),
    };
    let changeset_id = match fields.get("changesetId") {
        None => String::new(),
        Some(Value::String(id)) => id.clone(),
        Some(_) => {
            return Err(invalid(
                "changesetId",
                "changesetId must be a string.".to_owned(),
            ));
        }
    };
    let export_type = match fields.get("exportType") {
        None => "3DTiles".to_owned(),
        Some(Value::String(t)) if EXPORT_TYPES.contains(&t.as_str()) => t.clone(),
        Some(_) => {
            return Err(invalid(
                "exportType",
                format!("exportType must be one of {}.", EXPORT_TYPES.join(", ")),
            ));
        }
    };
    Ok(StartBody {
        imodel_id,
        changeset_id,
        export_type,
    })
}

/// `POST /mesh-export/`: start-export.
pub(crate) async fn start(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_start_body(&body) {
        Ok(body) => body,
        Err((target, message)) => return errors::invalid_start_body(target, message),
    };
    let Some(imodel) = state.config.imodel(&body.imodel_id) else {
        tracing::info!(imodel_id = %body.imodel_id, "start refused: unknown iModel");
        return errors::imodel_not_found();
    };
    let fails = state.config.fail_imodels.contains(&body.imodel_id);
    let record = state.store.lock().expect("store lock").insert(NewExport {
        imodel_id: body.imodel_id,
        itwin_id: imodel.itwin_id,
        known_changesets: imodel.changesets,
        changeset_id: body.changeset_id,
        export_type: body.export_type,
        fails,
    });
    Counters::bump(&state.counters.exports_started);
    tracing::info!(export_id = %record.id, imodel_id = %record.imodel_id, fails, "export started");
    let origin = state.origin(&headers);
    let mut export = render(&state, &origin, &record, Detail::Full);
    // The 202 always shows the job as just created, even with a zero export duration.
    export.status = ExportStatus::NotStarted;
    export.last_modified = Some(service_timestamp(record.started_wall));
    export.links = None;
    export.stats = None;
    export.error = None;
    errors::json(StatusCode::ACCEPTED, &ExportResponse { export })
}

/// The exports `query` selects, in the order it asks for: by date when it has `$orderBy`,
/// otherwise by changeset index with the newest first, as the production portal documents
/// ("ordered by changesetIndex, with the newest first"); exports of one changeset newest first.
fn select(state: &AppState, query: &ListQuery) -> Vec<(ExportRecord, Snapshot)> {
    let now = Instant::now();
    let duration = state.config.export_duration;
    let mut matching: Vec<(ExportRecord, Snapshot)> = {
        let store = state.store.lock().expect("store lock");
        store
            .exports
            .iter()
            .filter(|_| compatible(query))
            .filter(|e| query.imodel_id.as_ref().is_none_or(|id| &e.imodel_id == id))
            .filter(|e| {
                query
                    .changeset_id
                    .as_ref()
                    .is_none_or(|id| &e.changeset_id == id)
            })
            .filter(|e| {
                query
                    .export_type
                    .as_ref()
                    .is_none_or(|t| e.export_type.eq_ignore_ascii_case(t))
            })
            .map(|e| (e.clone(), e.snapshot(now, duration)))
            .collect()
    };
    matching.sort_by(|(a, sa), (b, sb)| {
        let by_date = sa
            .last_modified
            .cmp(&sb.last_modified)
            .then(a.seq.cmp(&b.seq));
        match query.ascending {
            Some(true) => by_date,
            Some(false) => by_date.reverse(),
            None => a
                .changeset_index
                .cmp(&b.changeset_index)
                .then(by_date)
                .reverse(),
        }
    });
    matching
}

/// The root that page links start from: the `x-api-host-and-root` header when a gateway sends
/// it (the portal: "Prefix to add to list links"), else the emulator as the caller reached it.
fn link_root(headers: &HeaderMap, origin: &str) -> String {
    headers
        .get("x-api-host-and-root")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_end_matches('/'))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| format!("{origin}/mesh-export"), str::to_owned)
}

/// `GET /mesh-export/`: get-exports.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    Counters::bump(&state.counters.exports_listed);
    let query = match parse_list_query(raw.as_deref()) {
        Ok(query) => query,
        Err(bad) => return bad.into_response(),
    };
    let representation = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("return=representation"));
    let matching = select(&state, &query);
    let total = matching.len() as u64;
    let origin = state.origin(&headers);
    let detail = if representation {
        Detail::Full
    } else {
        Detail::Minimal
    };
    let exports = matching
        .iter()
        .skip(usize::try_from(query.skip).unwrap_or(usize::MAX))
        .take(query.top as usize)
        .map(|(record, _)| render(&state, &origin, record, detail))
        .collect();
    let top = u64::from(query.top);
    let root = link_root(&headers, &origin);
    let links = PageLinks {
        self_: Link {
            href: page_href(&root, &query, query.skip),
        },
        next: (query.skip + top < total).then(|| Link {
            href: page_href(&root, &query, query.skip + top),
        }),
        prev: (query.skip > 0).then(|| Link {
            href: page_href(&root, &query, query.skip.saturating_sub(top)),
        }),
    };
    let mut response = errors::json(StatusCode::OK, &ExportsPage { exports, links });
    let applied = if representation {
        "return=representation"
    } else {
        "return=minimal"
    };
    response.headers_mut().insert(
        "preference-applied",
        axum::http::HeaderValue::from_static(applied),
    );
    response
}

/// `GET /mesh-export/{id}`: get-export (deprecated by the service, still served).
///
/// `cdn` is accepted and, like any bad value of it, changes nothing: the emulator has no CDN,
/// and the spec documents no 422 for this operation.
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let record = state.store.lock().expect("store lock").get(&id).cloned();
    let Some(record) = record else {
        return errors::export_not_found();
    };
    let origin = state.origin(&headers);
    let export = render(&state, &origin, &record, Detail::Full);
    errors::json(StatusCode::OK, &ExportResponse { export })
}

/// `DELETE /mesh-export/{id}`: delete-export; only finished exports can go.
pub(crate) async fn delete(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let now = Instant::now();
    let mut store = state.store.lock().expect("store lock");
    let Some(record) = store.get(&id) else {
        return errors::export_not_found();
    };
    let status = record.snapshot(now, state.config.export_duration).status;
    if matches!(status, ExportStatus::NotStarted | ExportStatus::InProgress) {
        return errors::service_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "InvalidMeshExportRequest",
            "Cannot delete exported job.",
            vec![detail("InvalidParameter", "id is invalid.", "id")],
        );
    }
    store.exports.retain(|e| e.id != id);
    tracing::info!(export_id = %id, "export deleted");
    StatusCode::NO_CONTENT.into_response()
}
