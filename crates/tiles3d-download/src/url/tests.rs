use super::segments::valid_segment;
use super::*;

#[test]
fn printing_hides_credentials_in_the_authority_and_signatures_in_the_path() {
    let url =
        TilesetUrl::from_root_href("https://user:TOKEN123@blobs.example/c/e?sv=1&sig=S").unwrap();
    let shown = format!("{url} {url:?}");
    assert!(!shown.contains("TOKEN123"), "{shown}");
    let url = TilesetUrl::from_root_href("https://blobs.example/c/e;sig=SECRET1?sv=1").unwrap();
    let shown = format!("{url} {url:?}");
    assert!(!shown.contains("SECRET1"), "{shown}");
    let file = url
        .resolve("t.glb", &TilePath::parse("tileset.json").unwrap())
        .unwrap()
        .unwrap();
    assert!(!format!("{file:?}").contains("SECRET1"));
}

#[test]
fn a_refused_uri_is_reported_without_its_signature() {
    let url = TilesetUrl::from_root_href("https://h/c/e?sv=1&sig=OURS").unwrap();
    let against = TilePath::parse("tileset.json").unwrap();
    for uri in [
        "https://h/c/other/x.glb?sv=1&sig=SECRET3",
        "https://cdn.example/x.glb?sv=1&sig=SECRET3",
        "NUL.glb?X-Amz-Signature=SECRET3",
        "ftp://h/x?Signature=SECRET3",
    ] {
        let refused = url.resolve(uri, &against).unwrap_err();
        let shown = format!("{refused} {refused:?}");
        assert!(!shown.contains("SECRET3"), "{shown}");
    }
}

#[test]
fn a_refused_uri_of_a_megabyte_is_quoted_capped() {
    let url = TilesetUrl::from_root_href("https://h/c/e?sv=1&sig=OURS").unwrap();
    let against = TilePath::parse("tileset.json").unwrap();
    let uri = format!("ftp://h/{}.glb", "x".repeat(1 << 20));
    let refused = url.resolve(&uri, &against).unwrap_err();
    assert!(refused.uri.len() < 1024, "{} bytes", refused.uri.len());
    assert!(refused.uri.ends_with("more characters)"), "{}", refused.uri);
}

const HREF: &str = "https://blobs.example/container/export-1?sv=2024&sig=SECRET";

fn url() -> TilesetUrl {
    TilesetUrl::from_root_href(HREF).unwrap()
}

fn root() -> TilePath {
    TilePath::parse("tileset.json").unwrap()
}

fn resolve(uri: &str, against: &str) -> Result<Option<TileFile>, Refused> {
    url().resolve(uri, &TilePath::parse(against).unwrap())
}

fn resolved(uri: &str, against: &str) -> (String, String) {
    let file = resolve(uri, against).unwrap().unwrap();
    (file.path().to_string(), file.url().to_string())
}

fn reason(uri: &str, against: &str) -> RefusalReason {
    resolve(uri, against).unwrap_err().reason
}

#[test]
fn tileset_json_splits_at_the_query_and_reappends_it() {
    assert_eq!(
        url().tileset_json().as_str(),
        "https://blobs.example/container/export-1/tileset.json?sv=2024&sig=SECRET"
    );
    let trailing = TilesetUrl::from_root_href("https://h/c/e/?sig=S").unwrap();
    assert_eq!(
        trailing.tileset_json().as_str(),
        "https://h/c/e/tileset.json?sig=S"
    );
    let unsigned = TilesetUrl::from_root_href("http://h/c").unwrap();
    assert_eq!(unsigned.tileset_json().as_str(), "http://h/c/tileset.json");
    assert!(!unsigned.is_signed());
    assert!(url().is_signed());
}

#[test]
fn urls_shown_to_people_keep_where_they_point_and_lose_secrets() {
    assert_eq!(
        url().to_string(),
        "https://blobs.example/container/export-1/?REDACTED"
    );
    let file = url().file_at(TilePath::parse("a/b.glb").unwrap(), None);
    assert_eq!(
        format!("{file:?}"),
        "TileFile { path: \"a/b.glb\", url: \"https://blobs.example/container/export-1/a/b.glb?REDACTED\" }"
    );
    let tricky =
        Url::parse("https://user:pw@h.example/c;sig=SECRET1/t.json?sig=SECRET2#frag").unwrap();
    // A signature may hold `/` (base64), so its value runs to the end of the path.
    assert_eq!(
        redacted(&tricky),
        "https://h.example/c;sig=REDACTED?REDACTED"
    );
    let plain = Url::parse("https://h.example/c/t.json").unwrap();
    assert_eq!(redacted(&plain), "https://h.example/c/t.json");
    assert_eq!(
        format!("{:?}", TilePath::parse("a/b.glb").unwrap()),
        "TilePath(\"a/b.glb\")"
    );
}

#[test]
fn a_segment_with_a_control_character_or_a_separator_is_not_valid() {
    for bad in ["", ".", "..", "a\u{1}b", "a\u{7f}", "a/b", "a\\b"] {
        assert!(!valid_segment(bad), "{bad:?}");
    }
    assert!(valid_segment("a b.glb"));
}

#[test]
fn escapes_are_decoded_and_a_truncated_or_invalid_one_is_kept() {
    assert_eq!(percent_decode("a%2E%2e"), "a..");
    assert_eq!(percent_decode("caf%C3%A9"), "café");
    for kept in ["a%2", "a%", "%", "%zz", "100%"] {
        assert_eq!(percent_decode(kept), kept);
    }
    // Bytes that are not UTF-8 leave the text as it was.
    assert_eq!(percent_decode("a%FF"), "a%FF");
}

#[test]
fn an_empty_query_is_no_signature() {
    let url = TilesetUrl::from_root_href("https://h/c/e?").unwrap();
    assert!(!url.is_signed());
    assert_eq!(url.tileset_json().as_str(), "https://h/c/e/tileset.json");
}

#[test]
fn a_tileset_json_url_has_its_directory_as_root() {
    let u = TilesetUrl::parse("https://h/c/e/root.json?sig=S").unwrap();
    assert_eq!(u.entry().as_str(), "root.json");
    assert_eq!(u.root_unsigned().as_str(), "https://h/c/e/");
    assert_eq!(u.tileset_json().as_str(), "https://h/c/e/root.json?sig=S");
    let href = TilesetUrl::parse(HREF).unwrap();
    assert_eq!(href.entry().as_str(), "tileset.json");
}

#[test]
fn rejects_non_http_hrefs() {
    assert!(matches!(
        TilesetUrl::from_root_href("ftp://h/c?x"),
        Err(TilesetUrlError::Scheme(_))
    ));
    assert!(matches!(
        TilesetUrl::from_root_href("not a url"),
        Err(TilesetUrlError::Invalid(_))
    ));
}

#[test]
fn relative_uris_resolve_against_the_naming_file_and_keep_the_signature() {
    assert_eq!(
        resolved("tiles/0.glb", "tileset.json"),
        (
            "tiles/0.glb".into(),
            "https://blobs.example/container/export-1/tiles/0.glb?sv=2024&sig=SECRET".into()
        )
    );
    assert_eq!(resolved("0.glb", "sub/child.json").0, "sub/0.glb");
    assert_eq!(resolved("./a/./b.glb", "sub/child.json").0, "sub/a/b.glb");
    assert_eq!(resolved("../shared/t.png", "sub/m.gltf").0, "shared/t.png");
    assert_eq!(resolved("a//b.glb", "tileset.json").0, "a/b.glb");
}

#[test]
fn percent_encoded_names_are_decoded_for_disk_and_reencoded_for_the_request() {
    let (path, url) = resolved("my%20tile.glb", "tileset.json");
    assert_eq!(path, "my tile.glb");
    assert!(url.contains("/my%20tile.glb?sv=2024&sig=SECRET"), "{url}");
}

#[test]
fn the_uris_own_query_follows_the_signature_and_the_fragment_is_dropped() {
    let (path, url) = resolved("t.glb?v=2#frag", "tileset.json");
    assert_eq!(path, "t.glb");
    assert!(url.ends_with("/t.glb?sv=2024&sig=SECRET&v=2"), "{url}");
}

#[test]
fn same_origin_absolute_urls_under_the_root_become_relative() {
    let (path, url) = resolved(
        "https://blobs.example/container/export-1/a/b.glb?v=1",
        "tileset.json",
    );
    assert_eq!(path, "a/b.glb");
    assert!(url.ends_with("/a/b.glb?sv=2024&sig=SECRET&v=1"), "{url}");
}

#[test]
fn the_signed_query_wins_over_the_uris_own_parameters_of_the_same_name() {
    // The URI's `sig` and `sv` never replace or repeat ours; its other parameters are kept
    // after ours, in their order.
    let (_, url) = resolved(
        "https://blobs.example/container/export-1/a/b.glb?sig=OTHER&z=1&sv=1999&a=2",
        "tileset.json",
    );
    assert!(
        url.ends_with("/a/b.glb?sv=2024&sig=SECRET&z=1&a=2"),
        "{url}"
    );
    let (_, url) = resolved("t.glb?%73ig=SNEAKY&v=2", "tileset.json");
    assert!(url.ends_with("/t.glb?sv=2024&sig=SECRET&v=2"), "{url}");
    let unsigned = TilesetUrl::from_root_href("https://h/c").unwrap();
    let file = unsigned.resolve("t.glb?v=2", &root()).unwrap().unwrap();
    assert!(file.url().as_str().ends_with("/t.glb?v=2"));
}

#[test]
fn data_uris_have_nothing_to_fetch() {
    assert_eq!(
        resolve("data:application/octet-stream;base64,AAAA", "m.gltf"),
        Ok(None)
    );
    assert_eq!(resolve("DATA:image/png;base64,AAAA", "m.gltf"), Ok(None));
}

#[test]
fn a_multibyte_character_near_the_start_is_not_a_panic() {
    // Found by the `tileset_walk` fuzz target: the `data:` check sliced inside a character.
    assert!(matches!(resolve("data\u{21e}x.glb", "t.json"), Ok(Some(_))));
    assert_eq!(
        reason("dat\u{e9}:x", "t.json"),
        RefusalReason::NotPortable(NameError::Colon)
    );
}

#[test]
fn traversal_beyond_the_root_is_refused() {
    assert_eq!(
        reason("../x.glb", "tileset.json"),
        RefusalReason::EscapesRoot
    );
    assert_eq!(
        reason("sub/../../x.glb", "tileset.json"),
        RefusalReason::EscapesRoot
    );
    assert_eq!(
        reason("../../x.glb", "sub/child.json"),
        RefusalReason::EscapesRoot
    );
    assert_eq!(
        reason(
            "https://blobs.example/container/other/x.glb",
            "tileset.json"
        ),
        RefusalReason::EscapesRoot
    );
    assert_eq!(
        reason(
            "https://blobs.example/container/export-1/../other/x.glb",
            "tileset.json"
        ),
        RefusalReason::EscapesRoot
    );
}

#[test]
fn absolute_paths_are_refused() {
    assert_eq!(
        reason("/etc/passwd", "tileset.json"),
        RefusalReason::AbsolutePath
    );
    assert_eq!(
        reason("/container/export-1/x.glb", "tileset.json"),
        RefusalReason::AbsolutePath
    );
}

#[test]
fn encoded_traversal_and_separators_are_refused() {
    for uri in [
        "%2e%2e/x.glb",
        "%2E%2E/x.glb",
        ".%2e/x.glb",
        "a%2f..%2f..%2fx",
        "a%5cb.glb",
        "%2e",
    ] {
        assert_eq!(
            reason(uri, "tileset.json"),
            RefusalReason::EncodedTraversal,
            "{uri}"
        );
    }
}

#[test]
fn backslashes_and_control_characters_are_refused() {
    assert_eq!(
        reason("..\\x.glb", "tileset.json"),
        RefusalReason::InvalidCharacter
    );
    assert_eq!(
        reason("a\u{0}.glb", "tileset.json"),
        RefusalReason::InvalidCharacter
    );
    assert_eq!(
        reason("a%00.glb", "tileset.json"),
        RefusalReason::InvalidCharacter
    );
}

#[test]
fn other_hosts_ports_and_schemes_are_refused() {
    assert!(matches!(
        reason("https://evil.example/x.glb", "tileset.json"),
        RefusalReason::OtherHost(h) if h == "evil.example"
    ));
    assert!(matches!(
        reason(
            "https://blobs.example:8443/container/export-1/x.glb",
            "tileset.json"
        ),
        RefusalReason::OtherHost(_)
    ));
    assert!(matches!(
        reason(
            "http://blobs.example/container/export-1/x.glb",
            "tileset.json"
        ),
        RefusalReason::OtherHost(_)
    ));
    assert!(matches!(
        reason("//evil.example/x.glb", "tileset.json"),
        RefusalReason::OtherHost(_)
    ));
    assert!(matches!(
        reason("file:///etc/passwd", "tileset.json"),
        RefusalReason::OtherScheme(s) if s == "file"
    ));
}

#[test]
fn directories_empty_uris_and_reserved_names_are_refused() {
    assert_eq!(reason("tiles/", "tileset.json"), RefusalReason::NotAFile);
    assert_eq!(reason("..", "sub/child.json"), RefusalReason::NotAFile);
    assert_eq!(reason("  ", "tileset.json"), RefusalReason::Empty);
    assert_eq!(
        reason("manifest.json", "tileset.json"),
        RefusalReason::ReservedName
    );
    // Only the root one is ours.
    assert_eq!(
        resolved("manifest.json", "sub/child.json").0,
        "sub/manifest.json"
    );
}

#[test]
fn nothing_printed_shows_the_signature() {
    let u = url();
    let file = u.resolve("a.glb", &root()).unwrap().unwrap();
    let refused = u.resolve("../a.glb", &root()).unwrap_err();
    for text in [
        format!("{u}"),
        format!("{u:?}"),
        format!("{file:?}"),
        format!("{refused}"),
        format!("{refused:?}"),
    ] {
        assert!(!text.contains("SECRET"), "{text}");
    }
    assert!(format!("{u:?}").contains(REDACTED));
}

#[test]
fn a_package_href_is_refused_at_once_as_a_package_not_walked_as_a_folder() {
    for href in [
        "https://blobs.example/c/export-1/model.3tz?sv=1&sig=SECRET",
        "https://blobs.example/c/export-1/City.3DTILES?sv=1&sig=SECRET",
        "https://blobs.example/c/export-1/model%2E3tz?sv=1&sig=SECRET",
    ] {
        for parsed in [
            TilesetUrl::parse(href),
            TilesetUrl::from_root_href(href),
            TilesetUrl::from_tileset_json_url(href),
        ] {
            let error = parsed.unwrap_err();
            assert!(
                matches!(&error, TilesetUrlError::Package(_)),
                "{href}: {error:?}"
            );
            let message = error.to_string();
            assert!(message.contains("packages are not walked"), "{message}");
            assert!(
                !message.contains("SECRET") && !message.contains("run again"),
                "{message}"
            );
        }
    }
    // A folder whose name merely contains the extension is a folder.
    assert!(TilesetUrl::parse("https://blobs.example/c/model.3tz.d?sig=1").is_ok());
}

const ENTRY_BELOW: &str = "https://blobs.example/c/export/sub/dir/tileset.json?sv=1&sig=SECRET";

fn with_root(root: &str) -> Result<TilesetUrl, TilesetUrlError> {
    TilesetUrl::with_root(ENTRY_BELOW, root)
}

#[test]
fn a_root_above_the_entry_names_files_by_their_path_under_it() {
    for root in [
        "https://blobs.example/c/export/",
        "https://blobs.example/c/export",
    ] {
        let url = with_root(root).unwrap();
        assert_eq!(url.entry().as_str(), "sub/dir/tileset.json");
        assert_eq!(
            url.root_unsigned().as_str(),
            "https://blobs.example/c/export/"
        );
        assert_eq!(
            url.tileset_json().as_str(),
            "https://blobs.example/c/export/sub/dir/tileset.json?sv=1&sig=SECRET"
        );
        let schema = url
            .resolve("../../schemas/x.json", url.entry())
            .unwrap()
            .unwrap();
        assert_eq!(schema.path().as_str(), "schemas/x.json");
        assert_eq!(
            schema.url().as_str(),
            "https://blobs.example/c/export/schemas/x.json?sv=1&sig=SECRET"
        );
        let beside = url.resolve("t.glb", url.entry()).unwrap().unwrap();
        assert_eq!(beside.path().as_str(), "sub/dir/t.glb");
    }
}

#[test]
fn above_the_given_root_is_still_refused() {
    let url = with_root("https://blobs.example/c/export/").unwrap();
    for uri in [
        "../../../x.json",
        "https://blobs.example/c/other/x.json",
        "//blobs.example/c/x.json",
    ] {
        let refused = url.resolve(uri, url.entry()).unwrap_err();
        assert!(
            matches!(refused.reason, RefusalReason::EscapesRoot),
            "{uri}: {refused}"
        );
    }
    let absolute = url
        .resolve("https://blobs.example/c/export/schemas/y.json", url.entry())
        .unwrap()
        .unwrap();
    assert_eq!(absolute.path().as_str(), "schemas/y.json");
}

#[test]
fn a_root_that_is_the_entrys_own_folder_or_a_folder_href_is_taken_as_well() {
    let url = with_root("https://blobs.example/c/export/sub/dir/").unwrap();
    assert_eq!(url.entry().as_str(), "tileset.json");
    let folder = TilesetUrl::with_root(
        "https://blobs.example/c/export/sub?sig=S",
        "https://blobs.example/c/",
    )
    .unwrap();
    assert_eq!(folder.entry().as_str(), "export/sub/tileset.json");
    // Escapes are compared decoded.
    let encoded = TilesetUrl::with_root(
        "https://blobs.example/c/a%20b/tileset.json?sig=S",
        "https://blobs.example/c/a b/",
    )
    .unwrap();
    assert_eq!(encoded.entry().as_str(), "tileset.json");
}

#[test]
fn a_root_not_above_the_entry_is_refused_clearly() {
    for root in [
        "https://blobs.example/c/other/",
        "https://blobs.example/c/export/sub/dir/deeper/",
        "https://blobs.example/c/exp",
    ] {
        let err = with_root(root).unwrap_err();
        assert!(
            matches!(err, TilesetUrlError::RootNotAbove { .. }),
            "{root}: {err}"
        );
        let shown = err.to_string();
        assert!(shown.contains("not a folder above"), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}

#[test]
fn a_root_on_another_origin_or_with_a_query_is_refused_clearly() {
    for root in [
        "https://cdn.example/c/",
        "http://blobs.example/c/",
        "https://blobs.example:8443/c/",
    ] {
        let err = with_root(root).unwrap_err();
        assert!(
            matches!(err, TilesetUrlError::RootOtherOrigin { .. }),
            "{root}: {err}"
        );
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
    assert!(with_root("https://blobs.example:443/c/").is_ok());
    let err = with_root("https://blobs.example/c/?sig=OTHER").unwrap_err();
    assert_eq!(err, TilesetUrlError::RootHasQuery);
    assert!(err.to_string().contains("must not have a query"), "{err}");
    assert!(matches!(
        with_root("ftp://blobs.example/c/"),
        Err(TilesetUrlError::Scheme(_))
    ));
}

#[test]
fn an_entry_under_a_root_still_names_a_safe_file() {
    let err = TilesetUrl::with_root(
        "https://blobs.example/c/manifest.json?sig=S",
        "https://blobs.example/c/",
    )
    .unwrap_err();
    assert!(matches!(err, TilesetUrlError::UnsafeEntryName(_)), "{err}");
    let err = TilesetUrl::with_root(
        "https://blobs.example/c/NUL/tileset.json?sig=S",
        "https://blobs.example/",
    )
    .unwrap_err();
    assert!(matches!(err, TilesetUrlError::UnsafeEntryName(_)), "{err}");
}
