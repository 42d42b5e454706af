//! Entry names and tileset names that try to leave the output directory in every encoding,
//! Windows names and case collisions: refused, and nothing lands outside the directory.

use std::path::Path;

use bytes::Bytes;
use mesh_export_test_support::glb::glb_of;
use tiles3d_download::{
    DownloadError, Manifest, NameError, RefusalReason, TilesetUrl, TilesetUrlError,
};

use super::server::{Hostile, Reply, downloader, tileset_naming};

/// Every file and directory under `dir`, for "nothing outside" checks.
fn everything_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            out.extend(
                everything_under(&entry.path())
                    .into_iter()
                    .map(|rest| format!("{name}/{rest}")),
            );
            out.push(format!("{name}/"));
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

#[test]
fn entry_names_that_are_not_portable_are_refused_in_every_encoding() {
    for (href, why) in [
        ("http://h/c/..%2F..%2Fx.json?sig=1", NameError::Separator),
        ("http://h/c/..%2f..%2fx.json?sig=1", NameError::Separator),
        ("http://h/c/..%5C..%5Cx.json?sig=1", NameError::Separator),
        ("http://h/c/%2E%2E%2Fx.json?sig=1", NameError::Separator),
        (
            "http://h/c/..%252F..%252Fx.json?sig=1",
            NameError::DoubleEncoded,
        ),
        ("http://h/c/C%3Aevil.json?sig=1", NameError::Colon),
        ("http://h/c/a%3A%3A%24DATA.json", NameError::Colon),
        (
            "http://h/c/NUL.json?sig=1",
            NameError::ReservedDevice("NUL".into()),
        ),
        (
            "http://h/c/com1.json?sig=1",
            NameError::ReservedDevice("COM1".into()),
        ),
        (
            "http://h/c/x%00.json?sig=1",
            NameError::ForbiddenCharacter('\0'),
        ),
        ("http://h/c/Manifest.json?sig=1", NameError::Reserved),
        ("http://h/c/manifest.json?sig=1", NameError::Reserved),
    ] {
        assert_eq!(
            TilesetUrl::parse(href),
            Err(TilesetUrlError::UnsafeEntryName(why)),
            "{href}"
        );
    }
    assert_eq!(
        TilesetUrl::parse("http://h/c/my%20tiles.json?sig=1")
            .unwrap()
            .entry()
            .as_str(),
        "my tiles.json"
    );
}

#[tokio::test]
async fn hostile_names_in_a_tileset_are_refused_and_nothing_lands_outside_the_directory() {
    let hostile_uris = [
        "a%2F..%2F..%2Fx.glb",
        "%2E%2E/x.glb",
        "%2e%2E/x.glb",
        "..%5Cx.glb",
        "%252F..%252Fx.glb",
        "C%3Aevil.dll",
        "a/C:x",
        "NUL.glb",
        "CON",
        "lpt%C2%B9.glb",
        "x.glb.",
        "x%20",
        "a%3Cb%3E.glb",
        "Manifest.json",
        // `manifeſt.json`: a long s folds to s (and NTFS upper-cases it to S).
        "manife%C5%BFt.json",
        ".mesh-export-journal.jsonl",
        "A.glb",
        "Sub/b.glb",
        // `café.glb` decomposed: APFS and HFS+ store it as the precomposed one below.
        "cafe%CC%81.glb",
        // Windows 8.3 short-name shapes, which NTFS may resolve to `manifest.json` or to
        // another tile.
        "MANIFE~1.JSO",
        "LONGNA~1.GLB",
        // A zero-width non-joiner, which HFS+ ignores: `a.glb` there.
        "a%E2%80%8C.glb",
    ];
    let mut uris: Vec<&str> = vec!["a.glb", "sub/a.glb", "caf%C3%A9.glb"];
    uris.extend(hostile_uris);
    let tileset = tileset_naming(&uris);
    let server = Hostile::start(move |request, _| {
        if request.path.ends_with("/tileset.json") {
            Reply::Full(tileset.clone())
        } else {
            Reply::Full(Bytes::from(glb_of(1, 100)))
        }
    })
    .await;
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("a/b/out");
    let url = TilesetUrl::from_root_href(&server.url("/c/export?sig=1")).unwrap();

    let err = downloader(&out).download(&url).await.unwrap_err();

    let DownloadError::Incomplete { failures, summary } = &err else {
        panic!("{err}")
    };
    assert!(failures.is_empty(), "{failures:?}");
    let refused: Vec<&str> = summary.refused.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(refused, hostile_uris, "each hostile name is refused");
    let reason_of = |uri: &str| {
        summary
            .refused
            .iter()
            .find(|r| r.uri == uri)
            .unwrap()
            .reason
            .clone()
    };
    assert_eq!(
        reason_of("C%3Aevil.dll"),
        RefusalReason::NotPortable(NameError::Colon)
    );
    assert_eq!(
        reason_of("a/C:x"),
        RefusalReason::NotPortable(NameError::Colon)
    );
    assert!(matches!(
        reason_of("lpt%C2%B9.glb"),
        RefusalReason::NotPortable(NameError::ReservedDevice(_))
    ));
    assert_eq!(reason_of("Manifest.json"), RefusalReason::ReservedName);
    assert_eq!(reason_of("manife%C5%BFt.json"), RefusalReason::ReservedName);
    assert_eq!(
        reason_of("MANIFE~1.JSO"),
        RefusalReason::NotPortable(NameError::ShortName("MANIFE~1.JSO".into()))
    );
    assert_eq!(
        reason_of("a%E2%80%8C.glb"),
        RefusalReason::NotPortable(NameError::ForbiddenCharacter('\u{200C}'))
    );
    assert_eq!(
        reason_of("cafe%CC%81.glb"),
        RefusalReason::CaseCollision("caf\u{e9}.glb".into())
    );
    assert_eq!(
        reason_of("A.glb"),
        RefusalReason::CaseCollision("a.glb".into())
    );
    assert_eq!(
        reason_of("Sub/b.glb"),
        RefusalReason::CaseCollision("sub".into())
    );
    // Nothing outside `out`, and inside it exactly the followed files.
    assert_eq!(
        everything_under(parent.path()),
        [
            "a/",
            "a/b/",
            "a/b/out/",
            "a/b/out/a.glb",
            "a/b/out/caf\u{e9}.glb",
            "a/b/out/manifest.json",
            "a/b/out/sub/",
            "a/b/out/sub/a.glb",
            "a/b/out/tileset.json",
        ]
    );
    let manifest = Manifest::read(&out).unwrap().unwrap();
    assert!(!manifest.complete);
    assert_eq!(manifest.missing.len(), hostile_uris.len());
    // No hostile name was even requested.
    for request in server.seen() {
        assert!(
            [
                "/c/export/tileset.json",
                "/c/export/a.glb",
                "/c/export/sub/a.glb",
                "/c/export/caf%C3%A9.glb"
            ]
            .contains(&request.path.as_str()),
            "requested {}",
            request.path
        );
    }
}
