//! The tileset downloader against the emulator's signed blob container.

use mesh_export::tiles::{DownloadExport as _, ExportTileset as _};
use std::path::Path;
use std::time::Duration;

use mesh_export::tiles::{DownloadError, Downloader, FileError, Manifest, TilesetUrl};
use mesh_export::{
    Client, ClientCredentials, Export, ExportType, RetryOptions, StartExport, WaitOptions,
};
use mesh_export_emulator::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, EmulatorBuilder, ImplicitScheme,
};
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::files_under;

const IMODEL: &str = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc";

fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .tiles(24)
        .tile_bytes(20_000)
        .export_duration(Duration::from_millis(100))
}

/// A `Complete` export of the emulator, through the extension crate's client.
async fn complete_export(emulator: &Emulator) -> Export {
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .client_credentials(
            ClientCredentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
                .token_url(emulator.token_url()),
        )
        .retry(RetryOptions {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            ..RetryOptions::default()
        })
        .build()
        .unwrap();
    let request = StartExport {
        i_model_id: IMODEL.into(),
        changeset_id: None,
        export_type: Some(ExportType::X3dTiles),
        geometry_options: None,
        view_definition_filter: None,
    };
    let export = client.get_or_start_export(request).await.unwrap();
    let wait = WaitOptions::default().interval(Duration::from_millis(50));
    client
        .wait_for_export(IMODEL, &export.id, wait)
        .await
        .unwrap()
}

/// Asserts `dir` holds exactly what the emulator serves for `export`, byte for byte.
fn assert_identical_to_emulator(emulator: &Emulator, export: &Export, dir: &Path) {
    assert_identical_to_emulator_but(emulator, export, dir, &[]);
}

/// Asserts `dir` holds exactly what the emulator serves for `export` but the files `missing`,
/// byte for byte.
fn assert_identical_to_emulator_but(
    emulator: &Emulator,
    export: &Export,
    dir: &Path,
    missing: &[&str],
) {
    let expected = tempfile::tempdir().unwrap();
    let count =
        mesh_export_emulator::dump_tileset(emulator.config(), &export.id, expected.path()).unwrap();
    let mut expected_files = files_under(expected.path());
    assert_eq!(expected_files.len(), count);
    expected_files.retain(|p| !missing.contains(&p.as_str()));
    assert_eq!(expected_files.len(), count - missing.len(), "{missing:?}");
    let mut got: Vec<String> = files_under(dir);
    got.retain(|p| p != "manifest.json");
    assert_eq!(got, expected_files);
    for rel in &expected_files {
        let want = std::fs::read(expected.path().join(rel)).unwrap();
        let have = std::fs::read(dir.join(rel)).unwrap();
        assert!(want == have, "{rel} differs from what the emulator serves");
    }
}

#[tokio::test]
async fn downloads_an_emulator_export_byte_identical() {
    let emulator = emulator().start().await.unwrap();
    let export = complete_export(&emulator).await;
    let tileset = TilesetUrl::from_export(&export).unwrap();
    let out = tempfile::tempdir().unwrap();

    let summary = Downloader::new(out.path())
        .download(&tileset)
        .await
        .unwrap();

    assert_identical_to_emulator(&emulator, &export, out.path());
    assert!(summary.refused.is_empty());
    assert!(summary.files > 24, "tiles, tilesets: {}", summary.files);
    let again = Downloader::new(out.path())
        .download(&tileset)
        .await
        .unwrap();
    assert_eq!(again.skipped, summary.files, "a second run fetches nothing");
}

#[tokio::test]
async fn injected_faults_during_the_download_end_with_every_file_byte_identical() {
    let emulator = emulator().fault_rate(0.2).seed(11).start().await.unwrap();
    let export = complete_export(&emulator).await;
    let tileset = TilesetUrl::from_export(&export).unwrap();
    let out = tempfile::tempdir().unwrap();
    let faults_before = emulator.stats().faults_injected;

    let summary = Downloader::new(out.path())
        .retry(RetryOptions {
            max_attempts: 10,
            ..quick_retries()
        })
        .download(&tileset)
        .await
        .unwrap();

    assert!(
        emulator.stats().faults_injected > faults_before,
        "faults were injected"
    );
    assert!(summary.retries > 0);
    assert_identical_to_emulator(&emulator, &export, out.path());
}

#[tokio::test]
async fn an_expired_emulator_signature_is_reported_clearly() {
    let emulator = emulator()
        .sas_ttl(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let export = complete_export(&emulator).await;
    let tileset = TilesetUrl::from_export(&export).unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let out = tempfile::tempdir().unwrap();

    let err = Downloader::new(out.path())
        .download(&tileset)
        .await
        .unwrap_err();

    assert!(
        matches!(err, DownloadError::SignatureRejected { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("signature has expired"), "{err}");
    let sig = tileset.tileset_json().query().unwrap().to_owned();
    assert!(!err.to_string().contains(&sig) && !format!("{err:?}").contains(&sig));
}

/// The extension crate's client for the emulator, with the demo credentials.
fn client_for(emulator: &Emulator) -> Client {
    Client::builder()
        .base_url(emulator.mesh_export_url())
        .client_credentials(
            ClientCredentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
                .token_url(emulator.token_url()),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_export_whose_signature_expired_is_re_signed_through_get_exports_and_completes() {
    let emulator = emulator()
        .sas_ttl(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let export = complete_export(&emulator).await;
    // The link the export came with has expired before the download starts.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let out = tempfile::tempdir().unwrap();

    let summary = Downloader::new(out.path())
        .retry(quick_retries())
        .download_export(&client_for(&emulator), IMODEL, &export)
        .await
        .unwrap();

    assert!(summary.resigns >= 1, "{summary:?}");
    assert_identical_to_emulator(&emulator, &export, out.path());
    let manifest = mesh_export::tiles::Manifest::read(out.path())
        .unwrap()
        .unwrap();
    assert!(manifest.complete);
}

#[tokio::test]
async fn a_signature_that_is_never_accepted_ends_with_signature_rejected_after_the_budget() {
    // Every link the emulator hands out is expired already.
    let emulator = emulator().sas_ttl(Duration::ZERO).start().await.unwrap();
    let export = complete_export(&emulator).await;
    let out = tempfile::tempdir().unwrap();

    let err = Downloader::new(out.path())
        .retry(quick_retries())
        .download_export(&client_for(&emulator), IMODEL, &export)
        .await
        .unwrap_err();

    assert!(
        matches!(err, DownloadError::SignatureRejected { status: 403, .. }),
        "{err}"
    );
}

/// Downloads an export of an emulator serving an implicit tileset of `scheme` and checks it
/// is complete, byte-identical, and that nothing but its files (and the container's listing)
/// was requested, each once.
async fn downloads_implicit(scheme: ImplicitScheme) {
    let emulator = emulator()
        .tile_bytes(2_000)
        .implicit(scheme)
        .start()
        .await
        .unwrap();
    let export = complete_export(&emulator).await;
    let tileset = TilesetUrl::from_export(&export).unwrap();
    let out = tempfile::tempdir().unwrap();
    let before = emulator.stats().blob_requests;

    let summary = Downloader::new(out.path())
        .download(&tileset)
        .await
        .unwrap();

    assert_identical_to_emulator(&emulator, &export, out.path());
    let subtrees = files_under(out.path())
        .iter()
        .filter(|p| p.ends_with(".subtree"))
        .count();
    assert!(subtrees > 5, "{scheme:?}: {subtrees} subtrees");
    assert!(summary.files > 40, "{scheme:?}: {} files", summary.files);
    assert_eq!(
        summary.listed_files,
        Some(summary.files),
        "{scheme:?}: the container was listed, and holds only the tileset"
    );
    assert_eq!(
        emulator.stats().blob_requests - before,
        summary.files + 1,
        "{scheme:?}: one request per available file and one for the listing, none for \
         anything else (nothing fetched twice on the listing's word)"
    );
    assert!(Manifest::read(out.path()).unwrap().unwrap().complete);
}

#[tokio::test]
async fn downloads_an_implicit_quadtree_export_complete_and_byte_identical() {
    downloads_implicit(ImplicitScheme::Quadtree).await;
}

#[tokio::test]
async fn downloads_an_implicit_octree_export_complete_and_byte_identical() {
    downloads_implicit(ImplicitScheme::Octree).await;
}

/// Downloads an export whose store refuses the files `forbidden` whatever the signature and
/// serves the rest, one file at a time (so that files always start after each refusal and can
/// tell a refused path from a refused signature), and checks that each forbidden file fails
/// alone as forbidden, every other file is kept byte-identical with a manifest that says the
/// download is incomplete, and the whole download read the export again through get-exports
/// at most once, whatever the number of forbidden files.
async fn forbidden_blobs_fail_alone_after_one_get_exports_call(forbidden: &[&str]) {
    let emulator = forbidden
        .iter()
        .fold(emulator(), |builder, path| builder.forbid_blob(*path))
        .start()
        .await
        .unwrap();
    let export = complete_export(&emulator).await;
    let listed_before = emulator.stats().exports_listed;
    let out = tempfile::tempdir().unwrap();

    let err = Downloader::new(out.path())
        .concurrency(1)
        .retry(quick_retries())
        .download_export(&client_for(&emulator), IMODEL, &export)
        .await
        .unwrap_err();

    let listed = emulator.stats().exports_listed - listed_before;
    let DownloadError::Incomplete { failures, summary } = err else {
        panic!("expected an incomplete download, got {err}");
    };
    let failed: Vec<(&str, &FileError)> = failures
        .iter()
        .map(|f| (f.path.as_str(), &f.error))
        .collect();
    let expected: Vec<(&str, &FileError)> = forbidden
        .iter()
        .map(|path| (*path, &FileError::Forbidden { status: 403 }))
        .collect();
    assert_eq!(failed, expected);
    assert!(
        listed <= 1,
        "{listed} get-exports calls for {} forbidden files",
        forbidden.len()
    );
    assert_eq!(summary.resigns, listed, "one call per fresh link");
    assert_identical_to_emulator_but(&emulator, &export, out.path(), forbidden);
    let manifest = Manifest::read(out.path()).unwrap().expect("a manifest");
    assert!(!manifest.complete);
    let missing: Vec<&str> = manifest.missing.iter().map(|g| g.what.as_str()).collect();
    assert_eq!(missing, forbidden);
}

#[tokio::test]
async fn one_forbidden_blob_of_an_export_fails_alone_after_at_most_one_get_exports_call() {
    forbidden_blobs_fail_alone_after_one_get_exports_call(&["tiles/1.glb"]).await;
}

#[tokio::test]
async fn two_forbidden_blobs_of_an_export_cost_at_most_one_get_exports_call_in_all() {
    forbidden_blobs_fail_alone_after_one_get_exports_call(&["tiles/3.glb", "tiles/9.glb"]).await;
}
