//! A tileset comes from a blob store we do not control: walking any bytes never panics, and
//! every file the resolver accepts stays under the signed root, on its host, carries the
//! signature once, and is named by portable path segments (Windows rules too).

use tiles3d::TilePath;
use tiles3d::walk::{FileKind, references};
use tiles3d_download::TilesetUrl;

use super::portable::assert_portable;
use super::tileset_url::signature_parameters;

const SIGNED: &str = "sv=2024&se=2030-01-01&sig=SIGNATURE";
const ROOT: &str = "https://tiles.example.com/container/export?sv=2024&se=2030-01-01&sig=SIGNATURE";

pub fn check(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    // The 3D Tiles 1.0 tiles and JSON under another name came later: the selectors from 0xF0
    // on, which no earlier seed starts with, so those still exercise what they did.
    let (kind, name) = match selector {
        0xF0.. if selector % 2 == 0 => (FileKind::Tile, "sub/dir/tile.cmpt"),
        0xF0.. => (FileKind::Json, "sub/dir/tile.bin"),
        _ => match selector % 3 {
            0 => (FileKind::Tileset, "sub/dir/tileset.json"),
            1 => (FileKind::Gltf, "sub/dir/tile.gltf"),
            _ => (FileKind::Glb, "sub/dir/tile.glb"),
        },
    };
    let Ok(uris) = references(kind, bytes) else {
        return;
    };
    let root = TilesetUrl::from_root_href(ROOT).expect("the root href is valid");
    let against = TilePath::parse(name).expect("the naming file's path is valid");
    for uri in uris {
        let Ok(Some(file)) = root.resolve(&uri, &against) else {
            continue;
        };
        let url = file.url();
        assert_eq!(
            url.host_str(),
            Some("tiles.example.com"),
            "{uri} left the host"
        );
        assert_eq!(url.scheme(), "https");
        assert!(
            url.path().starts_with("/container/export/"),
            "{uri} escaped the root: {url}"
        );
        let query = url.query().unwrap_or_default();
        assert!(query.contains(SIGNED), "{uri} lost its signature: {query}");
        assert_eq!(
            signature_parameters(query),
            1,
            "{uri}: the signature twice: {query}"
        );
        assert_portable(file.path().as_str(), &uri);
    }
}
