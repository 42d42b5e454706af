//! The files the root `extensions` of a tileset or a glTF name, and those a tile content's
//! `extensions` name.
//!
//! Only the extensions listed in the table of the [`crate::walk`] docs are kept, each as a
//! JSON value; every other is checked and dropped as it streams by.

use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::checked::{Checked, drain_seq, ignore_other_types, seed_of_visitor};

/// Where in an extension's object the files it names are.
enum Named {
    /// A string property.
    Property(&'static str),
    /// The `uri` of each object of a list.
    ListUris(&'static [&'static str]),
    /// The `uri` of each object of a list inside each object of a list (`media[].alternatives[]`).
    NestedListUris(&'static str, &'static str),
}

/// The tileset extensions that name files.
const TILESET: &[(&str, Named)] = &[
    ("3DTILES_metadata", Named::Property("schemaUri")),
    // A draft: buffers of binary metadata beside the tileset, relative to it.
    ("3DTILES_binary_buffers", Named::ListUris(&["buffers"])),
];

/// The extensions of a tile's `content` that name files.
const CONTENT: &[(&str, Named)] = &[
    // A draft before 3DTILES_metadata: the content's feature metadata in a file of its own.
    ("3DTILES_feature_metadata", Named::Property("uri")),
];

/// The glTF extensions that name files.
const GLTF: &[(&str, Named)] = &[
    ("EXT_structural_metadata", Named::Property("schemaUri")),
    ("EXT_feature_metadata", Named::Property("schemaUri")),
    ("EXT_lights_ies", Named::ListUris(&["lights"])),
    ("KHR_lights_ies", Named::ListUris(&["lights"])),
    ("KHR_audio_emitter", Named::ListUris(&["audio"])),
    ("KHR_audio", Named::ListUris(&["audio", "sources"])),
    ("KHR_techniques_webgl", Named::ListUris(&["shaders"])),
    ("MPEG_media", Named::NestedListUris("media", "alternatives")),
];

/// The files the root `extensions` name, for each reading of the document.
#[derive(Default)]
pub(super) struct NamedByExtensions {
    /// As a tileset.
    pub(super) tileset: Vec<String>,
    /// As a glTF.
    pub(super) gltf: Vec<String>,
}

/// Reads a root `extensions` object: only the extensions that name files are kept, the
/// others are checked and dropped.
pub(super) struct ExtensionsSeed;

seed_of_visitor!(ExtensionsSeed => NamedByExtensions);

impl<'de> Visitor<'de> for ExtensionsSeed {
    type Value = NamedByExtensions;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an extensions object")
    }

    ignore_other_types!(NamedByExtensions::default());

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| NamedByExtensions::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Of a repeated extension the last counts, as with a parsed document.
        let mut tileset = Vec::new();
        let mut gltf = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let in_tileset = TILESET.iter().find(|(n, _)| *n == name);
            let in_gltf = GLTF.iter().find(|(n, _)| *n == name);
            if in_tileset.is_none() && in_gltf.is_none() {
                map.next_value::<Checked>()?;
                continue;
            }
            let value = map.next_value::<Value>()?;
            if let Some((_, named)) = in_tileset {
                tileset.retain(|(n, _)| *n != name);
                tileset.push((name.clone(), uris(&value, named)));
            }
            if let Some((_, named)) = in_gltf {
                gltf.retain(|(n, _)| *n != name);
                gltf.push((name, uris(&value, named)));
            }
        }
        let flatten = |v: Vec<(String, Vec<String>)>| v.into_iter().flat_map(|(_, u)| u).collect();
        Ok(NamedByExtensions {
            tileset: flatten(tileset),
            gltf: flatten(gltf),
        })
    }
}

/// The files the extensions of a tile's `content` object name, in table order.
pub(super) fn content_uris(content: &Value) -> Vec<String> {
    let Some(extensions) = content.get("extensions") else {
        return Vec::new();
    };
    CONTENT
        .iter()
        .filter_map(|(name, named)| Some(uris(extensions.get(name)?, named)))
        .flatten()
        .collect()
}

/// The URIs an extension's object names; a member of another shape names nothing.
fn uris(extension: &Value, named: &Named) -> Vec<String> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let list_uris = |owner: &Value, list: &str| -> Vec<String> {
        owner
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|item| item.get("uri").and_then(text))
            .collect()
    };
    match named {
        Named::Property(key) => extension.get(key).and_then(text).into_iter().collect(),
        Named::ListUris(lists) => lists
            .iter()
            .flat_map(|list| list_uris(extension, list))
            .collect(),
        Named::NestedListUris(outer, inner) => extension
            .get(outer)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|item| list_uris(item, inner))
            .collect(),
    }
}
