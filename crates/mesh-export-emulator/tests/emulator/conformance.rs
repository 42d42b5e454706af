//! Every operation, success and error paths, checked against `spec/openapi.yaml`: the status
//! is documented, the content type is JSON when the spec has a body, the body validates
//! against the documented schema (components resolved), and documented headers are present.

use std::time::Duration;

use mesh_export_emulator::Emulator;
use serde_json::{Value, json};

use mesh_export_test_support::emulator::{Api, http, quick};

struct Spec {
    doc: Value,
}

impl Spec {
    fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/openapi.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = serde_norway::from_str(&text).unwrap();
        Self { doc }
    }

    /// Follows a local `$ref` (`#/components/...`).
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').expect("local reference");
                self.resolve(self.doc.pointer(pointer).expect("reference resolves"))
            }
            None => value,
        }
    }

    /// The documented response of `method path` with `status`; panics when undocumented.
    fn response(&self, path: &str, method: &str, status: u16) -> &Value {
        let operation = &self.doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not in the spec");
        let response = operation["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{method} {path} does not document {status}"));
        self.resolve(response)
    }

    /// Checks one response against the spec and returns its JSON body, if any.
    async fn check(&self, path: &str, method: &str, response: reqwest::Response) -> Option<Value> {
        let status = response.status().as_u16();
        let documented = self.response(path, method, status).clone();
        let headers = response.headers().clone();
        for name in documented["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|h| h.0)
        {
            assert!(
                headers.contains_key(name.to_ascii_lowercase().as_str()),
                "{method} {path} {status}: header {name} missing"
            );
        }
        let bytes = response.bytes().await.unwrap();
        let Some(media) = documented["content"].get("application/json") else {
            assert!(
                bytes.is_empty(),
                "{method} {path} {status}: undocumented body"
            );
            return None;
        };
        let content_type = headers["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path} {status}: content-type {content_type}"
        );
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        let errors = self.schema_errors(&media["schema"], &body);
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: body {body} does not match the spec: {errors:?}"
        );
        Some(body)
    }

    /// Validation errors of `body` against `schema`.
    fn schema_errors(&self, schema: &Value, body: &Value) -> Vec<String> {
        // The schema is the operation's, with the spec's components beside it so that
        // `#/components/...` references resolve.
        let mut schema = schema.clone();
        schema["components"] = self.doc["components"].clone();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

#[test]
fn the_schema_check_catches_wrong_bodies() {
    let spec = Spec::load();
    let schema = json!({ "$ref": "#/components/schemas/ExportResponse" });
    let good = json!({"export": {"id": "a", "displayName": "d", "status": "Complete",
        "lastModified": "2024-08-22T03:18:43Z"}});
    assert!(spec.schema_errors(&schema, &good).is_empty());
    let missing_name = json!({"export": {"id": "a", "status": "Complete"}});
    assert!(!spec.schema_errors(&schema, &missing_name).is_empty());
    let bad_date = json!({"export": {"id": "a", "displayName": "d", "status": "Complete",
        "stats": {"startTime": "yesterday"}}});
    assert!(!spec.schema_errors(&schema, &bad_date).is_empty());
    let text_duration = json!({"export": {"id": "a", "displayName": "d", "status": "Complete",
        "stats": {"duration": "240 ms"}}});
    assert!(!spec.schema_errors(&schema, &text_duration).is_empty());
}

#[tokio::test]
async fn every_operation_answers_as_the_spec_documents() {
    let spec = Spec::load();
    let emulator = quick().fail_imodel("broken").start().await.unwrap();
    let api = Api::new(&emulator).await;
    let root = format!("{}/", api.root);

    // start-export: 202, 422s, 401s.
    let body = json!({"iModelId": "m", "changesetId": "", "exportType": "3DTiles"}).to_string();
    let started = spec
        .check("/", "post", api.post_raw(&body).send().await.unwrap())
        .await;
    let id = started.unwrap()["export"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let broken = api.start("broken").await;
    for bad in [
        "{",
        r#"{"changesetId":"x"}"#,
        r#"{"iModelId":"m","exportType":"x"}"#,
    ] {
        let response = api.post_raw(bad).send().await.unwrap();
        assert_eq!(response.status(), 422);
        spec.check("/", "post", response).await;
    }
    let client = http();
    let anonymous = client.post(&root).body(body.clone()).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    spec.check("/", "post", anonymous).await;
    let forged = client
        .post(&root)
        .bearer_auth("forged")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    spec.check("/", "post", forged).await;

    // get-export and delete-export (422) while running, on an emulator whose exports take an
    // hour: "still running" must not depend on how fast this machine is.
    let slow = Emulator::builder()
        .export_duration(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let slow_api = Api::new(&slow).await;
    let running_id = slow_api.start("m").await;
    let running = slow_api
        .get(&format!("/{running_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(running.status(), 200);
    spec.check("/{id}", "get", running).await;
    let refused = slow_api.delete(&running_id).send().await.unwrap();
    assert_eq!(refused.status(), 422);
    spec.check("/{id}", "delete", refused).await;
    slow.shutdown().await;

    // get-export once complete and invalid; 404; 401.
    let get = |id: &str| api.get(&format!("/{id}")).send();
    api.wait_done(&id).await;
    api.wait_done(&broken).await;
    for export in [&id, &broken] {
        let body = spec
            .check("/{id}", "get", get(export).await.unwrap())
            .await
            .unwrap();
        assert!(["Complete", "Invalid"].contains(&body["export"]["status"].as_str().unwrap()));
    }
    let missing = get("missing").await.unwrap();
    assert_eq!(missing.status(), 404);
    spec.check("/{id}", "get", missing).await;
    let anonymous = client.get(format!("{root}{id}")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    spec.check("/{id}", "get", anonymous).await;

    // get-exports: minimal, representation, paged, 422, 401.
    for (query, prefer) in [
        ("/", "return=minimal"),
        ("/", "return=representation"),
        (
            "/?$top=1&$skip=1&$orderBy=date:asc&exportType=3DTiles&cdn=1&tileVersion=36&iTwinJS=4.10.2",
            "return=representation",
        ),
    ] {
        let response = api
            .get(query)
            .header("Prefer", prefer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        spec.check("/", "get", response).await;
    }
    for query in ["/?$top=0", "/?iTwinJS=true", "/?tileVersion=latest"] {
        let bad = api.get(query).send().await.unwrap();
        assert_eq!(bad.status(), 422, "{query}");
        spec.check("/", "get", bad).await;
    }
    let anonymous = client.get(&root).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    spec.check("/", "get", anonymous).await;

    // delete-export: 204, then 404, 401.
    let deleted = api.delete(&id).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    spec.check("/{id}", "delete", deleted).await;
    let gone = api.delete(&id).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    spec.check("/{id}", "delete", gone).await;
    let anonymous = client
        .delete(format!("{root}{broken}"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    spec.check("/{id}", "delete", anonymous).await;
}

#[tokio::test]
async fn rate_limited_operations_answer_as_the_spec_documents() {
    let spec = Spec::load();
    let emulator = Emulator::builder()
        .export_duration(Duration::from_secs(600))
        .rate_limit(1)
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let first = api.get("/").send().await.unwrap();
    assert_eq!(first.status(), 200);
    let portal_message = spec.doc.pointer(
        "/components/responses/TooManyRequests/content/application~1json/examples/rate-limit-exceeded/value/error/message",
    )
    .unwrap()
    .clone();
    let requests = [
        ("/", "post", api.post_raw(r#"{"iModelId":"m"}"#)),
        ("/", "get", api.get("/")),
        ("/{id}", "get", api.get("/some-id")),
        ("/{id}", "delete", api.delete("some-id")),
    ];
    for (path, method, request) in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 429, "{method} {path}");
        let body = spec.check(path, method, response).await.unwrap();
        assert_eq!(body["error"]["code"], "RateLimitExceeded");
        // The portal's words, as the spec's example quotes them.
        assert_eq!(body["error"]["message"], portal_message, "{method} {path}");
    }
    assert_eq!(emulator.stats().rate_limited, 4);
}

#[tokio::test]
async fn start_of_an_unknown_imodel_answers_as_the_spec_documents() {
    let spec = Spec::load();
    let emulator = quick()
        .imodel(mesh_export_emulator::IModel::new("known", "twin"))
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let body = json!({"iModelId": "stranger", "changesetId": ""}).to_string();
    let response = api.post_raw(&body).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body = spec.check("/", "post", response).await.unwrap();
    assert_eq!(body["error"]["code"], "IModelNotFound");
}
