//! Azure's List Blobs on an export's container: the XML of `restype=container&comp=list`,
//! paged by `marker` / `NextMarker` and `maxresults`, filtered by `prefix`.
//!
//! The element names and their order follow Azure's List Blobs answer as Azurite gives it
//! (properties without a value are left out); the marker is the name of the first blob of the
//! next page, which a client must treat as opaque.

use crate::markup::escape;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::{Refusal, files_of, sas};
use crate::state::AppState;

/// Azure's largest page, and the page size when `maxresults` is absent.
const MAX_RESULTS: usize = 5000;

/// The listing's query: what to list and which page.
#[derive(Debug, Default, PartialEq, Eq)]
struct ListBlobs {
    prefix: Option<String>,
    marker: Option<String>,
    max_results: Option<usize>,
}

/// Reads the listing's query; the 400 Azure answers for a bad one otherwise.
fn parse(raw_query: &str) -> Result<ListBlobs, Refusal> {
    let mut query = ListBlobs::default();
    let mut container = false;
    let mut list = false;
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        match name.as_ref() {
            "restype" => container = value == "container",
            "comp" => list = value == "list",
            "prefix" => query.prefix = Some(value.into_owned()),
            "marker" => query.marker = Some(value.into_owned()).filter(|m| !m.is_empty()),
            "maxresults" => {
                let n: i64 = value.parse().map_err(|_| {
                    Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "InvalidQueryParameterValue",
                        "Value for one of the query parameters specified in the request URI is invalid.",
                    )
                })?;
                if n < 1 {
                    return Err(Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "OutOfRangeQueryParameterValue",
                        "One of the query parameters specified in the request URI is outside the permissible range.",
                    ));
                }
                query.max_results = Some(usize::try_from(n).unwrap_or(MAX_RESULTS));
            }
            _ => {}
        }
    }
    if !(container && list) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "InvalidQueryParameterValue",
            "Value for one of the query parameters specified in the request URI is invalid.",
        ));
    }
    Ok(query)
}

/// One blob of the listing: its name, size, media type and content hash.
struct Entry {
    name: String,
    length: usize,
    media_type: &'static str,
    etag: String,
}

/// The `<Blob>` element of `entry`, modified at `modified` (RFC 1123, as Azure writes it).
fn blob_element(entry: &Entry, modified: &str) -> String {
    format!(
        "<Blob><Name>{name}</Name><Properties>\
         <Creation-Time>{modified}</Creation-Time><Last-Modified>{modified}</Last-Modified>\
         <Etag>{etag}</Etag><Content-Length>{length}</Content-Length>\
         <Content-Type>{media_type}</Content-Type><Content-MD5 /><BlobType>BlockBlob</BlobType>\
         <AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred>\
         <LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>\
         <ServerEncrypted>true</ServerEncrypted></Properties></Blob>",
        name = escape(&entry.name),
        etag = entry.etag,
        length = entry.length,
        media_type = entry.media_type,
    )
}

/// The page of `entries` (sorted by name) that `query` asks for, and the marker of the next.
fn page<'a>(entries: &'a [Entry], query: &ListBlobs) -> (&'a [Entry], Option<&'a str>) {
    let start = query.marker.as_deref().map_or(0, |marker| {
        entries.partition_point(|e| e.name.as_str() < marker)
    });
    let size = query.max_results.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
    let end = start.saturating_add(size).min(entries.len());
    let next = entries.get(end).map(|e| e.name.as_str());
    (&entries[start..end], next)
}

/// The listing of export `export_id`'s container (the signature was checked) as Azure's XML.
pub(super) async fn list(
    state: &AppState,
    export_id: &str,
    raw_query: &str,
    headers: &HeaderMap,
) -> Response {
    let query = match parse(raw_query) {
        Ok(query) => query,
        Err(refused) => return refused.into_response(),
    };
    let modified = completed_at(state, export_id)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let mut entries: Vec<Entry> = files_of(state, export_id)
        .await
        .into_iter()
        .filter(|(name, _)| query.prefix.as_ref().is_none_or(|p| name.starts_with(p)))
        .filter(|(name, _)| !state.config.unlisted_blobs.contains(name))
        .map(|(name, file)| Entry {
            etag: format!(
                "\"0x{}\"",
                hex::encode(&Sha256::digest(&file.bytes)[..8]).to_uppercase()
            ),
            length: file.bytes.len(),
            media_type: file.media_type,
            name,
        })
        .collect();
    // Azure lists blobs in the byte order of their names.
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let (blobs, next) = page(&entries, &query);
    let endpoint = format!("{}/blobs/", state.origin(headers));
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"{}\" ContainerName=\"{}\">",
        escape(&endpoint),
        escape(export_id)
    );
    // Azure writes these three only when asked; Azurite always does, and clients read both.
    // The emulator answers as Azurite, which `.ci/azurite-checks` compares it with.
    xml.push_str(&format!(
        "<Prefix>{}</Prefix><Marker>{}</Marker><MaxResults>{}</MaxResults>",
        escape(query.prefix.as_deref().unwrap_or("")),
        escape(query.marker.as_deref().unwrap_or("")),
        query.max_results.unwrap_or(MAX_RESULTS).min(MAX_RESULTS)
    ));
    xml.push_str("<Blobs>");
    for entry in blobs {
        xml.push_str(&blob_element(entry, &modified));
    }
    xml.push_str("</Blobs>");
    match next {
        Some(marker) => xml.push_str(&format!("<NextMarker>{}</NextMarker>", escape(marker))),
        None => xml.push_str("<NextMarker />"),
    }
    xml.push_str("</EnumerationResults>");
    let mut response = (StatusCode::OK, xml).into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    out.insert(
        "x-ms-version",
        HeaderValue::from_static(sas::SIGNED_VERSION),
    );
    response
}

/// When the export finished: the time its blobs were written.
fn completed_at(state: &AppState, export_id: &str) -> DateTime<Utc> {
    let store = state.store.lock().expect("store lock");
    store.get(export_id).map_or_else(Utc::now, |record| {
        record
            .snapshot(Instant::now(), state.config.export_duration)
            .last_modified
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(names: &[&str]) -> Vec<Entry> {
        names
            .iter()
            .map(|n| Entry {
                name: (*n).to_owned(),
                length: 1,
                media_type: "application/json",
                etag: String::new(),
            })
            .collect()
    }

    fn names(page: &[Entry]) -> Vec<&str> {
        page.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn pages_continue_at_the_marker() {
        let all = entries(&["a", "b", "c", "d", "e"]);
        let first = ListBlobs {
            max_results: Some(2),
            ..ListBlobs::default()
        };
        let (blobs, next) = page(&all, &first);
        assert_eq!((names(blobs), next), (vec!["a", "b"], Some("c")));
        let last = ListBlobs {
            max_results: Some(2),
            marker: Some("e".into()),
            ..ListBlobs::default()
        };
        let (blobs, next) = page(&all, &last);
        assert_eq!((names(blobs), next), (vec!["e"], None));
        let (blobs, next) = page(&all, &ListBlobs::default());
        assert_eq!((blobs.len(), next), (5, None));
    }

    #[test]
    fn the_query_must_ask_for_a_container_listing() {
        assert!(parse("restype=container&comp=list&maxresults=3").is_ok());
        for bad in [
            "comp=list",
            "restype=container",
            "restype=container&comp=list&maxresults=0",
            "restype=container&comp=list&maxresults=x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse("restype=container&comp=list&prefix=tiles%2F&marker=")
                .unwrap()
                .prefix
                .as_deref(),
            Some("tiles/")
        );
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape("a&b<c>\"'"), "a&amp;b&lt;c&gt;&quot;&apos;");
    }
}
