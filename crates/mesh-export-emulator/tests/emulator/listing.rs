//! The container listing behind `_links.mesh` (`restype=container&comp=list`), in Azure's
//! List Blobs shape: every file, paged by `marker` / `NextMarker`, and the SAS `l` permission.

use std::collections::BTreeSet;
use std::time::Duration;

use mesh_export_emulator::Emulator;

use super::xml::{self, Element};
use mesh_export_test_support::emulator::{Api, http};

/// `{root}?{query}&{extra}`: a listing request through the signed link.
fn listing_url(root: &str, query: &str, extra: &str) -> String {
    format!("{root}?restype=container&comp=list&{query}{extra}")
}

async fn get(url: &str) -> (u16, String, Element) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    (status, content_type, xml::parse(&body))
}

fn names(listing: &Element) -> Vec<String> {
    listing
        .child("Blobs")
        .unwrap()
        .children
        .iter()
        .map(|b| b.text_of("Name").unwrap().to_owned())
        .collect()
}

async fn complete_export(emulator: &Emulator) -> (String, String) {
    let api = Api::new(emulator).await;
    let id = api.start("m").await;
    api.mesh(&id).await
}

#[tokio::test]
async fn the_container_lists_every_file_of_the_tileset() {
    let emulator = Emulator::builder()
        .export_duration(Duration::ZERO)
        .tiles(6)
        .start()
        .await
        .unwrap();
    let (root, query) = complete_export(&emulator).await;
    assert!(query.contains("sp=rl"), "{query}");
    let (status, content_type, listing) = get(&listing_url(&root, &query, "")).await;
    assert_eq!((status, content_type.as_str()), (200, "application/xml"));
    assert_eq!(listing.name, "EnumerationResults");
    assert_eq!(
        listing.attribute_names(),
        ["ContainerName", "ServiceEndpoint"]
    );
    assert_eq!(
        listing.child_names(),
        ["Prefix", "Marker", "MaxResults", "Blobs", "NextMarker"]
    );
    assert_eq!(listing.text_of("MaxResults"), Some("5000"));
    assert_eq!(listing.text_of("NextMarker"), Some(""));
    let listed = names(&listing);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "names in byte order");
    assert_eq!(
        listed.len(),
        2 + 6,
        "two tilesets and six tiles: {listed:?}"
    );
    for blob in &listing.child("Blobs").unwrap().children {
        assert_eq!(blob.child_names(), ["Name", "Properties"]);
        let name = blob.text_of("Name").unwrap();
        let properties = blob.child("Properties").unwrap();
        let file = http()
            .get(format!("{root}/{name}?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(file.status(), 200, "{name}");
        let media_type = file.headers()["content-type"].to_str().unwrap().to_owned();
        let bytes = file.bytes().await.unwrap();
        assert_eq!(
            properties.text_of("Content-Length"),
            Some(bytes.len().to_string().as_str()),
            "{name}"
        );
        assert_eq!(
            properties.text_of("Content-Type"),
            Some(media_type.as_str())
        );
        assert_eq!(properties.text_of("BlobType"), Some("BlockBlob"));
    }
}

#[tokio::test]
async fn listing_pages_follow_next_marker_and_prefix_filters() {
    let emulator = Emulator::builder()
        .export_duration(Duration::ZERO)
        .tiles(8)
        .start()
        .await
        .unwrap();
    let (root, query) = complete_export(&emulator).await;
    let (_, _, whole) = get(&listing_url(&root, &query, "")).await;
    let all = names(&whole);
    let mut paged = Vec::new();
    let mut marker = String::new();
    let mut pages = 0;
    loop {
        let extra = format!("&maxresults=3&marker={marker}");
        let (status, _, page) = get(&listing_url(&root, &query, &extra)).await;
        assert_eq!(status, 200);
        assert_eq!(page.text_of("MaxResults"), Some("3"));
        let got = names(&page);
        assert!(got.len() <= 3);
        paged.extend(got);
        pages += 1;
        marker = page.text_of("NextMarker").unwrap().to_owned();
        if marker.is_empty() {
            break;
        }
    }
    assert_eq!(paged, all);
    assert_eq!(pages, all.len().div_ceil(3));
    let (_, _, external) = get(&listing_url(&root, &query, "&prefix=external/")).await;
    assert_eq!(external.text_of("Prefix"), Some("external/"));
    let expected: BTreeSet<String> = all
        .iter()
        .filter(|n| n.starts_with("external/"))
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        names(&external).into_iter().collect::<BTreeSet<_>>(),
        expected
    );
    for bad in ["&maxresults=0", "&maxresults=many"] {
        let (status, _, error) = get(&listing_url(&root, &query, bad)).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(error.name, "Error");
    }
}

#[tokio::test]
async fn listing_needs_the_list_permission_and_a_valid_signature() {
    let read_only = Emulator::builder()
        .export_duration(Duration::ZERO)
        .sas_permissions("r")
        .start()
        .await
        .unwrap();
    let (root, query) = complete_export(&read_only).await;
    assert!(query.contains("sp=r&"), "{query}");
    let (status, _, error) = get(&listing_url(&root, &query, "")).await;
    assert_eq!(status, 403);
    assert_eq!(
        error.text_of("Code"),
        Some("AuthorizationPermissionMismatch")
    );
    // The same link still reads files.
    let file = http()
        .get(format!("{root}/tileset.json?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);

    let emulator = Emulator::builder()
        .export_duration(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let (root, query) = complete_export(&emulator).await;
    // Granting itself `l` breaks a read-only signature; so does any other change.
    let forged = query.replace("sig=", "sig=0");
    let (status, _, error) = get(&listing_url(&root, &forged, "")).await;
    assert_eq!(status, 403);
    assert_eq!(error.text_of("Code"), Some("AuthenticationFailed"));
}
