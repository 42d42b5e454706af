//! What the developer portal documents and the emulator once answered otherwise: the iTwin of
//! an export, "compatible with" a tile version, start-export of an unknown iModel, the order of
//! get-exports, links behind a gateway, and the rate-limit headers. Sources: spec/PROVENANCE.md.

use std::time::Duration;

use mesh_export_emulator::{DEFAULT_ITWIN_ID, Emulator, IModel};
use serde_json::{Value, json};

use mesh_export_test_support::emulator::{Api, http, token};

fn ids(page: &Value) -> Vec<&str> {
    page["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect()
}

async fn start(api: &Api, body: Value) -> String {
    let response = api.post_raw(&body.to_string()).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["export"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn exports_carry_the_itwin_of_their_imodel() {
    let emulator = Emulator::builder()
        .imodel(IModel::new("m", "twin-1"))
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    assert_eq!(api.export(&id).await["request"]["iTwinId"], "twin-1");
    let response = api
        .get("/?iModelId=m")
        .header("Prefer", "return=representation")
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["exports"][0]["request"]["iTwinId"], "twin-1");

    // With no iModel configured, every iModel is in one default iTwin.
    let open = Emulator::builder().start().await.unwrap();
    let api = Api::new(&open).await;
    let id = api.start("any").await;
    assert_eq!(
        api.export(&id).await["request"]["iTwinId"],
        DEFAULT_ITWIN_ID
    );
}

#[tokio::test]
async fn tile_version_keeps_the_exports_a_reader_of_that_version_can_read() {
    let emulator = Emulator::builder().start().await.unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    // The emulator's exports are of major version 36: a reader of 36 or newer reads them.
    for newer in ["36", "37", "1000"] {
        let page = api
            .get_json(&format!("/?iModelId=m&tileVersion={newer}"))
            .await;
        assert_eq!(ids(&page), [id.as_str()], "tileVersion={newer}");
    }
    for older in ["0", "1", "35"] {
        let page = api
            .get_json(&format!("/?iModelId=m&tileVersion={older}"))
            .await;
        assert!(ids(&page).is_empty(), "tileVersion={older}: {page}");
    }
}

#[tokio::test]
async fn start_of_an_unknown_imodel_is_404_imodel_not_found() {
    let emulator = Emulator::builder()
        .imodel(IModel::new("known", "twin"))
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let response = api
        .post_raw(&json!({ "iModelId": "stranger", "changesetId": "" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": {
            "code": "IModelNotFound",
            "message": "Requested iModel is not available.",
        }})
    );
    assert_eq!(emulator.stats().exports_started, 0);
    api.start("known").await;
}

#[tokio::test]
async fn start_refusals_use_the_portal_wording() {
    let emulator = Emulator::builder().start().await.unwrap();
    let api = Api::new(&emulator).await;
    for body in [r#"{"changesetId":""}"#, r#"{"iModelId":""}"#] {
        let response = api.post_raw(body).send().await.unwrap();
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "error": {
                "code": "InvalidMeshExportRequest",
                "message": "Cannot create export job.",
                "details": [{
                    "code": "InvalidRequestBody",
                    "message": "iModelId cannot be empty.",
                    "target": "iModelId",
                }],
            }})
        );
    }
}

#[tokio::test]
async fn start_accepts_the_optional_body_fields_callers_send() {
    let emulator = Emulator::builder().start().await.unwrap();
    let api = Api::new(&emulator).await;
    start(
        &api,
        json!({
            "iModelId": "m",
            "changesetId": "",
            "exportType": "3DTiles",
            "geometryOptions": { "includeLines": true, "chordTol": 0.01 },
            "viewDefinitionFilter": { "models": ["0x20"], "categories": [], "neverDrawn": [] },
        }),
    )
    .await;
}

#[tokio::test]
async fn without_order_by_the_newest_changeset_comes_first() {
    let emulator = Emulator::builder()
        .export_duration(Duration::from_secs(600))
        .imodel(IModel::new("m", "t").changeset("c1").changeset("c2"))
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let newest_changeset = start(&api, json!({ "iModelId": "m", "changesetId": "c2" })).await;
    let older_changeset = start(&api, json!({ "iModelId": "m", "changesetId": "c1" })).await;
    // Started last, yet of the older changeset: the Unreal plugin's `$top=1` must not get it.
    let page = api.get_json("/?iModelId=m&$top=1").await;
    assert_eq!(ids(&page), [newest_changeset.as_str()]);
    let page = api.get_json("/?iModelId=m").await;
    assert_eq!(
        ids(&page),
        [newest_changeset.as_str(), older_changeset.as_str()]
    );
    // An empty changeset id is the latest changeset; `$orderBy` still orders by date.
    let latest = start(&api, json!({ "iModelId": "m", "changesetId": "" })).await;
    let page = api.get_json("/?iModelId=m").await;
    assert_eq!(
        ids(&page),
        [
            latest.as_str(),
            newest_changeset.as_str(),
            older_changeset.as_str()
        ]
    );
    let page = api.get_json("/?iModelId=m&$orderBy=date:asc").await;
    assert_eq!(
        ids(&page),
        [
            newest_changeset.as_str(),
            older_changeset.as_str(),
            latest.as_str()
        ]
    );
}

#[tokio::test]
async fn page_links_start_from_the_gateway_prefix() {
    let emulator = Emulator::builder().start().await.unwrap();
    let api = Api::new(&emulator).await;
    api.start("m").await;
    api.start("m").await;
    let response = api
        .get("/?iModelId=m&$top=1")
        .header(
            "x-api-host-and-root",
            "https://gateway.example/api/mesh-export/",
        )
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    let links = &page["_links"];
    assert_eq!(
        links["self"]["href"],
        "https://gateway.example/api/mesh-export/?$top=1&$skip=0&iModelId=m"
    );
    assert_eq!(
        links["next"]["href"],
        "https://gateway.example/api/mesh-export/?$top=1&$skip=1&iModelId=m"
    );
    // Without the header, links point at the emulator as the caller reached it.
    let page = api.get_json("/?iModelId=m&$top=1").await;
    let href = page["_links"]["self"]["href"].as_str().unwrap();
    assert!(href.starts_with(&format!("{}/?", emulator.mesh_export_url())));
}

#[tokio::test]
async fn rate_limited_answers_carry_the_platform_headers() {
    let emulator = Emulator::builder().rate_limit(2).start().await.unwrap();
    let url = format!("{}/", emulator.mesh_export_url());
    let bearer = token(&emulator).await;
    for remaining in ["1", "0"] {
        let response = http().get(&url).bearer_auth(&bearer).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["itwinplatform-ratelimit-remainingcalls"], remaining);
        assert!(!headers.contains_key("itwinplatform-ratelimited-tier"));
    }
    let response = http().get(&url).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(response.status(), 429);
    let headers = response.headers();
    assert_eq!(headers["itwinplatform-ratelimit-remainingcalls"], "0");
    assert_eq!(headers["itwinplatform-ratelimited-tier"], "Trial");
    assert_eq!(
        headers["itwinplatform-ratelimit-retry-after-seconds"],
        headers["retry-after"]
    );
    for invented in [
        "itwinplatform-ratelimit-limit",
        "itwinplatform-ratelimit-remaining",
        "itwinplatform-ratelimit-reset",
    ] {
        assert!(!headers.contains_key(invented), "{invented}");
    }
}
