//! The four Mesh Export operations and the exports they act on.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SubsecRound, Utc};
use mesh_export_client::types::{
    Export, ExportLinks, ExportRequest, ExportResponse, ExportStatsDisplay, ExportStatus,
    ExportType, ExportsPage, Link, PageLinks,
};
use serde_json::Value;
use tokio::time::Instant;

use crate::blobs;
use crate::errors::{self, detail};
use crate::state::{AppState, Counters};

/// The service keeps about this many exports per iModel and deletes older ones.
pub(crate) const MAX_EXPORTS_PER_IMODEL: usize = 5;

const DEFAULT_TOP: u32 = 100;
const MAX_TOP: u32 = 1000;
const EXPORT_TYPES: [&str; 5] = ["3DFT", "CESIUM", "IMODEL", "3DTiles", "3DTILES"];

/// The major tile format version of every export the emulator makes: `tileVersion` keeps
/// exports of exactly this version (a reader handles one major version of the format).
pub(crate) const TILE_FORMAT_MAJOR: u32 = 36;

/// The oldest iTwin.js whose readers handle [`TILE_FORMAT_MAJOR`]: `iTwinJS=<version>` keeps
/// the exports compatible with that version, which for the emulator is all of them from this
/// version on and none before. The portal does not say which versions read which exports;
/// this is the emulator's model of "all exports compatible with that iTwinJS version".
pub(crate) const MIN_ITWINJS: (u64, u64, u64) = (4, 0, 0);

/// One export job as the emulator remembers it. Its status is computed from its age.
#[derive(Debug, Clone)]
pub(crate) struct ExportRecord {
    pub(crate) id: String,
    seq: u64,
    imodel_id: String,
    changeset_id: String,
    export_type: String,
    started_wall: DateTime<Utc>,
    started: Instant,
    fails: bool,
}

/// All exports, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Store {
    exports: Vec<ExportRecord>,
    next_seq: u64,
}

impl Store {
    pub(crate) fn get(&self, id: &str) -> Option<&ExportRecord> {
        self.exports.iter().find(|e| e.id == id)
    }

    /// How many exports of `imodel_id` exist (automatic clean-up included).
    pub(crate) fn count_of(&self, imodel_id: &str) -> usize {
        self.exports
            .iter()
            .filter(|e| e.imodel_id == imodel_id)
            .count()
    }
}

/// Where an export stands at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) status: ExportStatus,
    pub(crate) last_modified: DateTime<Utc>,
}

impl ExportRecord {
    /// The status now: `NotStarted` for the first fifth of the export duration, then
    /// `InProgress`, then `Complete` (or `Invalid` for iModels told to fail).
    pub(crate) fn snapshot(&self, now: Instant, duration: Duration) -> Snapshot {
        let elapsed = now.saturating_duration_since(self.started);
        let queued = duration / 5;
        let (status, since) = if elapsed >= duration {
            let done = if self.fails {
                ExportStatus::Invalid
            } else {
                ExportStatus::Complete
            };
            (done, duration)
        } else if elapsed >= queued && !queued.is_zero() {
            (ExportStatus::InProgress, queued)
        } else {
            (ExportStatus::NotStarted, Duration::ZERO)
        };
        let offset = chrono::Duration::from_std(since).unwrap_or(chrono::TimeDelta::MAX);
        Snapshot {
            status,
            last_modified: (self.started_wall + offset).trunc_subsecs(3),
        }
    }

    fn request(&self) -> ExportRequest {
        ExportRequest {
            i_model_id: Some(self.imodel_id.clone()),
            changeset_id: Some(self.changeset_id.clone()),
            export_type: Some(ExportType::from(self.export_type.as_str())),
            last_modified: Some(service_timestamp(self.started_wall)),
            ..ExportRequest::default()
        }
    }

    fn display_name(&self) -> String {
        format!("iModel {}", self.imodel_id)
    }
}

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

/// A time as the service has been seen to write it: seven fraction digits and `+00:00`
/// (`2024-08-22T03:18:43.1230000+00:00`), which the spec types as a plain string.
pub(crate) fn service_timestamp(time: DateTime<Utc>) -> String {
    format!("{}0000+00:00", time.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

/// A processing time in milliseconds, with its sub-millisecond fraction.
fn processing_millis(elapsed: Duration) -> f64 {
    elapsed.as_micros() as f64 / 1000.0
}

/// `http://HOST:PORT` as the caller addressed the emulator, so links work from where it stands.
pub(crate) fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| state.local_addr.to_string());
    format!("http://{host}")
}

/// `POST /mesh-export/`: start-export.
pub(crate) async fn start(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => {
            return errors::invalid_parameter(
                "body",
                format!("The request body is not valid JSON: {err}."),
            );
        }
    };
    let Some(fields) = parsed.as_object() else {
        return errors::invalid_parameter("body", "The request body must be a JSON object.");
    };
    let imodel_id = match fields.get("iModelId") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return errors::invalid_parameter("iModelId", "iModelId is required.");
        }
        Some(_) => return errors::invalid_parameter("iModelId", "iModelId must be a string."),
    };
    let changeset_id = match fields.get("changesetId") {
        None => String::new(),
        Some(Value::String(id)) => id.clone(),
        Some(_) => {
            return errors::invalid_parameter("changesetId", "changesetId must be a string.");
        }
    };
    let export_type = match fields.get("exportType") {
        None => "3DTiles".to_owned(),
        Some(Value::String(t)) if EXPORT_TYPES.contains(&t.as_str()) => t.clone(),
        Some(_) => {
            return errors::invalid_parameter(
                "exportType",
                format!("exportType must be one of {}.", EXPORT_TYPES.join(", ")),
            );
        }
    };
    let fails = state.config.fail_imodels.contains(&imodel_id);
    let record = {
        let mut store = state.store.lock().expect("store lock");
        let seq = store.next_seq;
        store.next_seq += 1;
        let record = ExportRecord {
            id: uuid::Uuid::new_v4().to_string(),
            seq,
            imodel_id: imodel_id.clone(),
            changeset_id,
            export_type,
            started_wall: Utc::now().trunc_subsecs(3),
            started: Instant::now(),
            fails,
        };
        store.exports.push(record.clone());
        // Keep the newest few per iModel, like the service.
        let of_imodel: Vec<String> = store
            .exports
            .iter()
            .filter(|e| e.imodel_id == imodel_id)
            .map(|e| e.id.clone())
            .collect();
        if of_imodel.len() > MAX_EXPORTS_PER_IMODEL {
            let evict = &of_imodel[..of_imodel.len() - MAX_EXPORTS_PER_IMODEL];
            store.exports.retain(|e| !evict.contains(&e.id));
            tracing::info!(imodel_id = %imodel_id, evicted = evict.len(), "old exports removed");
        }
        record
    };
    Counters::bump(&state.counters.exports_started);
    tracing::info!(export_id = %record.id, imodel_id = %imodel_id, fails, "export started");
    let origin = origin(&state, &headers);
    let mut export = render(&state, &origin, &record, Detail::Full);
    // The 202 always shows the job as just created, even with a zero export duration.
    export.status = ExportStatus::NotStarted;
    export.last_modified = Some(service_timestamp(record.started_wall));
    export.links = None;
    export.stats = None;
    export.error = None;
    errors::json(StatusCode::ACCEPTED, &ExportResponse { export })
}

/// The parsed query of `get-exports`.
#[derive(Debug, Default)]
struct ListQuery {
    top: u32,
    skip: u64,
    ascending: bool,
    imodel_id: Option<String>,
    changeset_id: Option<String>,
    export_type: Option<String>,
    /// `tileVersion`: only exports of this major tile format version.
    tile_version: Option<u32>,
    /// `iTwinJS`: only exports this iTwin.js version can read.
    itwinjs: Option<(u64, u64, u64)>,
    /// Parameters to carry into `_links` (filters and flags), in the caller's order.
    carried: Vec<(String, String)>,
}

/// A bad query parameter: its name and what is wrong.
#[derive(Debug)]
struct BadParameter(&'static str, String);

impl BadParameter {
    fn new(target: &'static str, message: impl Into<String>) -> Self {
        Self(target, message.into())
    }

    fn into_response(self) -> Response {
        errors::invalid_parameter(self.0, self.1)
    }
}

fn parse_list_query(raw: Option<&str>) -> Result<ListQuery, BadParameter> {
    let mut query = ListQuery {
        top: DEFAULT_TOP,
        ..ListQuery::default()
    };
    let pairs = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned();
    for (name, value) in pairs {
        match name.as_str() {
            "$top" => {
                query.top = value
                    .parse::<u32>()
                    .ok()
                    .filter(|t| (1..=MAX_TOP).contains(t))
                    .ok_or_else(|| BadParameter::new("$top", "$top must be between 1 and 1000."))?;
            }
            "$skip" => {
                query.skip = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= i32::MAX as u64)
                    .ok_or_else(|| {
                        BadParameter::new("$skip", "$skip must be a non-negative integer.")
                    })?;
            }
            "$orderBy" => {
                query.ascending = match value.as_str() {
                    "date:asc" => true,
                    "date:desc" => false,
                    _ => {
                        return Err(BadParameter::new(
                            "$orderBy",
                            "$orderBy must be date:asc or date:desc.",
                        ));
                    }
                };
                query.carried.push((name, value));
            }
            "exportType" => {
                if !EXPORT_TYPES.contains(&value.as_str()) {
                    return Err(BadParameter::new(
                        "exportType",
                        format!("exportType must be one of {}.", EXPORT_TYPES.join(", ")),
                    ));
                }
                query.export_type = Some(value.clone());
                query.carried.push((name, value));
            }
            "cdn" => {
                if value != "0" && value != "1" {
                    return Err(BadParameter::new("cdn", "cdn must be 0 or 1."));
                }
                query.carried.push((name, value));
            }
            "iTwinJS" => {
                query.itwinjs = Some(parse_version(&value).ok_or_else(|| {
                    BadParameter::new(
                        "iTwinJS",
                        "iTwinJS must be an iTwin.js version such as 4.10.2.",
                    )
                })?);
                query.carried.push((name, value));
            }
            "tileVersion" => {
                query.tile_version = Some(value.parse::<u32>().ok().ok_or_else(|| {
                    BadParameter::new("tileVersion", "tileVersion must be a non-negative integer.")
                })?);
                query.carried.push((name, value));
            }
            "iModelId" => {
                query.imodel_id = Some(value.clone()).filter(|v| !v.is_empty());
                query.carried.push((name, value));
            }
            "changesetId" => {
                query.changeset_id = Some(value.clone()).filter(|v| !v.is_empty());
                query.carried.push((name, value));
            }
            // Like the service, unknown parameters (CesiumJS's informational `client` and
            // `clientVersion`, for one) are ignored.
            _ => {}
        }
    }
    Ok(query)
}

/// `major.minor.patch` with an optional pre-release or build suffix (`4.10.2`, `5.0.0-dev.12`);
/// a missing minor or patch counts as 0 (`4.10` is `4.10.0`).
fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.split(['-', '+']).next().unwrap_or("");
    let mut parts = core.split('.');
    let mut number = |required: bool| match parts.next() {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
        None if !required => Some(0),
        _ => None,
    };
    let version = (number(true)?, number(false)?, number(false)?);
    parts.next().is_none().then_some(version)
}

/// Whether the emulator's exports suit the `tileVersion` and `iTwinJS` of `query`.
fn compatible(query: &ListQuery) -> bool {
    query.tile_version.is_none_or(|v| v == TILE_FORMAT_MAJOR)
        && query.itwinjs.is_none_or(|v| v >= MIN_ITWINJS)
}

fn page_href(origin: &str, query: &ListQuery, skip: u64) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    serializer.append_pair("$top", &query.top.to_string());
    serializer.append_pair("$skip", &skip.to_string());
    for (name, value) in &query.carried {
        serializer.append_pair(name, value);
    }
    // `$` is legal in a query; keep it readable as the service writes it.
    let encoded = serializer.finish().replace("%24", "$");
    format!("{origin}/mesh-export/?{encoded}")
}

/// `GET /mesh-export/`: get-exports.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = match parse_list_query(raw.as_deref()) {
        Ok(query) => query,
        Err(bad) => return bad.into_response(),
    };
    let representation = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("return=representation"));
    let now = Instant::now();
    let duration = state.config.export_duration;
    let mut matching: Vec<(ExportRecord, Snapshot)> = {
        let store = state.store.lock().expect("store lock");
        store
            .exports
            .iter()
            .filter(|_| compatible(&query))
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
        let order = sa
            .last_modified
            .cmp(&sb.last_modified)
            .then(a.seq.cmp(&b.seq));
        if query.ascending {
            order
        } else {
            order.reverse()
        }
    });
    let total = matching.len() as u64;
    let origin = origin(&state, &headers);
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
    let links = PageLinks {
        self_: Link {
            href: page_href(&origin, &query, query.skip),
        },
        next: (query.skip + top < total).then(|| Link {
            href: page_href(&origin, &query, query.skip + top),
        }),
        prev: (query.skip > 0).then(|| Link {
            href: page_href(&origin, &query, query.skip.saturating_sub(top)),
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
    let origin = origin(&state, &headers);
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

/// Whether `id` names an export that is `Complete` now (its tiles can be served).
pub(crate) fn is_complete(state: &AppState, id: &str) -> bool {
    let store = state.store.lock().expect("store lock");
    store.get(id).is_some_and(|record| {
        record
            .snapshot(Instant::now(), state.config.export_duration)
            .status
            == ExportStatus::Complete
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fails: bool) -> ExportRecord {
        ExportRecord {
            id: "e".into(),
            seq: 0,
            imodel_id: "m".into(),
            changeset_id: String::new(),
            export_type: "3DTiles".into(),
            started_wall: Utc::now(),
            started: Instant::now(),
            fails,
        }
    }

    #[test]
    fn status_follows_the_fifths_of_the_duration() {
        let r = record(false);
        let d = Duration::from_secs(10);
        assert_eq!(r.snapshot(r.started, d).status, ExportStatus::NotStarted);
        let at = |s| r.started + Duration::from_secs(s);
        assert_eq!(r.snapshot(at(2), d).status, ExportStatus::InProgress);
        assert_eq!(r.snapshot(at(9), d).status, ExportStatus::InProgress);
        assert_eq!(r.snapshot(at(10), d).status, ExportStatus::Complete);
        let failing = record(true);
        let at = failing.started + d;
        assert_eq!(failing.snapshot(at, d).status, ExportStatus::Invalid);
    }

    #[test]
    fn zero_duration_completes_at_once() {
        let r = record(false);
        assert_eq!(
            r.snapshot(r.started, Duration::ZERO).status,
            ExportStatus::Complete
        );
    }

    #[test]
    fn list_query_refuses_bad_values() {
        for raw in [
            "$top=0",
            "$top=1001",
            "$top=abc",
            "$skip=-1",
            "$orderBy=name",
            "exportType=OBJ",
            "cdn=2",
            "iTwinJS=yes",
            "iTwinJS=true",
            "iTwinJS=4..2",
            "iTwinJS=",
            "tileVersion=abc",
            "tileVersion=-1",
            "tileVersion=36.5",
        ] {
            assert!(parse_list_query(Some(raw)).is_err(), "{raw} accepted");
        }
        let ok = parse_list_query(Some("$top=5&$skip=10&$orderBy=date:asc")).unwrap();
        assert_eq!((ok.top, ok.skip, ok.ascending), (5, 10, true));
    }

    #[test]
    fn itwinjs_is_a_version_and_tile_version_an_integer() {
        let query = parse_list_query(Some("iModelId=x&tileVersion=36&iTwinJS=4.10.2")).unwrap();
        assert_eq!(query.tile_version, Some(36));
        assert_eq!(query.itwinjs, Some((4, 10, 2)));
        assert!(compatible(&query));
        assert_eq!(parse_version("5.0.0-dev.12"), Some((5, 0, 0)));
        assert_eq!(parse_version("4.10"), Some((4, 10, 0)));
        assert_eq!(parse_version("4.10.2.1"), None);
    }

    #[test]
    fn incompatible_readers_get_no_exports() {
        for raw in [
            "tileVersion=35",
            "iTwinJS=3.7.1",
            "tileVersion=36&iTwinJS=3.99.0",
        ] {
            let query = parse_list_query(Some(raw)).unwrap();
            assert!(!compatible(&query), "{raw}");
        }
        assert!(compatible(
            &parse_list_query(Some("iTwinJS=4.0.0")).unwrap()
        ));
    }
}
