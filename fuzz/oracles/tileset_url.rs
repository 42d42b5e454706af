//! A tileset URL comes from a user's command line or a service's `_links.mesh.href`: whatever
//! it holds, parsing never panics, the entry file it names and every file resolved under it
//! are portable relative paths (no `..`, no separators or `:` after decoding, no Windows device
//! names, no trailing dot or space), the root never leaves the URL's host, and a resolved
//! file's query carries the signature exactly once. A refused URI is reported without a
//! signature planted in its query, and quoted at a bounded length whatever its size.

use tiles3d_download::TilesetUrl;

use super::portable::assert_portable;

const HOST: &str = "tiles.example.com";

/// A signature planted in the query of the URI to resolve.
const PLANTED: &str = "ZZPLANTEDSIGZZ";

/// The longest a refusal may print (its URI is quoted at 512 characters, its reason names at
/// most a host or a file name).
const MAX_REFUSAL_BYTES: usize = 8 * 1024;

/// The input is `<selector byte><path and query after the host>\0<a URI to resolve>`.
pub fn check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (url_part, uri) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let (Ok(url_part), Ok(uri)) = (std::str::from_utf8(url_part), std::str::from_utf8(uri)) else {
        return;
    };
    let href = format!("https://{HOST}/{url_part}");
    let parsed = match selector % 3 {
        0 => TilesetUrl::parse(&href),
        1 => TilesetUrl::from_tileset_json_url(&href),
        _ => TilesetUrl::from_root_href(&href),
    };
    let Ok(tileset) = parsed else { return };
    let entry = tileset.entry().as_str().to_owned();
    assert_portable(&entry, &format!("entry of {href:?}"));
    let json = tileset.tileset_json();
    assert_eq!(json.host_str(), Some(HOST), "{href:?}");
    let shown = format!("{tileset} {tileset:?}");
    if let Some((_, query)) = href.split_once('?').filter(|(_, q)| !q.is_empty()) {
        let printed = format!("?{query}");
        assert!(
            !shown.contains(&printed),
            "{href:?}: the query is printed: {shown}"
        );
    }
    if uri.is_empty() {
        return;
    }
    let planted = format!("{uri}?sig={PLANTED}");
    if let Err(refused) = tileset.resolve(&planted, tileset.entry()) {
        let shown = format!("{refused} {refused:?}");
        assert!(!shown.contains(PLANTED), "{planted:?}: {shown}");
        assert!(shown.len() <= MAX_REFUSAL_BYTES, "{} bytes", shown.len());
    }
    let Ok(Some(file)) = tileset.resolve(uri, tileset.entry()) else {
        return;
    };
    assert_eq!(file.url().host_str(), Some(HOST), "{uri:?} left the host");
    assert_portable(file.path().as_str(), &format!("{uri:?} against {href:?}"));
    let signed = href
        .split_once('?')
        .map_or(0, |(_, q)| signature_parameters(q));
    if signed == 1 {
        let query = file.url().query().unwrap_or_default();
        assert_eq!(signature_parameters(query), 1, "{uri:?}: {query}");
    }
}

/// How many `sig` parameters a query has (not `xsig=` or a `sig=` inside another value).
pub fn signature_parameters(query: &str) -> usize {
    query.split('&').filter(|kv| kv.starts_with("sig=")).count()
}
