//! Absurd numbers: token lifetimes, `Retry-After` hints and limits at their maximum.

use std::time::Duration;

use mesh_export::auth::TokenSource;
use mesh_export::{ClientCredentials, Error, ExportFilter, RetryOptions, WaitOptions};
use mesh_export_test_support::servers::client_for;

use super::server::{Action, json, quick, raw_server};

#[tokio::test]
async fn absurd_token_lifetimes_neither_panic_nor_fail_the_token() {
    for expires_in in [
        "1e20",
        "-5",
        "\"NaN\"",
        "\"-inf\"",
        "184467440737095516160000",
        "1e308",
        "0",
    ] {
        let body =
            format!(r#"{{"access_token":"tok","token_type":"Bearer","expires_in":{expires_in}}}"#);
        let (root, _) = raw_server(move |_, _, _| json(200, body.clone())).await;
        let credentials =
            ClientCredentials::new("id", "secret").token_url(format!("{root}/connect/token"));
        let token = tokio::spawn(async move { credentials.token().await })
            .await
            .unwrap_or_else(|_| panic!("expires_in {expires_in} panicked"))
            .unwrap_or_else(|e| panic!("expires_in {expires_in}: {e}"));
        assert_eq!(token.token.expose(), "tok");
        // Whatever the server claims, a lifetime is bounded (a day at most).
        if let Some(left) = token.remaining() {
            assert!(
                left <= Duration::from_secs(86_400),
                "{expires_in}: {left:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_retry_after_too_large_to_represent_is_a_rate_limit_not_a_missing_hint() {
    let (root, log) = raw_server(|_, _, _| {
        Action::Respond(
            429,
            vec![("retry-after", "99999999999999999999999999".into())],
            "slow down".into(),
        )
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert!(
        matches!(&error, Error::RateLimited { retry_after, .. } if *retry_after > Duration::from_secs(3600)),
        "{error:?}"
    );
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "the hint was not slept through"
    );
}

#[tokio::test]
async fn limits_at_their_maximum_do_not_overflow() {
    let (root, log) = raw_server(|_, _, _| {
        Action::Respond(
            503,
            vec![("retry-after", u64::MAX.to_string())],
            "busy".into(),
        )
    })
    .await;
    let url = format!("{root}/mesh-export");
    let limits = RetryOptions {
        max_attempts: u32::MAX,
        initial_backoff: Duration::MAX,
        max_backoff: Duration::MAX,
        max_elapsed: Duration::from_secs(3600),
        max_retry_after: Duration::MAX,
        on_wait: None,
    };
    let client = client_for(&url, limits);
    let call = tokio::spawn(async move { client.list_page(&ExportFilter::new()).await });
    let result = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("a wait past the budget ends the call")
        .expect("no overflow panic");
    assert_eq!(result.unwrap_err().status(), Some(503));
    assert_eq!(log.lock().unwrap().len(), 1);

    // An interval that cannot be added to the time waited ends the wait at its timeout.
    let client = client_for(&url, RetryOptions::none());
    let options = WaitOptions::default()
        .interval(Duration::MAX)
        .timeout(Duration::from_millis(200));
    let wait = tokio::spawn(async move { client.wait_for_export("m", "e1", options).await });
    let result = tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("the wait ends at its timeout")
        .expect("no overflow panic");
    assert!(
        matches!(result, Err(Error::WaitTimeout { .. })),
        "{result:?}"
    );
}
