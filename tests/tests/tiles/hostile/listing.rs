//! Container listings from a hostile store: pages that loop or never end, more blobs than a
//! download may name, and blob names that try to leave the output directory. None of them may
//! escape it or keep the download going forever; the walk still completes the tileset.

use bytes::Bytes;
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::files_under;
use mesh_export_test_support::glb::glb_of;
use tiles3d_download::{DownloadSummary, Downloader, TilesetUrl};

use super::server::{Hostile, Reply, Request, tileset_naming};

/// A List Blobs page naming `names` (sorted here: Azure lists in name order) with `next` as
/// its `NextMarker`.
fn page(names: &[&str], next: Option<&str>) -> Reply {
    let mut names = names.to_vec();
    names.sort_unstable();
    let blobs: String = names
        .iter()
        .map(|name| {
            format!(
                "<Blob><Name>{name}</Name><Properties><Content-Length>1</Content-Length>\
                 </Properties></Blob>"
            )
        })
        .collect();
    let next = next.map_or("<NextMarker />".to_owned(), |m| {
        format!("<NextMarker>{m}</NextMarker>")
    });
    Reply::Full(Bytes::from(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ContainerName=\"c\">\
         <Blobs>{blobs}</Blobs>{next}</EnumerationResults>"
    )))
}

fn is_listing(request: &Request) -> bool {
    request.query.contains("comp=list")
}

/// A store whose tileset names `a.glb`, with `listing` answering each listing request (given
/// how many came before it); anything else is a one-byte file.
async fn store(listing: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Hostile {
    let tileset = tileset_naming(&["a.glb"]);
    let tile = Bytes::from(glb_of(1, 500));
    let listings = std::sync::atomic::AtomicUsize::new(0);
    Hostile::start(move |request, _| {
        if is_listing(request) {
            let before = listings.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return listing(request, before);
        }
        match request.path.as_str() {
            "/c/tileset.json" => Reply::Full(tileset.clone()),
            "/c/a.glb" => Reply::Full(tile.clone()),
            _ => Reply::Full(Bytes::from_static(b"x")),
        }
    })
    .await
}

async fn download(server: &Hostile, dir: &std::path::Path, max_files: u64) -> DownloadSummary {
    let url = TilesetUrl::from_root_href(&server.url("/c?sv=1&sig=s")).unwrap();
    Downloader::new(dir)
        .concurrency(4)
        .retry(quick_retries())
        .max_files(max_files)
        .listing(true, true)
        .download(&url)
        .await
        .unwrap()
}

fn listing_requests(server: &Hostile) -> usize {
    server.seen().iter().filter(|r| is_listing(r)).count()
}

#[tokio::test]
async fn a_listing_whose_next_marker_loops_is_given_up_and_the_walk_completes() {
    let server = store(|_, _| page(&["a.glb", "tileset.json"], Some("again"))).await;
    let out = tempfile::tempdir().unwrap();

    let summary = download(&server, out.path(), 1_000).await;

    assert_eq!(
        summary.listed_files, None,
        "the looping listing is not used"
    );
    assert_eq!(listing_requests(&server), 2, "given up at the first repeat");
    assert_eq!(
        files_under(out.path()),
        ["a.glb", "manifest.json", "tileset.json"]
    );
}

#[tokio::test]
async fn a_listing_of_empty_pages_without_end_is_given_up() {
    let server = store(|_, before| page(&[], Some(&format!("m{before}")))).await;
    let out = tempfile::tempdir().unwrap();

    let summary = download(&server, out.path(), 1_000).await;

    assert_eq!(summary.listed_files, None);
    let requests = listing_requests(&server);
    assert!((2..=20).contains(&requests), "{requests} listing requests");
    assert_eq!(
        files_under(out.path()),
        ["a.glb", "manifest.json", "tileset.json"]
    );
}

#[tokio::test]
async fn a_listing_of_more_blobs_than_a_download_may_name_is_given_up() {
    let names: Vec<String> = (0..500).map(|i| format!("x/{i:04}.glb")).collect();
    let server = store(move |_, before| {
        let mut page_names: Vec<&str> = names.iter().map(String::as_str).collect();
        page_names.extend(["a.glb", "tileset.json"]);
        // Every page a new batch of names, in order, for as long as it is asked.
        let marker = format!("p{before}");
        match before {
            0 => page(&page_names, Some(&marker)),
            _ => page(&[], None),
        }
    })
    .await;
    let out = tempfile::tempdir().unwrap();

    let summary = download(&server, out.path(), 100).await;

    assert_eq!(
        summary.listed_files, None,
        "past max_files the listing is not used"
    );
    assert!(
        !server.seen().iter().any(|r| r.path.starts_with("/c/x/")),
        "none of the listed files was fetched"
    );
    assert_eq!(
        files_under(out.path()),
        ["a.glb", "manifest.json", "tileset.json"]
    );
}

#[tokio::test]
async fn hostile_blob_names_are_never_fetched_nor_written_outside_the_directory() {
    let hostile = [
        "../escape.glb",
        "a/../../escape.glb",
        "./escape.glb",
        "back\\..\\..\\escape.glb",
        "/abs/escape.glb",
        "C:escape.glb",
        "NUL.glb",
        "con/aux.glb",
        "trailing.glb.",
        "manifest.json",
        "dir//escape.glb",
        // Percent escapes in a name are refused as double encoding, as in a tileset's URIs.
        "..%2Fescape.glb",
        "sub%2F..%2F..%2Fescape.glb",
        "a%5C..%5Cescape.glb",
    ];
    let server = store(move |_, _| {
        let mut names = vec!["a.glb", "tileset.json", "ok/extra.bin"];
        names.extend(hostile);
        page(&names, None)
    })
    .await;
    let base = tempfile::tempdir().unwrap();
    let out = base.path().join("out");

    let summary = download(&server, &out, 1_000).await;

    assert_eq!(summary.listed_files, Some(17));
    assert_eq!(summary.unnamed_files, 15);
    assert_eq!(
        summary.mirrored_files, 1,
        "only the portable name is a file"
    );
    assert_eq!(
        files_under(base.path()),
        [
            "out/a.glb",
            "out/manifest.json",
            "out/ok/extra.bin",
            "out/tileset.json"
        ],
        "nothing outside the directory, nothing under a hostile name"
    );
    for request in server.seen() {
        let path = &request.path;
        assert!(
            !path.contains("escape"),
            "a hostile name was fetched: {path}"
        );
    }
}

#[tokio::test]
async fn a_store_that_fails_to_list_is_asked_three_times_then_walked() {
    let server = store(|_, _| Reply::Status(503)).await;
    let out = tempfile::tempdir().unwrap();

    let summary = download(&server, out.path(), 1_000).await;

    assert_eq!(summary.listed_files, None);
    assert_eq!(
        listing_requests(&server),
        3,
        "a few retries, not a file's budget"
    );
    assert_eq!(
        files_under(out.path()),
        ["a.glb", "manifest.json", "tileset.json"]
    );
}

#[tokio::test]
async fn a_listing_of_ever_longer_names_is_given_up_before_it_fills_memory() {
    // Each page one blob with a name of 1 MiB, in name order, each with a new marker: without
    // a bound on the names held, 200 pages would hold 200 MiB.
    let server = store(|_, before| {
        let name = format!("{before:04}{}", "n".repeat(1 << 20));
        let next = (before < 200).then(|| format!("m{before}"));
        page(&[&name], next.as_deref())
    })
    .await;
    let out = tempfile::tempdir().unwrap();

    let summary = download(&server, out.path(), 1_000_000).await;

    assert_eq!(summary.listed_files, None, "the listing was given up");
    assert!(
        listing_requests(&server) < 100,
        "{} pages read",
        listing_requests(&server)
    );
    assert!(out.path().join("a.glb").exists(), "the walk completes");
}
