use super::page::{PageBlob, parse};
use super::*;

fn blob(name: &str, size: u64) -> PageBlob {
    PageBlob {
        name: name.to_owned(),
        encoded: false,
        size,
    }
}

#[test]
fn a_page_gives_names_sizes_and_the_next_marker() {
    let body = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://x/" ContainerName="c"><Prefix>sub/</Prefix><Marker /><MaxResults>2</MaxResults><Blobs><Blob><Name>sub/a&amp;b.glb</Name><Properties><Last-Modified>Mon</Last-Modified><Content-Length>12</Content-Length><Content-MD5 /></Properties></Blob><Blob><Name Encoded="true">sub%2Fx</Name><Properties><Content-Length>3</Content-Length></Properties></Blob><BlobPrefix><Name>sub/d/</Name></BlobPrefix></Blobs><NextMarker>opaque!</NextMarker></EnumerationResults>"#;
    let page = parse(body.as_bytes()).unwrap();
    assert_eq!(
        page.blobs,
        [
            blob("sub/a&b.glb", 12),
            PageBlob {
                name: "sub%2Fx".to_owned(),
                encoded: true,
                size: 3
            }
        ]
    );
    assert_eq!(page.next_marker.as_deref(), Some("opaque!"));
}

#[test]
fn the_last_page_has_an_empty_next_marker() {
    for next in ["<NextMarker />", "<NextMarker></NextMarker>", ""] {
        let body = format!("<EnumerationResults><Blobs /><Marker/>{next}</EnumerationResults>");
        let page = parse(body.as_bytes()).unwrap();
        assert_eq!(page, Page::default(), "{next}");
    }
}

#[test]
fn an_answer_that_is_not_a_listing_is_refused_not_taken_for_an_empty_one() {
    for body in [
        "<html><body>Sign in</body></html>",
        "<Error><Code>AuthenticationFailed</Code></Error>",
        "{\"value\": []}",
        "",
        "<EnumerationResults><Blobs><Blob><Name>a</Name></Blob></Blobs></EnumerationResults>",
    ] {
        assert!(parse(body.as_bytes()).is_err(), "{body}");
    }
}

#[test]
fn names_become_paths_under_the_prefix_or_are_unusable() {
    let listing = Listing::from_blobs(
        vec![
            blob("sub/tileset.json", 1),
            blob("sub/tiles/0.glb", 2),
            blob("sub/../x.glb", 1),
            blob("sub/a\\b.glb", 1),
            blob("sub/NUL.glb", 1),
            blob("sub/manifest.json", 1),
            blob("sub/dir/", 0),
            blob("sub/tiles/0.glb", 2),
            PageBlob {
                name: "sub/e.glb".to_owned(),
                encoded: true,
                size: 1,
            },
        ],
        "sub/",
    );
    let paths: Vec<&str> = listing.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["tiles/0.glb", "tileset.json"]);
    assert_eq!(listing.unusable, 7);
    let entry = TilePath::parse("tileset.json").unwrap();
    assert_eq!(listing.files[listing.find(&entry).unwrap()].size, 1);
}

#[test]
fn only_content_its_name_types_without_a_case_twin_is_fetched_before_the_walk_names_it() {
    let listing = Listing::from_blobs(
        [
            "t.json",
            "a.glb",
            "b.GLB",
            "B.glb",
            "c.bin",
            "x.subtree",
            "d",
            "D/e.png",
            "f/g.png",
        ]
        .into_iter()
        .map(|n| blob(n, 1))
        .collect(),
        "",
    );
    let prefetched: Vec<&str> = (listing.files.iter())
        .filter(|f| f.prefetch)
        .map(|f| f.path.as_str())
        .collect();
    // A `.bin` may be a glTF's buffer or a subtree's, which the walk reads for its
    // availability: fetched as the first, it would be fetched again as the second.
    assert_eq!(prefetched, ["a.glb", "f/g.png"]);
}

#[test]
fn the_listing_url_is_the_container_above_the_root_with_its_prefix() {
    let tileset =
        TilesetUrl::from_root_href("https://h.example/c/sub%20dir/e?sv=1&sig=S%2B").unwrap();
    let (url, prefix) = tileset.listing_page(0, None, 5000).unwrap();
    assert_eq!(
        url.as_str(),
        "https://h.example/c/sub%20dir/e?sv=1&sig=S%2B&restype=container&comp=list&maxresults=5000"
    );
    assert_eq!(prefix, "");
    let (url, prefix) = tileset.listing_page(2, Some("m/1 2"), 10).unwrap();
    assert_eq!(
        url.as_str(),
        "https://h.example/c?sv=1&sig=S%2B&restype=container&comp=list&prefix=sub+dir%2Fe%2F&marker=m%2F1+2&maxresults=10"
    );
    assert_eq!(prefix, "sub dir/e/");
    assert!(
        tileset.listing_page(3, None, 10).is_none(),
        "no container above the host"
    );
}
