use bytes::Bytes;
use reqwest::header::HeaderMap;

use super::body::{HeldBody, SMALL_CHUNK};
use super::response::{Encoding, content_range, encoding, validator};

#[test]
fn a_body_in_tiny_chunks_is_held_in_a_few_buffers_and_keeps_no_read_alive() {
    let read = Bytes::from((0..100_000u32).map(|i| i as u8).collect::<Vec<u8>>());
    let mut held = HeldBody::default();
    for i in 0..read.len() {
        held.push(read.slice(i..i + 1));
        held.push(Bytes::new());
    }
    assert_eq!(held.len(), read.len());
    let chunks = held.take();
    assert!(
        chunks.len() <= read.len() / SMALL_CHUNK + 1,
        "{} buffers for {} bytes",
        chunks.len(),
        read.len()
    );
    assert!(read.is_unique(), "a held chunk still points into the read");
    assert_eq!(chunks.concat(), read);
    assert_eq!(held.len(), 0);
}

#[test]
fn large_chunks_are_held_as_they_came_and_small_ones_between_them_in_order() {
    let large = Bytes::from(vec![7u8; SMALL_CHUNK]);
    let mut held = HeldBody::default();
    held.push(Bytes::from_static(b"ab"));
    held.push(large.clone());
    held.push(Bytes::from_static(b"c"));
    let chunks = held.take();
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[1].as_ptr(), large.as_ptr(), "copied");
    let expected = [&b"ab"[..], &large[..], b"c"].concat();
    assert_eq!(chunks.concat(), expected);
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().unwrap());
    }
    map
}

#[test]
fn content_ranges_are_read_strictly() {
    let range = |v: &str| content_range(&headers(&[("content-range", v)]));
    assert_eq!(range("bytes 100-199/200"), Some((100, 200)));
    assert_eq!(range("bytes 100-199/*"), None);
    assert_eq!(range("bytes 100-200/200"), None);
    assert_eq!(range("bytes 5-1/200"), None);
    assert_eq!(range("items 1-2/3"), None);
}

#[test]
fn only_gzip_is_decoded_and_weak_etags_are_not_validators() {
    assert!(matches!(encoding(&headers(&[])), Encoding::Identity));
    assert!(matches!(
        encoding(&headers(&[("content-encoding", "GZIP")])),
        Encoding::Gzip
    ));
    assert!(matches!(
        encoding(&headers(&[("content-encoding", "br")])),
        Encoding::Other(e) if e == "br"
    ));
    assert_eq!(validator(&headers(&[("etag", "W/\"x\"")])), None);
    assert_eq!(
        validator(&headers(&[("etag", "\"x\"")])).as_deref(),
        Some("\"x\"")
    );
}
