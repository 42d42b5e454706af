//! The run-time deprecation warning: once per client (clones included), unless silenced.

use std::time::Duration;

use mesh_export::{DeprecationWarnings, StartExport};
use mesh_export_emulator::Emulator;
use mesh_export_test_support::emulator::builder;
use mesh_export_test_support::logs::LogCapture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deprecated_operation_warns_once_per_client_unless_silenced() {
    let logs = LogCapture::start();
    logs.scope(warns_once_per_client(&logs)).await;
}

#[allow(deprecated)]
async fn warns_once_per_client(logs: &LogCapture) {
    let emulator = Emulator::builder()
        .export_duration(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let note = mesh_export_client::deprecated_operation("get_export")
        .unwrap()
        .note;

    let silent = builder(&emulator)
        .deprecation_warnings(DeprecationWarnings::Silent)
        .build()
        .unwrap();
    let export = silent
        .start_export(StartExport {
            i_model_id: "imodel-dep".into(),
            changeset_id: None,
            export_type: None,
            geometry_options: None,
            view_definition_filter: None,
        })
        .await
        .unwrap();
    silent.get_export(&export.id).await.unwrap();
    assert_eq!(logs.text().matches(note).count(), 0, "silenced");

    let client = builder(&emulator).build().unwrap();
    let other = builder(&emulator).build().unwrap();
    client.get_export(&export.id).await.unwrap();
    client.clone().get_export(&export.id).await.unwrap();
    client.list_page(&Default::default()).await.unwrap();
    let text = logs.text();
    assert_eq!(text.matches(note).count(), 1, "{text}");
    // Another client has its own notices.
    other.get_export(&export.id).await.unwrap();
    let text = logs.text();
    assert_eq!(text.matches(note).count(), 2, "{text}");
    let line = text.lines().find(|l| l.contains(note)).unwrap();
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("replacement=\"get-exports\"") || line.contains("replacement=get-exports"),
        "{line}"
    );
    emulator.shutdown().await;
}
