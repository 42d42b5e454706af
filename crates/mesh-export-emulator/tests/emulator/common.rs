//! Helpers shared by the emulator tests.

use std::time::Duration;

use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, EmulatorBuilder};
use serde_json::{Value, json};

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// An emulator whose exports finish quickly.
pub fn quick() -> EmulatorBuilder {
    Emulator::builder().export_duration(Duration::from_millis(300))
}

/// A form-encoded body (reqwest's `form` needs a feature the workspace does not enable).
pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub async fn token_for(emulator: &Emulator, id: &str, secret: &str) -> String {
    let response = http()
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(crate::common::form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "itwin-platform"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

pub async fn token(emulator: &Emulator) -> String {
    token_for(emulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await
}

/// A client of one emulator with a token.
pub struct Api {
    pub root: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn new(emulator: &Emulator) -> Self {
        Self {
            root: emulator.mesh_export_url(),
            token: token(emulator).await,
            http: http(),
        }
    }

    pub fn get(&self, path_and_query: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path_and_query}", self.root))
            .bearer_auth(&self.token)
    }

    /// `GET` of a path under the service root, answered 2xx with JSON; returns the body.
    pub async fn get_json(&self, path_and_query: &str) -> Value {
        let response = self.get(path_and_query).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.unwrap()
    }

    pub fn delete(&self, id: &str) -> reqwest::RequestBuilder {
        self.http
            .delete(format!("{}/{id}", self.root))
            .bearer_auth(&self.token)
    }

    pub fn post_raw(&self, body: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/", self.root))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_owned())
    }

    /// Starts an export of `imodel` and returns its id.
    pub async fn start(&self, imodel: &str) -> String {
        let body = json!({ "iModelId": imodel, "changesetId": "", "exportType": "3DTiles" });
        let response = self.post_raw(&body.to_string()).send().await.unwrap();
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        body["export"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn export(&self, id: &str) -> Value {
        let response = self.get(&format!("/{id}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["export"].clone()
    }

    /// Polls until the export leaves NotStarted/InProgress (generous bound for loaded machines).
    pub async fn wait_done(&self, id: &str) -> Value {
        for _ in 0..200 {
            let export = self.export(id).await;
            if export["status"] != "NotStarted" && export["status"] != "InProgress" {
                return export;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("export {id} did not finish");
    }

    /// The signed mesh link of a complete export, split into container root and query.
    pub async fn mesh(&self, id: &str) -> (String, String) {
        let export = self.wait_done(id).await;
        assert_eq!(export["status"], "Complete");
        let href = export["_links"]["mesh"]["href"].as_str().unwrap();
        let (root, query) = href.split_once('?').unwrap();
        (root.to_owned(), query.to_owned())
    }
}
