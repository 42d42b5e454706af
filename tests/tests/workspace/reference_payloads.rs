//! The payloads the reference documents, including the odd ones seen in the wild, decode into the
//! generated types and survive a round trip.

use mesh_export::LastModified;
use mesh_export_client::types::{
    ErrorResponse, Export, ExportResponse, ExportStatus, ExportType, ExportsPage, StartExport,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Decodes `value`, encodes it again, and checks the second decoding equals the first.
fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(value: Value) -> T {
    let decoded: T = serde_json::from_value(value).expect("decodes");
    let encoded = serde_json::to_value(&decoded).expect("encodes");
    let again: T = serde_json::from_value(encoded).expect("decodes again");
    assert_eq!(decoded, again);
    decoded
}

#[test]
fn start_export_response_decodes() {
    let body: ExportResponse = round_trip(
        json!({"export":{"id":"fc3aa1e5-5196-4dd9-a73e-4cfda693e576","displayName":"My iModel","status":"NotStarted","lastModified":"2024-08-22T03:18:43Z","request":{"iModelId":"b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc","changesetId":"ed94ed9a0704918d36eeb620219f5e17d8858858","exportType":"3DTiles"}}}),
    );
    assert_eq!(body.export.status, ExportStatus::NotStarted);
    assert!(body.export.links.is_none());
    let request = body.export.request.unwrap();
    assert_eq!(request.export_type, Some(ExportType::X3dTiles));
    assert_eq!(
        request.i_model_id.as_deref(),
        Some("b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc")
    );
}

#[test]
fn get_export_response_decodes_with_its_mesh_link() {
    let body: ExportResponse = round_trip(
        json!({"export":{"id":"fc3aa1e5-5196-4dd9-a73e-4cfda693e576","displayName":"My previous iModel","status":"Complete","lastModified":"2024-08-22T03:18:43Z","request":{"iModelId":"b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc","changesetId":"ed94ed9a0704918d36eeb620219f5e17d8858858","exportType":"3DTiles","lastModified":"2024-08-22T03:18:43Z"},"_links":{"mesh":{"href":"https://example.cloudfront.net/{bucket}?parameters"}}}}),
    );
    assert_eq!(
        body.export.links.unwrap().mesh.unwrap().href,
        "https://example.cloudfront.net/{bucket}?parameters"
    );
    assert!(body.export.request.unwrap().last_modified.is_some());
}

#[test]
fn a_minimal_page_decodes_with_its_links() {
    let page: ExportsPage = round_trip(
        json!({"exports":[{"id":"57ea169d-144a-4219-b530-9ce360fd194f","displayName":"My previous iModel","status":"Complete","lastModified":"2024-08-22T03:18:43Z"}],"_links":{"self":{"href":"https://api.bentley.com/mesh-export/?$top=100&$skip=0"},"next":{"href":"https://api.bentley.com/mesh-export/?$top=100&$skip=100"}}}),
    );
    assert_eq!(page.exports.len(), 1);
    assert_eq!(
        page.links.self_.href,
        "https://api.bentley.com/mesh-export/?$top=100&$skip=0"
    );
    assert!(page.links.next.is_some() && page.links.prev.is_none());
}

#[test]
fn seven_digit_fractional_timestamps_with_an_offset_decode() {
    let export: Export = round_trip(
        json!({"id":"a","displayName":"d","status":"Complete","lastModified":"2024-08-22T03:18:43.1234567+00:00"}),
    );
    // Kept as sent, and read as a time by the library's lenient parser.
    assert_eq!(
        export.last_modified.as_deref(),
        Some("2024-08-22T03:18:43.1234567+00:00")
    );
    let time = export.last_modified_at().unwrap();
    assert_eq!(time.to_rfc3339(), "2024-08-22T03:18:43.123456700+00:00");
}

#[test]
fn a_timestamp_the_client_cannot_read_does_not_fail_the_page() {
    let page: ExportsPage = round_trip(json!({"exports":[
        {"id":"a","displayName":"d","status":"Complete","lastModified":"22/08/2024 03:18:43"},
        {"id":"b","displayName":"d","status":"Complete","lastModified":"2024-08-22T03:18:43.1234567"},
        {"id":"c","displayName":"d","status":"Complete","lastModified":"2024-08-22T03:18:43Z","request":{"iModelId":"m","lastModified":"not a time"}}
    ],"_links":{"self":{"href":"https://api.bentley.com/mesh-export/"}}}));
    assert_eq!(
        page.exports[0].last_modified.as_deref(),
        Some("22/08/2024 03:18:43")
    );
    assert!(page.exports[0].last_modified_at().is_none());
    // No offset: read as UTC.
    assert_eq!(
        page.exports[1].last_modified_at().unwrap().to_rfc3339(),
        "2024-08-22T03:18:43.123456700+00:00"
    );
    let request = page.exports[2].request.as_ref().unwrap();
    assert!(request.last_modified_at().is_none());
    assert!(page.exports[2].last_modified_at().is_some());
}

#[test]
fn fractional_and_exponent_stats_decode() {
    let body: ExportResponse = round_trip(json!({"export":{
        "id":"a","displayName":"d","status":"Complete","lastModified":"2024-08-22T03:18:43Z",
        "stats":{"iModelSize":2.5e6,"compressedSize":1048576,"rawSize":3145728.0,
                 "startTime":"2024-08-22T03:17:01Z","duration":101842.5,"metrics":{"tiles":12}}
    }}));
    let stats = body.export.stats.unwrap();
    assert_eq!(stats.i_model_size, Some(2_500_000.0));
    assert_eq!(stats.compressed_size, Some(1_048_576.0));
    assert_eq!(stats.raw_size, Some(3_145_728.0));
    assert_eq!(stats.duration, Some(101_842.5));
    assert_eq!(stats.metrics["tiles"], json!(12));
}

#[test]
fn null_targets_and_details_decode() {
    let body: ErrorResponse = round_trip(json!({"error":{
        "code":"InvalidMeshExportRequest","message":"The request is invalid.","target":null,
        "details":[{"code":"InvalidParameter","message":"m","target":null}]
    }}));
    assert!(body.error.target.is_none());
    assert!(body.error.details.unwrap()[0].target.is_none());
    let body: ErrorResponse = round_trip(json!({"error":{
        "code":"ExportNotFound","message":"Requested export is not available.","details":null
    }}));
    assert!(body.error.details.is_none());
}

#[test]
fn the_portal_rate_limit_error_decodes() {
    let body: ErrorResponse = round_trip(json!({"error":{"code":"RateLimitExceeded",
        "message":"The client sent more requests than allowed by this API for the current tier of the client."}}));
    assert_eq!(body.error.code, "RateLimitExceeded");
}

#[test]
fn an_echoed_3dtiles_export_type_is_kept_as_sent() {
    let export: Export = round_trip(
        json!({"id":"a","displayName":"d","status":"Complete","request":{"iModelId":"m","changesetId":"","exportType":"3DTILES"}}),
    );
    let export_type = export.request.unwrap().export_type.unwrap();
    assert_eq!(export_type, ExportType::X3dtiles);
    assert_eq!(
        serde_json::to_value(&export_type).unwrap(),
        json!("3DTILES")
    );
}

#[test]
fn an_item_without_last_modified_decodes() {
    let export: Export = round_trip(json!({"id":"a","displayName":"d","status":"InProgress"}));
    assert!(export.last_modified.is_none());
}

#[test]
fn an_unknown_status_keeps_its_text_and_does_not_fail_the_page() {
    let page: ExportsPage = round_trip(json!({"exports":[
        {"id":"a","displayName":"d","status":"Archived"},
        {"id":"b","displayName":"d","status":"Complete"}
    ],"_links":{"self":{"href":"https://api.bentley.com/mesh-export/"}}}));
    assert_eq!(
        page.exports[0].status,
        ExportStatus::Unknown("Archived".into())
    );
    assert!(page.exports[0].status.is_unknown());
    assert_eq!(page.exports[1].status, ExportStatus::Complete);
    assert_eq!(
        serde_json::to_value(&page.exports[0].status).unwrap(),
        json!("Archived")
    );
}

#[test]
fn an_unknown_export_type_keeps_its_text() {
    let export_type: ExportType = serde_json::from_value(json!("GLTF")).unwrap();
    assert_eq!(export_type, ExportType::Unknown("GLTF".into()));
    assert_eq!(export_type.to_string(), "GLTF");
}

#[test]
fn a_non_string_status_is_still_an_error() {
    let result = serde_json::from_value::<Export>(json!({"id":"a","displayName":"d","status":7}));
    assert!(result.is_err());
}

#[test]
fn the_delete_conflict_error_decodes_with_details() {
    let body: ErrorResponse = round_trip(
        json!({"error":{"code":"InvalidMeshExportRequest","message":"Cannot delete exported job.","details":[{"code":"InvalidParameter","message":"id is invalid.","target":"id"}]}}),
    );
    assert_eq!(body.error.code, "InvalidMeshExportRequest");
    assert_eq!(body.error.details.unwrap()[0].target.as_deref(), Some("id"));
}

#[test]
fn errors_without_details_decode() {
    let body: ErrorResponse = round_trip(
        json!({"error":{"code":"ExportNotFound","message":"Requested export is not available."}}),
    );
    assert!(body.error.details.is_none() && body.error.target.is_none());
}

#[test]
fn a_start_request_serializes_with_the_wire_names() {
    let body = StartExport {
        i_model_id: "m".into(),
        changeset_id: Some(String::new()),
        export_type: Some(ExportType::X3dTiles),
        geometry_options: None,
        view_definition_filter: None,
    };
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({"iModelId":"m","changesetId":"","exportType":"3DTiles"})
    );
}
