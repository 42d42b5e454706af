//! The generated builders write their query parameters in one pass: the URL must be exactly
//! the one progenitor's own chain of `RequestBuilder::query` calls produces.

use std::num::NonZeroU32;

use mesh_export_client::types::{ExportOrderBy, ExportType};
use mesh_export_client::{Client, PolicyHandle};
use progenitor_client::QueryParam;

const BASE: &str = "http://127.0.0.1:9/mesh-export";

fn client() -> Client {
    Client::new(BASE, PolicyHandle::none())
}

/// Values that need every kind of escaping a query can need.
const AWKWARD: &str = "a b&c=d%2F+é#?/\\;sig=1";

#[test]
fn every_get_exports_parameter_is_encoded_as_progenitors_chain_would() {
    let request = client()
        .get_exports()
        .order_by(ExportOrderBy::DateDesc)
        .skip(-3)
        .top(NonZeroU32::new(7).unwrap())
        .cdn(1)
        .changeset_id(AWKWARD)
        .export_type(ExportType::X3dTiles)
        .i_model_id("imodel/../1")
        .i_twin_js("4.0.0+build.1")
        .tile_version(2)
        .into_request()
        .unwrap();
    let expected = reqwest::Client::new()
        .get(format!("{BASE}/"))
        .query(&QueryParam::new("$orderBy", &Some(ExportOrderBy::DateDesc)))
        .query(&QueryParam::new("$skip", &Some(-3)))
        .query(&QueryParam::new("$top", &NonZeroU32::new(7)))
        .query(&QueryParam::new("cdn", &Some(1)))
        .query(&QueryParam::new("changesetId", &Some(AWKWARD)))
        .query(&QueryParam::new("exportType", &Some(ExportType::X3dTiles)))
        .query(&QueryParam::new("iModelId", &Some("imodel/../1")))
        .query(&QueryParam::new("iTwinJS", &Some("4.0.0+build.1")))
        .query(&QueryParam::new("tileVersion", &Some(2)))
        .build()
        .unwrap();
    assert_eq!(request.url().as_str(), expected.url().as_str());
    assert!(
        request
            .url()
            .as_str()
            .contains("changesetId=a+b%26c%3Dd%252F%2B"),
        "{}",
        request.url()
    );
}

#[test]
fn unset_parameters_leave_no_pair_and_keep_the_others_in_order() {
    let request = client()
        .get_exports()
        .i_model_id("m")
        .order_by(ExportOrderBy::DateAsc)
        .into_request()
        .unwrap();
    assert_eq!(
        request.url().as_str(),
        format!("{BASE}/?%24orderBy=date%3Aasc&iModelId=m")
    );
}

#[test]
fn a_request_without_parameters_has_no_query_at_all() {
    let request = client().get_exports().into_request().unwrap();
    assert_eq!(request.url().query(), None);
    assert_eq!(request.url().as_str(), format!("{BASE}/"));
}

#[test]
fn an_operation_with_a_path_parameter_writes_its_query_after_the_path() {
    #[allow(deprecated)]
    let request = client()
        .get_export()
        .id("a b")
        .cdn(1)
        .into_request()
        .unwrap();
    assert_eq!(request.url().as_str(), format!("{BASE}/a%20b?cdn=1"));
}

#[test]
fn the_client_debug_output_shows_a_base_url_password_no_more_than_before() {
    let client = Client::new(
        "https://user:s3cr3t@api.example/mesh-export",
        PolicyHandle::none(),
    );
    let debug = format!("{client:?}");
    // Once, in progenitor's own `baseurl` field; the parsed copy shows nothing of the URL.
    assert_eq!(debug.matches("s3cr3t").count(), 1, "{debug}");
}
