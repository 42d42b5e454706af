//! A corpus of small tilesets in every form the downloader reads, each served beside files it
//! does not name: a valid one is fetched exactly (every file it names, byte-identical, and
//! nothing else), an invalid one ends incomplete with a failure that names the bad file.

mod invalid;
mod valid;

use std::collections::{BTreeMap, BTreeSet};

use mesh_export_test_support::blobs::{BlobStore, ROOT};
use serde_json::{Value, json};
use tiles3d_download::TilesetUrl;

use crate::download::named::json_bytes;

/// Files by their path under the container root.
type Files = BTreeMap<String, Vec<u8>>;

/// A tileset of `version` whose root tile is `root`, with the top-level `extra` members.
fn tileset(version: &str, root: Value, extra: Value) -> Vec<u8> {
    let mut tileset = json!({"asset": {"version": version}, "geometricError": 10, "root": root});
    if let (Some(tileset), Some(extra)) = (tileset.as_object_mut(), extra.as_object()) {
        tileset.extend(extra.clone());
    }
    json_bytes(&tileset)
}

/// A tile of `content` URIs (one is `content`, more are 1.1 `contents`) and `children`.
fn tile(contents: &[&str], children: Vec<Value>) -> Value {
    let mut tile = json!({
        "geometricError": 1,
        "refine": "ADD",
        "boundingVolume": {"box": [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]},
    });
    match contents {
        [] => {}
        [one] => tile["content"] = json!({"uri": one}),
        many => tile["contents"] = many.iter().map(|uri| json!({"uri": uri})).collect(),
    }
    if !children.is_empty() {
        tile["children"] = Value::Array(children);
    }
    tile
}

/// Serves `named` and `unnamed` together; returns the store and the tileset's URL.
async fn serve(named: &Files, unnamed: &Files) -> (BlobStore, TilesetUrl) {
    let mut all: Files = named.clone();
    for (path, bytes) in unnamed {
        assert!(all.insert(path.clone(), bytes.clone()).is_none(), "{path}");
    }
    let store = BlobStore::start(all.into_iter().collect()).await;
    let url = TilesetUrl::from_root_href(&store.href()).unwrap();
    (store, url)
}

/// Every path under the root the store was asked for.
fn fetched(store: &BlobStore) -> BTreeSet<String> {
    store
        .seen()
        .iter()
        .filter_map(|seen| seen.path.strip_prefix(ROOT).map(str::to_owned))
        .collect()
}
