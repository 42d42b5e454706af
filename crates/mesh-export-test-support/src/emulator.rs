//! Clients of the emulator: the library's client aimed at it, and a raw HTTP client for tests
//! that check the emulator's wire format itself.

use std::time::Duration;

use mesh_export::{Client, ClientBuilder, ClientCredentials, RetryOptions};
use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, EmulatorBuilder};
use serde_json::{Value, json};

/// Credentials for the emulator's demo client.
pub fn demo_credentials(emulator: &Emulator) -> ClientCredentials {
    ClientCredentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).token_url(emulator.token_url())
}

/// A builder aimed at the emulator, with quick retries.
pub fn builder(emulator: &Emulator) -> ClientBuilder {
    Client::builder()
        .base_url(emulator.mesh_export_url())
        .client_credentials(demo_credentials(emulator))
        .retry(quick_retries())
}

/// Retries with short backoff so tests stay fast, and a `Retry-After` cap of 5 s.
pub fn quick_retries() -> RetryOptions {
    RetryOptions {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(30),
        max_retry_after: Duration::from_secs(5),
        on_wait: None,
    }
}

/// An emulator whose exports finish quickly.
pub fn quick() -> EmulatorBuilder {
    Emulator::builder().export_duration(Duration::from_millis(300))
}

/// A plain `reqwest` client with a generous timeout.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A form-encoded body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A token for `id`/`secret` from the emulator's token endpoint (which must answer 200).
pub async fn token_for(emulator: &Emulator, id: &str, secret: &str) -> String {
    let response = http()
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
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

/// A token for the demo client.
pub async fn token(emulator: &Emulator) -> String {
    token_for(emulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await
}

/// A raw HTTP client of one emulator, with a token: for tests of the emulator's wire format.
pub struct Api {
    /// The service root, `http://127.0.0.1:PORT/mesh-export`.
    pub root: String,
    /// The bearer token it sends.
    pub token: String,
    /// The HTTP client.
    pub http: reqwest::Client,
}

impl Api {
    /// A client of `emulator` with a demo-client token.
    pub async fn new(emulator: &Emulator) -> Self {
        Self {
            root: emulator.mesh_export_url(),
            token: token(emulator).await,
            http: http(),
        }
    }

    /// `GET` of a path under the service root.
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

    /// `DELETE` of an export.
    pub fn delete(&self, id: &str) -> reqwest::RequestBuilder {
        self.http
            .delete(format!("{}/{id}", self.root))
            .bearer_auth(&self.token)
    }

    /// `POST /` with a raw JSON body.
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

    /// The export `id`, by get-export.
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
