//! Listing, waiting and get-or-start against the emulator.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::TryStreamExt;
use mesh_export::{Error, ExportFilter, ExportStatus, ExportType, StartExport, WaitOptions};
use mesh_export_emulator::Emulator;
use mesh_export_test_support::emulator::builder;

fn request(i_model_id: &str, export_type: ExportType) -> StartExport {
    StartExport {
        i_model_id: i_model_id.into(),
        changeset_id: None,
        export_type: Some(export_type),
        geometry_options: None,
        view_definition_filter: None,
    }
}

#[tokio::test]
async fn the_export_stream_follows_next_links_across_many_pages() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = builder(&emulator).build().unwrap();
    let mut started = HashSet::new();
    for i in 0..11 {
        let export = client
            .start_export(request(&format!("imodel-{i}"), ExportType::X3dTiles))
            .await
            .unwrap();
        started.insert(export.id);
    }
    let first = client
        .list_page(&ExportFilter::new().page_size(2))
        .await
        .unwrap();
    assert_eq!(first.exports.len(), 2);
    assert!(first.links.next.is_some());

    let listed: Vec<_> = client
        .exports(ExportFilter::new().page_size(2))
        .try_collect()
        .await
        .unwrap();
    let ids: HashSet<_> = listed.iter().map(|e| e.id.clone()).collect();
    assert_eq!(listed.len(), 11, "each export once");
    assert_eq!(ids, started);
    // Items are in full (return=representation): they carry the request.
    assert!(listed.iter().all(|e| e.request.is_some()));
    emulator.shutdown().await;
}

#[tokio::test]
async fn waiting_follows_the_lifecycle_to_complete() {
    let emulator = Emulator::builder()
        .export_duration(Duration::from_millis(1500))
        .start()
        .await
        .unwrap();
    let client = builder(&emulator).build().unwrap();
    let export = client
        .start_export(request("imodel-wait", ExportType::X3dTiles))
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let options = WaitOptions::default()
        .interval(Duration::from_millis(100))
        .timeout(Duration::from_secs(20))
        .on_status(move |e| record.lock().unwrap().push(e.status.clone()));
    let done = client
        .wait_for_export("imodel-wait", &export.id, options)
        .await
        .unwrap();
    assert_eq!(done.status, ExportStatus::Complete);
    assert!(
        done.links.and_then(|l| l.mesh).is_some(),
        "a complete export links its mesh"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&ExportStatus::Complete));
    assert!(seen.contains(&ExportStatus::InProgress), "{seen:?}");
    // Each change reported once.
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn waiting_ends_with_the_export_error_when_it_turns_invalid() {
    let emulator = Emulator::builder()
        .export_duration(Duration::from_millis(300))
        .fail_imodel("imodel-broken")
        .start()
        .await
        .unwrap();
    let client = builder(&emulator).build().unwrap();
    let export = client
        .start_export(request("imodel-broken", ExportType::X3dTiles))
        .await
        .unwrap();
    let options = WaitOptions::default()
        .interval(Duration::from_millis(100))
        .timeout(Duration::from_secs(20));
    let error = client
        .wait_for_export("imodel-broken", &export.id, options)
        .await
        .unwrap_err();
    let listed = client
        .find_export("imodel-broken", &export.id)
        .await
        .unwrap();
    assert_eq!(listed.status, ExportStatus::Invalid);
    match error {
        Error::ExportFailed { export_id, message } => {
            assert_eq!(export_id, export.id);
            assert_eq!(Some(message), listed.error, "the export's own error text");
        }
        other => panic!("expected ExportFailed, got {other:?}"),
    }
    emulator.shutdown().await;
}

/// An emulator whose exports take a minute, and one export of `imodel-slow` just started.
async fn slow_export() -> (Emulator, mesh_export::Client, mesh_export::Export) {
    let emulator = Emulator::builder()
        .export_duration(Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let client = builder(&emulator).build().unwrap();
    let export = client
        .start_export(request("imodel-slow", ExportType::X3dTiles))
        .await
        .unwrap();
    (emulator, client, export)
}

#[tokio::test]
async fn waiting_times_out_with_the_last_status() {
    let (emulator, client, export) = slow_export().await;
    let options = WaitOptions::default()
        .interval(Duration::from_millis(100))
        .timeout(Duration::from_millis(500));
    let error = client
        .wait_for_export("imodel-slow", &export.id, options)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::WaitTimeout {
                last_status: ExportStatus::NotStarted,
                ..
            }
        ),
        "{error:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn get_or_start_starts_one_export_for_concurrent_callers_and_reuses_it() {
    let emulator = Emulator::builder()
        .export_duration(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let client = builder(&emulator).build().unwrap();
    let calls = (0..8).map(|_| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .get_or_start_export(request("imodel-shared", ExportType::X3dTiles))
                .await
        })
    });
    let ids: HashSet<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap().id)
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(emulator.stats().exports_started, 1);
    let id = ids.into_iter().next().unwrap();

    client
        .wait_for_export(
            "imodel-shared",
            &id,
            WaitOptions::default().interval(Duration::from_millis(100)),
        )
        .await
        .unwrap();
    // Complete now; the service's other spelling of the type finds the same export.
    let again = client
        .get_or_start_export(request("imodel-shared", ExportType::X3dtiles))
        .await
        .unwrap();
    assert_eq!(again.id, id);
    assert_eq!(again.status, ExportStatus::Complete);
    // Another type is another export.
    let cesium = client
        .get_or_start_export(request("imodel-shared", ExportType::Cesium))
        .await
        .unwrap();
    assert_ne!(cesium.id, id);
    assert_eq!(emulator.stats().exports_started, 2);
    emulator.shutdown().await;
}

#[tokio::test]
async fn delete_removes_a_complete_export() {
    let emulator = Emulator::builder()
        .export_duration(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let client = builder(&emulator).build().unwrap();
    let export = client
        .start_export(request("imodel-del", ExportType::X3dTiles))
        .await
        .unwrap();
    client.delete_export(&export.id).await.unwrap();
    let error = client
        .find_export("imodel-del", &export.id)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ExportNotFound { .. }), "{error:?}");
    let error = client.delete_export(&export.id).await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.code(), Some("ExportNotFound"));
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_itwinjs_filter_sends_a_version_and_a_tile_format() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = builder(&emulator).build().unwrap();
    let export = client
        .start_export(request("imodel-itwinjs", ExportType::Imodel))
        .await
        .unwrap();
    let ids = |page: mesh_export::types::ExportsPage| -> Vec<String> {
        page.exports.into_iter().map(|e| e.id).collect()
    };
    let filter = ExportFilter::new().i_model_id("imodel-itwinjs");
    let compatible = client
        .list_page(&filter.clone().tile_version(36).itwinjs("4.10.2"))
        .await
        .unwrap();
    let self_href = &compatible.links.self_.href;
    assert!(self_href.contains("iTwinJS=4.10.2"), "{self_href}");
    assert!(self_href.contains("tileVersion=36"), "{self_href}");
    assert_eq!(ids(compatible), [export.id]);
    let other_format = client
        .list_page(&filter.clone().tile_version(35))
        .await
        .unwrap();
    assert!(ids(other_format).is_empty());
    let too_old = client
        .list_page(&filter.clone().itwinjs("3.8.0"))
        .await
        .unwrap();
    assert!(ids(too_old).is_empty());
    let error = client
        .list_page(&filter.itwinjs("latest"))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(422), "{error}");
}

#[tokio::test]
async fn next_page_reads_the_page_its_link_names_and_ends_on_the_last() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = builder(&emulator).build().unwrap();
    for i in 0..3 {
        client
            .start_export(request(&format!("imodel-{i}"), ExportType::X3dTiles))
            .await
            .unwrap();
    }
    let first = client
        .list_page(&ExportFilter::new().page_size(2))
        .await
        .unwrap();
    let second = client
        .next_page(&first)
        .await
        .unwrap()
        .expect("a second page");
    assert_eq!((first.exports.len(), second.exports.len()), (2, 1));
    assert!(
        first
            .exports
            .iter()
            .all(|a| second.exports.iter().all(|b| a.id != b.id))
    );
    assert!(client.next_page(&second).await.unwrap().is_none());
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_type_filter_keeps_only_exports_of_that_type() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = builder(&emulator).build().unwrap();
    let tiles = client
        .start_export(request("imodel-1", ExportType::X3dTiles))
        .await
        .unwrap();
    let cesium = client
        .start_export(request("imodel-1", ExportType::Cesium))
        .await
        .unwrap();

    let filter = ExportFilter::new().export_type(ExportType::Cesium);
    let page = client.list_page(&filter).await.unwrap();

    let ids: Vec<&str> = page.exports.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [cesium.id.as_str()], "not {}", tiles.id);
    assert!(!filter.matches(&tiles) && filter.matches(&cesium));
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_filter_sends_each_of_its_query_parameters() {
    let query = Arc::new(Mutex::new(String::new()));
    let record = query.clone();
    let router = axum::Router::new().route(
        "/mesh-export/",
        axum::routing::get(
            move |axum::extract::RawQuery(raw): axum::extract::RawQuery| {
                let record = record.clone();
                async move {
                    *record.lock().unwrap() = raw.unwrap_or_default();
                    axum::Json(mesh_export_test_support::servers::empty_page(
                        "http://127.0.0.1/mesh-export",
                    ))
                }
            },
        ),
    );
    let base = mesh_export_test_support::servers::serve(router).await;
    let client =
        mesh_export_test_support::servers::client_for(&base, mesh_export::RetryOptions::none());
    let filter = ExportFilter::new()
        .i_model_id("model-1")
        .changeset_id("change-2")
        .order_by(mesh_export::types::ExportOrderBy::DateAsc)
        .page_size(7)
        .cdn(true)
        .tile_version(36)
        .itwinjs("4.10.2")
        .export_type(ExportType::X3dTiles);

    client.list_page(&filter).await.unwrap();
    let latest = query.clone();

    let query = query.lock().unwrap().clone();
    let pairs: HashSet<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    for (name, value) in [
        ("iModelId", "model-1"),
        ("changesetId", "change-2"),
        ("$orderBy", "date:asc"),
        ("$top", "7"),
        ("cdn", "1"),
        ("tileVersion", "36"),
        ("iTwinJS", "4.10.2"),
        ("exportType", "3DTiles"),
        ("client", "mesh-export"),
        ("clientVersion", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(
            pairs.contains(&(name.to_owned(), value.to_owned())),
            "{name}={value} missing from {query}"
        );
    }

    // An application names itself in place of the library.
    client
        .list_page(&ExportFilter::new().client("viewer", "2.1"))
        .await
        .unwrap();
    let query = latest.lock().unwrap().clone();
    assert!(query.contains("client=viewer&clientVersion=2.1"), "{query}");
}

#[tokio::test]
async fn waiting_for_an_export_that_does_not_exist_fails_at_once_with_not_found() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = builder(&emulator).build().unwrap();
    let options = WaitOptions::default()
        .interval(Duration::from_millis(50))
        .timeout(Duration::from_secs(30));

    let error = client
        .wait_for_export("imodel-1", "no-such-export", options)
        .await
        .unwrap_err();

    // Not retried until the timeout: a 404 is an answer, not a hiccup.
    assert!(matches!(error, Error::ExportNotFound { .. }), "{error:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_wait_that_would_end_past_the_timeout_is_not_started() {
    let (emulator, client, export) = slow_export().await;
    // The next poll would come after the timeout: the wait ends after the first poll instead
    // of sleeping until the deadline.
    let options = WaitOptions::default()
        .interval(Duration::from_secs(600))
        .timeout(Duration::from_secs(300));
    let started = std::time::Instant::now();

    let error = client
        .wait_for_export("imodel-slow", &export.id, options)
        .await
        .unwrap_err();

    assert!(matches!(error, Error::WaitTimeout { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "it slept towards the deadline: {:?}",
        started.elapsed()
    );
    emulator.shutdown().await;
}
