//! The container listing against the emulator's blob store (Azure's List Blobs on a signed
//! link with `l`): a download that lists ends as the walk alone would, a link that cannot list
//! falls back to the walk, a file the tileset names that the listing lacks is reported, and
//! files the tileset does not name are counted and mirrored on request.

use std::path::Path;

use mesh_export_emulator::{Emulator, EmulatorBuilder};
use mesh_export_test_support::emulator::{Api, quick, quick_retries};
use mesh_export_test_support::files::files_under;
use mesh_export_test_support::glb::glb_of;
use tiles3d_download::{
    DownloadError, DownloadSummary, Downloader, FileError, MANIFEST_FILE, Manifest, TilesetUrl,
};

/// An emulator serving a tileset of 12 small tiles (with an external child tileset).
fn emulator() -> EmulatorBuilder {
    quick().tiles(12).tile_bytes(3_000)
}

/// The signed mesh link of a complete export of `emulator`.
async fn mesh_link(emulator: &Emulator) -> TilesetUrl {
    let api = Api::new(emulator).await;
    let id = api.start("imodel-listing").await;
    let (root, query) = api.mesh(&id).await;
    TilesetUrl::from_root_href(&format!("{root}?{query}")).unwrap()
}

fn downloader(dir: &Path, use_listing: bool, all_files: bool) -> Downloader {
    Downloader::new(dir)
        .concurrency(4)
        .retry(quick_retries())
        .listing(use_listing, all_files)
}

/// Every file under `dir` with its bytes, by path.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(dir.join(&path)).unwrap();
            (path, bytes)
        })
        .collect()
}

async fn download(
    tileset: &TilesetUrl,
    dir: &Path,
    use_listing: bool,
    all_files: bool,
) -> DownloadSummary {
    downloader(dir, use_listing, all_files)
        .download(tileset)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_download_that_lists_the_container_ends_as_the_walk_alone_does() {
    let emulator = emulator().start().await.unwrap();
    let tileset = mesh_link(&emulator).await;
    let (listed, walked) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let with_listing = download(&tileset, listed.path(), true, false).await;
    let walk_alone = download(&tileset, walked.path(), false, false).await;

    let files = files_under(walked.path()).len() as u64 - 1;
    assert_eq!(
        with_listing.listed_files,
        Some(files),
        "the container was listed, every file of it"
    );
    assert_eq!(walk_alone.listed_files, None);
    assert_eq!(with_listing.unnamed_files, 0);
    assert_eq!(
        contents(listed.path()),
        contents(walked.path()),
        "the same files, byte for byte (the manifest among them)"
    );
    assert_eq!(
        Manifest::read(listed.path()).unwrap(),
        Manifest::read(walked.path()).unwrap()
    );
    assert_eq!(
        (with_listing.files, with_listing.bytes),
        (walk_alone.files, walk_alone.bytes)
    );
}

#[tokio::test]
async fn a_link_that_cannot_list_falls_back_to_the_walk_and_completes() {
    let emulator = emulator().sas_permissions("r").start().await.unwrap();
    let tileset = mesh_link(&emulator).await;
    let (out, walked) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let summary = download(&tileset, out.path(), true, true).await;
    download(&tileset, walked.path(), false, false).await;

    assert_eq!(summary.listed_files, None, "the listing was refused");
    assert_eq!((summary.unnamed_files, summary.mirrored_files), (0, 0));
    assert_eq!(contents(out.path()), contents(walked.path()));
}

#[tokio::test]
async fn a_file_the_tileset_names_that_the_listing_lacks_fails_by_name() {
    let emulator = emulator()
        .unlisted_blob("tiles/2.glb")
        .start()
        .await
        .unwrap();
    let tileset = mesh_link(&emulator).await;
    let out = tempfile::tempdir().unwrap();

    let err = downloader(out.path(), true, false)
        .download(&tileset)
        .await
        .unwrap_err();

    let DownloadError::Incomplete { failures, summary } = err else {
        panic!("expected an incomplete download, got {err}");
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.as_str(), "tiles/2.glb");
    assert_eq!(failures[0].error, FileError::NotListed);
    assert!(summary.listed_files.is_some());
    assert!(
        !out.path().join("tiles/2.glb").exists(),
        "a file the listing lacks is reported, not fetched"
    );
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(!manifest.complete);
    assert_eq!(manifest.missing[0].what, "tiles/2.glb");
}

/// An emulator whose containers hold two blobs the tileset does not name: a tile (fetched on
/// the listing's word, as content) and a text file (left to the end).
fn with_extra_blobs() -> EmulatorBuilder {
    emulator()
        .extra_blob("old/7.glb", glb_of(7, 2_000))
        .extra_blob("notes/readme.txt", b"not part of the tileset".to_vec())
}

#[tokio::test]
async fn files_the_tileset_does_not_name_are_counted_and_left_out() {
    let emulator = with_extra_blobs().start().await.unwrap();
    let tileset = mesh_link(&emulator).await;
    let (out, walked) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let summary = download(&tileset, out.path(), true, false).await;
    download(&tileset, walked.path(), false, false).await;

    assert_eq!(summary.unnamed_files, 2);
    assert_eq!(summary.mirrored_files, 0);
    assert_eq!(
        contents(out.path()),
        contents(walked.path()),
        "nothing the tileset does not name stays, not even a prefetched tile"
    );
    assert!(
        !out.path().join("old").exists(),
        "the folder of a removed prefetch goes with it"
    );
}

#[tokio::test]
async fn progress_ends_at_the_files_kept_not_the_prefetched_ones_removed() {
    let emulator = with_extra_blobs().start().await.unwrap();
    let tileset = mesh_link(&emulator).await;
    let out = tempfile::tempdir().unwrap();
    let downloader = downloader(out.path(), true, false);
    let progress = downloader.progress();

    let summary = downloader.download(&tileset).await.unwrap();

    let last = progress.borrow().clone();
    assert_eq!(summary.unnamed_files, 2);
    assert_eq!(last.files_done, summary.files, "{last:?}");
    assert_eq!(last.files_total_known, summary.files, "{last:?}");
    assert_eq!(last.bytes_done, summary.bytes, "{last:?}");
}

#[tokio::test]
async fn all_files_mirrors_the_files_the_tileset_does_not_name() {
    let emulator = with_extra_blobs().start().await.unwrap();
    let tileset = mesh_link(&emulator).await;
    let (out, walked) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let summary = download(&tileset, out.path(), true, true).await;
    let walk_alone = download(&tileset, walked.path(), false, false).await;

    assert_eq!((summary.unnamed_files, summary.mirrored_files), (2, 2));
    assert_eq!(summary.files, walk_alone.files + 2);
    assert_eq!(
        std::fs::read(out.path().join("old/7.glb")).unwrap(),
        glb_of(7, 2_000)
    );
    assert_eq!(
        std::fs::read(out.path().join("notes/readme.txt")).unwrap(),
        b"not part of the tileset"
    );
    let mut expected = files_under(walked.path());
    expected.extend(["notes/readme.txt".to_owned(), "old/7.glb".to_owned()]);
    expected.sort();
    assert_eq!(files_under(out.path()), expected);
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(manifest.complete);
    let recorded: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert!(recorded.contains(&"old/7.glb") && recorded.contains(&"notes/readme.txt"));
    assert!(!recorded.contains(&MANIFEST_FILE));
}

#[tokio::test]
async fn a_file_of_the_users_where_an_unnamed_blob_is_listed_is_left_as_it_was() {
    let emulator = with_extra_blobs().start().await.unwrap();
    let tileset = mesh_link(&emulator).await;
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out.path().join("old")).unwrap();
    std::fs::write(out.path().join("old/7.glb"), b"the user's own file").unwrap();

    let summary = download(&tileset, out.path(), true, false).await;

    assert_eq!(summary.unnamed_files, 2);
    assert_eq!(
        std::fs::read(out.path().join("old/7.glb")).unwrap(),
        b"the user's own file",
        "a file the download does not name is neither replaced nor removed"
    );
}
