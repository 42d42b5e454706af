//! Caller conformance: each public caller of Mesh Export, replayed against the emulator with
//! the exact requests its code makes, asserting what its code reads. Each test names the file
//! it follows; spec/PROVENANCE.md ("Version 3") summarises them.

use std::time::Duration;

use mesh_export_emulator::{Emulator, IModel};
use reqwest::Url;
use serde_json::{Value, json};

use mesh_export_test_support::emulator::{Api, http, token};

const ACCEPT: &str = "application/vnd.bentley.itwin-platform.v1+json";

/// An emulator whose exports are `Complete` as soon as they start.
async fn instant() -> Emulator {
    Emulator::builder()
        .export_duration(Duration::ZERO)
        .share_key("cesium-share-key")
        .imodel(
            IModel::new("imodel", "itwin")
                .changeset("c1")
                .changeset("c2"),
        )
        .start()
        .await
        .unwrap()
}

async fn start(api: &Api, body: Value) -> String {
    let response = api.post_raw(&body.to_string()).send().await.unwrap();
    assert_eq!(response.status(), 202, "{body}");
    let answer: Value = response.json().await.unwrap();
    answer["export"]["id"].as_str().unwrap().to_owned()
}

/// `GET url` as a caller sends it: `authorization` as given, plus `headers`.
async fn get(url: &str, authorization: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = http().get(url).header("Authorization", authorization);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

/// Fetches a tileset URL as a viewer would and checks it is a tileset.
async fn assert_tileset(url: &str) {
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let tileset: Value = response.json().await.unwrap();
    assert!(tileset["asset"]["version"].is_string(), "{tileset}");
    assert!(tileset["root"].is_object());
}

/// The tileset URL as `new URL(href)` + `pathname += "/tileset.json"` makes it (CesiumJS,
/// iTwin.js, cesium-native's `Uri::setPath`): the signed query is kept.
fn tileset_url(mesh_href: &str) -> String {
    let mut url = Url::parse(mesh_href).unwrap();
    let path = format!("{}/tileset.json", url.path());
    url.set_path(&path);
    url.to_string()
}

/// CesiumJS `packages/engine/Source/Core/ITwinPlatform.js` (`getExports`) and
/// `packages/engine/Source/Scene/ITwinData.js` (`createTilesetFromIModelId`): the first
/// `Complete` export of the five 3DTILES ones, with a token or a share key.
#[tokio::test]
async fn cesiumjs_itwin_data_loads_the_first_complete_3dtiles_export() {
    let emulator = instant().await;
    let api = Api::new(&emulator).await;
    let id = start(
        &api,
        json!({ "iModelId": "imodel", "exportType": "3DTILES" }),
    )
    .await;
    start(
        &api,
        json!({ "iModelId": "imodel", "exportType": "IMODEL" }),
    )
    .await;
    // `${ITwinPlatform.apiEndpoint}mesh-export`: no trailing slash.
    let url = format!(
        "{}/mesh-export?iModelId=imodel&exportType=3DTILES&%24top=5&client=CesiumJS&clientVersion=1.125",
        emulator.base_url()
    );
    let bearer = format!("Bearer {}", api.token);
    for authorization in [bearer.as_str(), "Basic cesium-share-key"] {
        let page = get(
            &url,
            authorization,
            &[("Accept", ACCEPT), ("Prefer", "return=representation")],
        )
        .await;
        let exports = page["exports"].as_array().unwrap();
        assert_eq!(exports.len(), 1, "only the 3DTILES export: {page}");
        let complete = exports.iter().find(|e| e["status"] == "Complete").unwrap();
        assert_eq!(complete["id"], id.as_str());
        assert_eq!(complete["request"]["iModelId"], "imodel");
        assert_eq!(complete["request"]["exportType"], "3DTILES");
        let href = complete["_links"]["mesh"]["href"].as_str().unwrap();
        assert_tileset(&tileset_url(href)).await;
    }
}

/// cesium-native `Cesium3DTilesSelection/src/IModelMeshExportContentLoader.cpp`
/// (`createLoader`, `parseGetExportsResponse`): 3DTiles exports by date, newest first; the
/// first with an id and a mesh link is loaded, with the bearer token sent to the tileset too.
#[tokio::test]
async fn cesium_native_loads_the_most_recently_modified_export() {
    let emulator = instant().await;
    let api = Api::new(&emulator).await;
    start(
        &api,
        json!({ "iModelId": "imodel", "exportType": "3DTiles" }),
    )
    .await;
    // Distinct millisecond timestamps make "most recently modified" unambiguous.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let newest = start(
        &api,
        json!({ "iModelId": "imodel", "exportType": "3DTiles" }),
    )
    .await;
    let url = format!(
        "{}/?iModelId=imodel&exportType=3DTiles&%24orderBy=date%3Adesc",
        emulator.mesh_export_url()
    );
    let bearer = format!("Bearer {}", api.token);
    let page = get(
        &url,
        &bearer,
        &[("Prefer", "return=representation"), ("Accept", ACCEPT)],
    )
    .await;
    let usable: Vec<(&str, &str)> = page["exports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["id"].as_str()?, e["_links"]["mesh"]["href"].as_str()?)))
        .collect();
    assert_eq!(usable.len(), 2);
    let (front_id, front_href) = usable[0];
    assert_eq!(front_id, newest);
    let response = http()
        .get(tileset_url(front_href))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// `ITwinWebServices::StartExport` of the Unreal plugin: a CESIUM export of `changeset`.
async fn unreal_start_export(emulator: &Emulator, api: &Api, changeset: &str) -> String {
    let body = json!({ "iModelId": "imodel", "changesetId": changeset, "exportType": "CESIUM" });
    let response = api
        .http
        .post(format!("{}/mesh-export", emulator.base_url()))
        .bearer_auth(&api.token)
        .header("Accept", ACCEPT)
        .header("Content-Type", "application/json")
        .header("use-new-exporter", "3")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    answer["export"]["id"].as_str().unwrap().to_owned()
}

/// iTwin/itwin-unreal-plugin `Public/SDK/Core/ITwinAPI/ITwinWebServices.cpp` (`StartExport`,
/// `GetExports`, `GetExportInfo`): a CESIUM export, then the latest one with `$top=1`, which
/// must carry `request.iTwinId` (or `contextId`) and `exportType` CESIUM.
#[tokio::test]
async fn unreal_plugin_reads_the_latest_cesium_export_with_its_itwin() {
    let emulator = instant().await;
    let api = Api::new(&emulator).await;
    let latest_changeset = unreal_start_export(&emulator, &api, "c2").await;
    // Started later, but of an older changeset: `$top=1` must not pick it.
    unreal_start_export(&emulator, &api, "c1").await;
    let bearer = format!("Bearer {}", api.token);
    let headers = [
        ("Prefer", "return=representation"),
        ("Accept", ACCEPT),
        ("X-Correlation-ID", "unreal-request-1"),
    ];
    // The plugin's "latest" asks with an empty changeset id.
    let url = format!(
        "{}/mesh-export/?$top=1&iModelId=imodel&changesetId=&exportType=CESIUM&cdn=1&client=Unreal",
        emulator.base_url()
    );
    let page = get(&url, &bearer, &headers).await;
    let exports = page["exports"].as_array().unwrap();
    assert_eq!(exports.len(), 1);
    let entry = &exports[0];
    assert_eq!(entry["id"], latest_changeset.as_str());
    assert_eq!(entry["request"]["exportType"], "CESIUM");
    assert_eq!(entry["request"]["iTwinId"], "itwin");
    assert_eq!(entry["request"]["changesetId"], "c2");
    assert_eq!(entry["status"], "Complete");
    assert!(entry["lastModified"].is_string());
    let href = entry["_links"]["mesh"]["href"].as_str().unwrap();
    assert_tileset(&href.replacen('?', "/tileset.json?", 1)).await;

    let url = format!(
        "{}/mesh-export/{latest_changeset}?exportType=CESIUM&cdn=1&client=Unreal",
        emulator.base_url()
    );
    let answer = get(&url, &bearer, &headers).await;
    assert_eq!(answer["export"]["request"]["exportType"], "CESIUM");
    assert_eq!(answer["export"]["request"]["iTwinId"], "itwin");
}

/// iTwin/itwinjs-core `extensions/frontend-tiles/src/GraphicsProvider/GraphicRepresentationProvider.ts`
/// (`queryGraphicRepresentations`, `obtainGraphicRepresentationUrl`): IMODEL exports of a
/// changeset compatible with the reader's tile version, following `_links.next`, and the
/// fallback to any changeset when the one asked has none.
#[tokio::test]
async fn itwinjs_frontend_tiles_obtains_a_graphic_representation_url() {
    let emulator = instant().await;
    let api = Api::new(&emulator).await;
    let of_c1 = start(
        &api,
        json!({ "iModelId": "imodel", "changesetId": "c1", "exportType": "IMODEL" }),
    )
    .await;
    let authorization = format!("Bearer {}", api.token);
    let headers = [
        ("Accept", ACCEPT),
        ("Prefer", "return=representation"),
        ("SessionId", "test-session"),
    ];
    let query_url = |changeset: Option<&str>, tile_version: u32| {
        let mut url = format!(
            "{}/?iModelId=imodel&$orderBy=date:desc",
            emulator.mesh_export_url()
        );
        if let Some(changeset) = changeset {
            url.push_str(&format!("&changesetId={changeset}"));
        }
        url.push_str(&format!(
            "&cdn=1&tileVersion={tile_version}&iTwinJS=5.0.0&exportType=IMODEL"
        ));
        url
    };
    // A reader of a newer major tile version than the emulator's 36 still finds the export.
    let mut found = Vec::new();
    let mut url = Some(query_url(Some("c1"), 38));
    while let Some(next) = url {
        let page = get(&next, &authorization, &headers).await;
        for export in page["exports"].as_array().unwrap() {
            if export["request"]["exportType"] == "IMODEL" && export["status"] == "Complete" {
                found.push((
                    export["id"].as_str().unwrap().to_owned(),
                    export["request"]["changesetId"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    export["_links"]["mesh"]["href"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                ));
            }
        }
        url = page["_links"]["next"]["href"].as_str().map(str::to_owned);
    }
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].0.as_str(), found[0].1.as_str()),
        (of_c1.as_str(), "c1")
    );
    assert_tileset(&tileset_url(&found[0].2)).await;
    // No export of c2: the fallback without a changeset finds the most recent one.
    let page = get(&query_url(Some("c2"), 38), &authorization, &headers).await;
    assert!(page["exports"].as_array().unwrap().is_empty());
    let page = get(&query_url(None, 38), &authorization, &headers).await;
    assert_eq!(page["exports"][0]["id"], of_c1.as_str());
}

/// iTwin/itwin-cli `src/services/mesh-export/mesh-export-api-service.ts` and
/// `mesh-export-api-client.ts` (`getOrCreateExport`): the unfiltered list, a CESIUM export of
/// the changeset if there is one, otherwise a new one polled by id until `Complete`.
#[tokio::test]
async fn itwin_cli_gets_or_creates_a_cesium_export() {
    let emulator = Emulator::builder()
        .export_duration(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let token = token(&emulator).await;
    let authorization = format!("Bearer {token}");
    let list_url = format!("{}/mesh-export?iModelId=imodel", emulator.base_url());
    let list = || {
        get(
            &list_url,
            &authorization,
            &[("Prefer", "return=representation")],
        )
    };
    let find = |page: &Value, changeset: &str| -> Option<Value> {
        page["exports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| {
                e["request"]["exportType"] == "CESIUM" && e["request"]["changesetId"] == changeset
            })
            .cloned()
    };
    assert!(find(&list().await, "cs").is_none());
    let response = http()
        .post(format!("{}/mesh-export", emulator.base_url()))
        .header("Authorization", &authorization)
        .header("Content-Type", "application/json")
        .body(
            json!({ "changesetId": "cs", "exportType": "CESIUM", "iModelId": "imodel" })
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let created: Value = response.json().await.unwrap();
    let id = created["export"]["id"].as_str().unwrap().to_owned();
    // The 202 shows the job just created; the CLI then polls the list (every five seconds)
    // until it is Complete, which it is at once with a zero export duration.
    let mut export = created["export"].clone();
    assert_eq!(export["status"], "NotStarted");
    for _ in 0..3 {
        if export["status"] == "Complete" {
            break;
        }
        let page = list().await;
        export = page["exports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id.as_str())
            .cloned()
            .expect("the created export is listed");
    }
    assert_eq!(export["status"], "Complete");
    assert!(export["_links"]["mesh"]["href"].is_string());
    assert!(export["lastModified"].is_string());
    assert!(export.get("error").is_none());
    // The next run finds it instead of creating another.
    let again = find(&list().await, "cs").unwrap();
    assert_eq!(again["id"], id.as_str());
    assert_eq!(emulator.stats().exports_started, 1);
}
