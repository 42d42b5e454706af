//! The per-client rate limit and seeded fault injection.

use mesh_export_emulator::Emulator;
use serde_json::Value;

use mesh_export_test_support::emulator::{Api, http, token, token_for};

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_per_client() {
    let emulator = Emulator::builder()
        .client("a", "1")
        .client("b", "2")
        .rate_limit(3)
        .start()
        .await
        .unwrap();
    let url = format!("{}/", emulator.mesh_export_url());
    let a = token_for(&emulator, "a", "1").await;
    for remaining in ["2", "1", "0"] {
        let response = http().get(&url).bearer_auth(&a).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["itwinplatform-ratelimit-remainingcalls"],
            remaining
        );
    }
    let response = http().get(&url).bearer_auth(&a).send().await.unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(
        response.headers()["itwinplatform-ratelimit-remainingcalls"],
        "0"
    );
    assert_eq!(
        response.headers()["itwinplatform-ratelimit-retry-after-seconds"],
        retry_after.to_string().as_str()
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RateLimitExceeded");
    // Another client has its own budget.
    let b = token_for(&emulator, "b", "2").await;
    let response = http().get(&url).bearer_auth(&b).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(emulator.stats().rate_limited, 1);
}

#[tokio::test]
async fn faults_are_503_429_dropped_connections_and_slow_answers() {
    let emulator = Emulator::builder()
        .fault_rate(1.0)
        .seed(3)
        .start()
        .await
        .unwrap();
    // The token endpoint is never faulted, so a client can always authenticate.
    let api = Api::new(&emulator).await;
    let (mut unavailable, mut too_many, mut dropped, mut normal) = (0, 0, 0, 0);
    let mut sent = 0;
    while sent < 60 && (unavailable == 0 || too_many == 0 || dropped == 0 || normal == 0) {
        sent += 1;
        match api.get("/").send().await {
            Err(_) => dropped += 1,
            Ok(response) => match response.status().as_u16() {
                503 => {
                    assert_eq!(response.headers()["retry-after"], "1");
                    let body: Value = response.json().await.unwrap();
                    assert!(body["error"]["code"].is_string());
                    unavailable += 1;
                }
                429 => {
                    assert_eq!(response.headers()["retry-after"], "1");
                    too_many += 1;
                }
                // With every request faulted, a normal answer is a slow one.
                200 => normal += 1,
                other => panic!("unexpected status {other}"),
            },
        }
    }
    assert!(
        unavailable > 0 && too_many > 0 && dropped > 0 && normal > 0,
        "503: {unavailable}, 429: {too_many}, dropped: {dropped}, slow: {normal}"
    );
    let stats = emulator.stats();
    assert_eq!(stats.faults_injected, sent);
    assert_eq!(stats.tokens_issued, 1);
    assert!(stats.requests > sent);
}

#[tokio::test]
async fn no_faults_by_default() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = token(&emulator).await;
    for _ in 0..20 {
        let response = http()
            .get(emulator.mesh_export_url())
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(emulator.stats().faults_injected, 0);
    assert_eq!(emulator.stats().requests, 21);
}

#[tokio::test]
async fn a_forbidden_blob_answers_403_whatever_the_signature_and_the_others_are_served() {
    let emulator = mesh_export_test_support::emulator::quick()
        .tiles(4)
        .forbid_blob("tiles/1.glb")
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    let (root, query) = api.mesh(&id).await;
    let get = |path: &str| http().get(format!("{root}/{path}?{query}")).send();

    let refused = get("tiles/1.glb").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["x-ms-error-code"], "AuthorizationFailure");
    for path in ["tileset.json", "tiles/0.glb", "tiles/2.glb"] {
        assert_eq!(get(path).await.unwrap().status(), 200, "{path}");
    }
    // Still listed: the blob exists, it is only refused.
    let listing = http()
        .get(format!("{root}?{query}&restype=container&comp=list"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains("<Name>tiles/1.glb</Name>"), "{listing}");
}

#[tokio::test]
async fn get_exports_calls_are_counted() {
    let emulator = Emulator::builder().start().await.unwrap();
    let api = Api::new(&emulator).await;
    assert_eq!(emulator.stats().exports_listed, 0);
    api.start("m").await;
    api.get_json("/").await;
    api.get_json("/?iModelId=m").await;
    assert_eq!(
        emulator.stats().exports_listed,
        2,
        "start-export is not counted"
    );
}
