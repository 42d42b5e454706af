//! A tileset comes from a blob store we do not control: walking any bytes must not panic, and
//! every file the resolver accepts stays under the signed root, on its host, with its signature,
//! and maps to a path inside the output directory.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mesh_export::tiles::walk::{FileKind, references};
use mesh_export::tiles::{TilePath, TilesetUrl};

const SIGNED: &str = "sv=2024&se=2030-01-01&sig=SIGNATURE";
const ROOT: &str = "https://tiles.example.com/container/export?sv=2024&se=2030-01-01&sig=SIGNATURE";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let (kind, name) = match selector % 3 {
        0 => (FileKind::Tileset, "sub/dir/tileset.json"),
        1 => (FileKind::Gltf, "sub/dir/tile.gltf"),
        _ => (FileKind::Glb, "sub/dir/tile.glb"),
    };
    let Ok(uris) = references(kind, bytes) else { return };
    let root = TilesetUrl::from_mesh_href(ROOT).expect("the root href is valid");
    let against = TilePath::parse(name).expect("the naming file's path is valid");
    let out = Path::new("/out");
    for uri in uris {
        let Ok(Some(file)) = root.resolve(&uri, &against) else { continue };
        let url = file.url();
        assert_eq!(url.host_str(), Some("tiles.example.com"), "{uri} left the host");
        assert_eq!(url.scheme(), "https");
        assert!(url.path().starts_with("/container/export/"), "{uri} escaped the root: {url}");
        // The signed query comes first; a URI's own query (`tile.glb?v=2`) may follow it.
        let query = url.query().unwrap_or_default();
        assert!(
            query == SIGNED || query.starts_with(&format!("{SIGNED}&")),
            "{uri} lost its signature: {query}"
        );
        let local = file.path().to_path_under(out);
        assert!(local.starts_with(out), "{uri} escaped the output directory: {}", local.display());
        assert!(
            local.components().all(|c| !matches!(c, std::path::Component::ParentDir)),
            "{uri} maps to {}",
            local.display()
        );
    }
});
