//! The token endpoint and the four operations: success and error paths, lifecycle, paging.

use std::collections::HashSet;
use std::time::Duration;

use mesh_export_emulator::Emulator;
use serde_json::{Value, json};

use mesh_export_test_support::emulator::{Api, http, quick, token, token_for};

async fn token_error(emulator: &Emulator, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(mesh_export_test_support::emulator::form(form))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn token_endpoint_issues_bearer_tokens_to_known_clients() {
    let emulator = Emulator::builder()
        .client("app", "s3cret")
        .start()
        .await
        .unwrap();
    let response = http()
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(mesh_export_test_support::emulator::form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "s3cret"),
            ("scope", "itwin-platform"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["access_token"].as_str().unwrap().len() >= 32);
    // HTTP Basic client authentication works too.
    let response = http()
        .post(emulator.token_url())
        .basic_auth("app", Some("s3cret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(mesh_export_test_support::emulator::form(&[
            ("grant_type", "client_credentials"),
            ("scope", "itwin-platform"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(emulator.stats().tokens_issued, 2);
}

#[tokio::test]
async fn token_endpoint_answers_oauth2_errors() {
    let emulator = Emulator::builder().start().await.unwrap();
    let good = [
        ("grant_type", "client_credentials"),
        ("client_id", "demo-client"),
        ("client_secret", "demo-secret"),
        ("scope", "itwin-platform"),
    ];
    let with = |name: &'static str, value: &'static str| {
        good.iter()
            .map(|(n, v)| if *n == name { (*n, value) } else { (*n, *v) })
            .collect::<Vec<_>>()
    };
    let (status, body) = token_error(&emulator, &with("client_secret", "wrong")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(body["error_description"].is_string());
    let (status, body) = token_error(&emulator, &with("client_id", "stranger")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token_error(&emulator, &with("grant_type", "password")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = token_error(&emulator, &with("scope", "openid")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = token_error(&emulator, &good[1..]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert_eq!(emulator.stats().tokens_issued, 0);
}

#[tokio::test]
async fn mesh_export_routes_need_a_valid_unexpired_token() {
    let emulator = Emulator::builder().start().await.unwrap();
    let url = format!("{}/", emulator.mesh_export_url());
    let response = http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "HeaderNotFound");

    let response = http()
        .get(&url)
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["details"][0]["code"], "InvalidToken");

    let valid = token(&emulator).await;
    let response = http().get(&url).bearer_auth(&valid).send().await.unwrap();
    assert_eq!(response.status(), 200);

    // Expiry on an emulator whose tokens live 1 ms: a sleep can only make the token older, so
    // the outcome does not depend on how loaded the machine is.
    let short_lived = Emulator::builder()
        .token_ttl(Duration::from_millis(1))
        .start()
        .await
        .unwrap();
    let url = format!("{}/", short_lived.mesh_export_url());
    let expiring = token(&short_lived).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let response = http()
        .get(&url)
        .bearer_auth(&expiring)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "expired token accepted");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["details"][0]["code"], "InvalidToken");
}

#[tokio::test]
async fn start_answers_202_with_a_not_started_export_and_no_links() {
    let emulator = quick().start().await.unwrap();
    let api = Api::new(&emulator).await;
    let response = api
        .post_raw(r#"{"iModelId":"m1","changesetId":"cs1","exportType":"CESIUM"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let export = &body["export"];
    assert_eq!(export["status"], "NotStarted");
    assert!(export.get("_links").is_none());
    assert_eq!(export["request"]["iModelId"], "m1");
    assert_eq!(export["request"]["changesetId"], "cs1");
    assert_eq!(export["request"]["exportType"], "CESIUM");
    assert!(export["displayName"].is_string() && export["lastModified"].is_string());
    // Defaults: latest changeset, 3DTiles.
    let response = api.post_raw(r#"{"iModelId":"m1"}"#).send().await.unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["export"]["request"]["exportType"], "3DTiles");
    assert_eq!(emulator.stats().exports_started, 2);
}

#[tokio::test]
async fn exports_move_from_not_started_through_in_progress_to_complete() {
    let emulator = Emulator::builder()
        .export_duration(Duration::from_millis(1500))
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("lifecycle").await;
    let mut seen: Vec<String> = Vec::new();
    let mut last = Value::Null;
    for _ in 0..400 {
        last = api.export(&id).await;
        let status = last["status"].as_str().unwrap().to_owned();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "Complete" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let order = ["NotStarted", "InProgress", "Complete"];
    let ranks: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).expect("known status"))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "went {seen:?}");
    assert!(seen.contains(&"InProgress".to_owned()), "went {seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("Complete"));
    assert!(
        last["_links"]["mesh"]["href"]
            .as_str()
            .unwrap()
            .contains("sig=")
    );
    assert!(last["stats"]["rawSize"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn exports_of_a_failing_imodel_end_invalid_with_an_error() {
    let emulator = quick().fail_imodel("broken").start().await.unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("broken").await;
    let export = api.wait_done(&id).await;
    assert_eq!(export["status"], "Invalid");
    assert!(!export["error"].as_str().unwrap().is_empty());
    assert!(export.get("_links").is_none());
    let fine = api.start("fine").await;
    assert_eq!(api.wait_done(&fine).await["status"], "Complete");
}

#[tokio::test]
async fn only_the_newest_five_exports_of_an_imodel_are_kept() {
    let emulator = quick().start().await.unwrap();
    let api = Api::new(&emulator).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(api.start("busy").await);
    }
    let other = api.start("quiet").await;
    let page: Value = api.get_json("/?iModelId=busy").await;
    let listed: HashSet<&str> = page["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let expected: HashSet<&str> = ids[2..].iter().map(String::as_str).collect();
    assert_eq!(listed, expected);
    for gone in &ids[..2] {
        let response = api.get(&format!("/{gone}")).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }
    assert_eq!(api.export(&other).await["id"], other.as_str());
}

#[tokio::test]
async fn pages_link_to_each_other_with_absolute_urls_newest_first() {
    let emulator = Emulator::builder()
        .export_duration(Duration::from_secs(600))
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let mut started = Vec::new();
    for i in 0..7 {
        started.push(api.start(&format!("imodel-{i}")).await);
        // Distinct millisecond timestamps keep the order by date unambiguous.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let mut url = format!("{}/?$top=3", api.root);
    let mut pages = Vec::new();
    loop {
        let response = api
            .http
            .get(&url)
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        let links = &page["_links"];
        assert!(
            links["self"]["href"]
                .as_str()
                .unwrap()
                .starts_with(&emulator.mesh_export_url())
        );
        assert_eq!(links.get("prev").is_some(), !pages.is_empty());
        pages.push(page.clone());
        match links.get("next") {
            Some(next) => {
                let next = next["href"].as_str().unwrap();
                assert!(next.starts_with(&format!("{}/?", emulator.mesh_export_url())));
                url = next.to_owned();
            }
            None => break,
        }
    }
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p["exports"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [3, 3, 1]);
    let listed: Vec<String> = pages
        .iter()
        .flat_map(|p| p["exports"].as_array().unwrap().clone())
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let newest_first: Vec<String> = started.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);

    let page: Value = api.get_json("/?$orderBy=date:asc&$top=2").await;
    let ids: Vec<&str> = page["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [started[0].as_str(), started[1].as_str()]);
    assert!(
        page["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .contains("orderBy=date")
    );

    let page: Value = api.get_json("/?$skip=6").await;
    assert_eq!(page["exports"].as_array().unwrap().len(), 1);
    assert!(page["_links"].get("next").is_none());
    // The service root without a trailing slash lists too.
    let response = api
        .http
        .get(&api.root)
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn prefer_chooses_minimal_or_full_representation() {
    let emulator = quick().start().await.unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    api.wait_done(&id).await;
    let minimal: Value = api.get_json("/").await;
    let item = minimal["exports"][0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["displayName", "id", "lastModified", "status"]);
    let explicit: Value = api
        .get("/")
        .header("Prefer", "return=minimal")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(explicit["exports"], minimal["exports"]);
    let full: Value = api
        .get("/")
        .header("Prefer", "return=representation")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = &full["exports"][0];
    assert_eq!(item["request"]["iModelId"], "m");
    assert!(item["_links"]["mesh"]["href"].is_string());
}

#[tokio::test]
async fn list_filters_by_imodel_changeset_and_type() {
    let emulator = quick().start().await.unwrap();
    let api = Api::new(&emulator).await;
    for body in [
        json!({"iModelId": "a", "changesetId": "c1", "exportType": "3DTiles"}),
        json!({"iModelId": "a", "changesetId": "c2", "exportType": "CESIUM"}),
        json!({"iModelId": "b", "changesetId": "c1", "exportType": "3DTiles"}),
    ] {
        let response = api.post_raw(&body.to_string()).send().await.unwrap();
        assert_eq!(response.status(), 202);
    }
    let count = |query: &'static str| {
        let request = api.get(query);
        async move {
            let page: Value = request.send().await.unwrap().json().await.unwrap();
            page["exports"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("/").await, 3);
    assert_eq!(count("/?iModelId=a").await, 2);
    assert_eq!(count("/?changesetId=c1").await, 2);
    assert_eq!(count("/?iModelId=a&changesetId=c1").await, 1);
    assert_eq!(count("/?exportType=CESIUM").await, 1);
    assert_eq!(count("/?exportType=3DTILES").await, 2);
    assert_eq!(count("/?iModelId=nobody").await, 0);
    assert_eq!(count("/?cdn=1&tileVersion=36&iTwinJS=4.10.2").await, 3);
    assert_eq!(count("/?cdn=1&tileVersion=35&iTwinJS=4.10.2").await, 0);
}

async fn assert_invalid(response: reqwest::Response, target: &str) {
    assert_eq!(response.status(), 422, "for {target}");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidMeshExportRequest");
    assert_eq!(body["error"]["details"][0]["target"], target, "{body}");
}

#[tokio::test]
async fn invalid_input_is_422_naming_the_parameter() {
    let emulator = quick().start().await.unwrap();
    let api = Api::new(&emulator).await;
    for (query, target) in [
        ("/?$top=0", "$top"),
        ("/?$top=1001", "$top"),
        ("/?$top=ten", "$top"),
        ("/?$skip=-1", "$skip"),
        ("/?$orderBy=size", "$orderBy"),
        ("/?exportType=OBJ", "exportType"),
        ("/?cdn=7", "cdn"),
        ("/?iTwinJS=maybe", "iTwinJS"),
    ] {
        assert_invalid(api.get(query).send().await.unwrap(), target).await;
    }
    for (body, target) in [
        ("{not json", "body"),
        ("[1,2]", "body"),
        (r#"{"changesetId":""}"#, "iModelId"),
        (r#"{"iModelId":""}"#, "iModelId"),
        (r#"{"iModelId":42}"#, "iModelId"),
        (r#"{"iModelId":"m","exportType":"OBJ"}"#, "exportType"),
        (r#"{"iModelId":"m","changesetId":7}"#, "changesetId"),
    ] {
        assert_invalid(api.post_raw(body).send().await.unwrap(), target).await;
    }
    assert_eq!(emulator.stats().exports_started, 0);
}

#[tokio::test]
async fn delete_removes_finished_exports_only() {
    let emulator = Emulator::builder()
        .export_duration(Duration::from_millis(800))
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    let response = api.delete(&id).send().await.unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidMeshExportRequest");
    assert_eq!(body["error"]["message"], "Cannot delete exported job.");
    api.wait_done(&id).await;
    let response = api.delete(&id).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    let response = api.delete(&id).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ExportNotFound");
    assert_eq!(
        body["error"]["message"],
        "Requested export is not available."
    );
}

#[tokio::test]
async fn get_of_an_unknown_export_is_404() {
    let emulator = quick().start().await.unwrap();
    let api = Api::new(&emulator).await;
    let response = api.get("/no-such-export").send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ExportNotFound");
}

#[tokio::test]
async fn configured_clients_replace_the_demo_client() {
    let emulator = Emulator::builder()
        .client("a", "1")
        .client("b", "2")
        .start()
        .await
        .unwrap();
    token_for(&emulator, "a", "1").await;
    token_for(&emulator, "b", "2").await;
    let (status, _) = token_error(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "demo-client"),
            ("client_secret", "demo-secret"),
            ("scope", "itwin-platform"),
        ],
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let emulator = quick().start().await.unwrap();
    let url = emulator.token_url();
    emulator.shutdown().await;
    assert!(http().post(&url).send().await.is_err());
}

#[tokio::test]
async fn bad_settings_are_refused_with_a_clear_error() {
    let err = Emulator::builder()
        .fault_rate(1.5)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fault rate"), "{err}");
    let err = Emulator::builder().tiles(1).start().await.unwrap_err();
    assert!(err.to_string().contains("tiles"), "{err}");
}

#[tokio::test]
async fn the_itwinjs_query_lists_the_exports_compatible_with_that_version() {
    let emulator = quick().start().await.unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("x").await;
    let ids = |page: &Value| -> Vec<String> {
        page["exports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // What the issue quotes, what iTwin.js's frontend-tiles sends, and CesiumJS's
    // informational `client` / `clientVersion`.
    for query in [
        "/?iModelId=x&tileVersion=36&iTwinJS=4.10.2",
        "/?iModelId=x&$top=5&cdn=1&tileVersion=36&iTwinJS=5.0.0-dev.12",
        "/?iModelId=x&client=CesiumJS&clientVersion=1.120&tileVersion=36",
    ] {
        let response = api
            .get(query)
            .header("Prefer", "return=representation")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{query}");
        let page: Value = response.json().await.unwrap();
        assert_eq!(ids(&page), std::slice::from_ref(&id), "{query}");
        let self_href = page["_links"]["self"]["href"].as_str().unwrap();
        assert!(self_href.contains("tileVersion=36"), "{self_href}");
    }
    // Readers of another tile format, or an iTwin.js too old for the emulator's: nothing.
    for query in [
        "/?iModelId=x&tileVersion=35&iTwinJS=4.10.2",
        "/?iModelId=x&tileVersion=36&iTwinJS=3.8.0",
    ] {
        let page = api.get_json(query).await;
        assert!(ids(&page).is_empty(), "{query}: {page}");
    }
    let bad = api.get("/?iTwinJS=true").send().await.unwrap();
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["details"][0]["target"], "iTwinJS");
}

#[tokio::test]
async fn stats_are_numbers_with_the_fraction_a_timer_gives() {
    // 300.5 ms in all: a fifth queued, 240.4 ms processing.
    let emulator = Emulator::builder()
        .export_duration(Duration::from_micros(300_500))
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    let export = api.wait_done(&id).await;
    let stats = &export["stats"];
    assert!(stats["duration"].is_f64(), "{stats}");
    assert_eq!(stats["duration"].as_f64(), Some(240.4), "{stats}");
    for size in ["iModelSize", "compressedSize", "rawSize"] {
        assert!(stats[size].as_f64().is_some_and(|s| s > 0.0), "{stats}");
    }
    // The timestamp as the service has been seen to write it.
    let last_modified = export["lastModified"].as_str().unwrap();
    assert_eq!(
        last_modified.len(),
        "2024-08-22T03:18:43.1230000+00:00".len()
    );
    assert!(last_modified.ends_with("0000+00:00"), "{last_modified}");
}

#[tokio::test]
async fn a_configured_share_key_authenticates_as_basic() {
    let emulator = quick().share_key("sk-emulator-key").start().await.unwrap();
    let root = format!("{}/", emulator.mesh_export_url());
    let with = |value: &str| {
        http()
            .get(&root)
            .header("authorization", value.to_owned())
            .send()
    };
    assert_eq!(with("Basic sk-emulator-key").await.unwrap().status(), 200);
    assert_eq!(with("basic  sk-emulator-key").await.unwrap().status(), 200);
    for refused in [
        "Basic sk-other-key",
        "Bearer sk-emulator-key",
        "Basic c2stZW11bGF0b3Ita2V5",
    ] {
        let response = with(refused).await.unwrap();
        assert_eq!(response.status(), 401, "{refused}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("sk-"), "{body}");
    }
    let unconfigured = quick().start().await.unwrap();
    let response = http()
        .get(format!("{}/", unconfigured.mesh_export_url()))
        .header("authorization", "Basic sk-emulator-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(!format!("{:?}", emulator.config()).contains("sk-emulator-key"));
}
