//! The URIs a glTF names: `buffers[].uri` and `images[].uri` of a `.gltf`, or of the JSON
//! chunk of a `.glb`, streamed.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::checked::{Checked, drain_map, drain_seq, ignore_other_types, seed_of_visitor};
use crate::reference::WalkError;

/// The largest JSON chunk of a `.glb` this module reads (the binary chunk is never read).
const MAX_GLB_JSON: u64 = 64 * 1024 * 1024;

/// The URIs a glTF JSON document names: `buffers[].uri` and `images[].uri` (data URIs
/// included; the resolver recognises them as embedded), buffers first, each once.
///
/// The JSON is streamed and only those URIs are kept: a `.glb` of every tile is read, and
/// building the whole document (accessors, materials, nodes) cost a tenth of the downloader's
/// own CPU time. What it finds is what a parsed document would give: a member of the wrong
/// shape names nothing, and of a repeated member the last counts.
pub fn gltf_uris<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
) -> Result<Vec<String>, WalkError> {
    let found = GltfSeed.deserialize(&mut de)?;
    de.end()?;
    match found {
        Some(Gltf {
            asset: true,
            buffers,
            images,
        }) => Ok(dedup(buffers.into_iter().chain(images).collect())),
        _ => Err(WalkError::Shape(
            "not a glTF document: no `asset`".to_owned(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum GltfKey {
    Asset,
    Buffers,
    Images,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum UriKey {
    Uri,
    #[serde(other)]
    Other,
}

/// What a glTF document names; `None` when it is not a JSON object.
struct GltfSeed;

struct Gltf {
    asset: bool,
    buffers: Vec<String>,
    images: Vec<String>,
}

seed_of_visitor!(GltfSeed => Option<Gltf>);

impl<'de> Visitor<'de> for GltfSeed {
    type Value = Option<Gltf>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a glTF document")
    }

    ignore_other_types!(None);

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut gltf = Gltf {
            asset: false,
            buffers: Vec::new(),
            images: Vec::new(),
        };
        while let Some(key) = map.next_key::<GltfKey>()? {
            match key {
                GltfKey::Asset => {
                    map.next_value::<Checked>()?;
                    gltf.asset = true;
                }
                GltfKey::Buffers => gltf.buffers = map.next_value_seed(UrisSeed)?,
                GltfKey::Images => gltf.images = map.next_value_seed(UrisSeed)?,
                GltfKey::Other => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        Ok(Some(gltf))
    }
}

/// The `uri` strings of a list of objects (`buffers`, `images`).
struct UrisSeed;

seed_of_visitor!(UrisSeed => Vec<String>);

impl<'de> Visitor<'de> for UrisSeed {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of objects with a `uri`")
    }

    ignore_other_types!(Vec::new());

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut uris = Vec::new();
        while let Some(uri) = seq.next_element_seed(UriOfSeed)? {
            uris.extend(uri);
        }
        Ok(uris)
    }
}

/// The `uri` string of an object; `None` for anything else.
struct UriOfSeed;

seed_of_visitor!(UriOfSeed => Option<String>);

impl<'de> Visitor<'de> for UriOfSeed {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a `uri`")
    }

    ignore_other_types!(None);

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut uri = None;
        while let Some(key) = map.next_key::<UriKey>()? {
            match key {
                UriKey::Uri => uri = map.next_value_seed(StringSeed)?,
                UriKey::Other => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        Ok(uri)
    }
}

/// A JSON string; `None` for any other value.
struct StringSeed;

seed_of_visitor!(StringSeed => Option<String>);

impl<'de> Visitor<'de> for StringSeed {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(text.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| None)
    }
}

/// The URIs the JSON chunk of a binary glTF names, as [`gltf_uris`]. Reads only the header and
/// the JSON chunk.
pub fn glb_uris(mut reader: impl Read) -> Result<Vec<String>, WalkError> {
    let mut header = [0u8; 20];
    reader.read_exact(&mut header)?;
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    if &header[0..4] != b"glTF" {
        return Err(WalkError::Shape("not a binary glTF: bad magic".to_owned()));
    }
    if word(16) != 0x4E4F_534A {
        return Err(WalkError::Shape(
            "binary glTF without a JSON chunk first".to_owned(),
        ));
    }
    let length = u64::from(word(12));
    if length > MAX_GLB_JSON {
        return Err(WalkError::Shape(format!(
            "binary glTF JSON chunk too large ({length} bytes)"
        )));
    }
    let mut json = Vec::new();
    reader.take(length).read_to_end(&mut json)?;
    if json.len() as u64 != length {
        return Err(WalkError::Shape(
            "binary glTF truncated in its JSON chunk".to_owned(),
        ));
    }
    let json = json.strip_prefix(super::bom::BOM).unwrap_or(&json);
    gltf_uris(serde_json::Deserializer::from_slice(json))
}

/// Keeps the first of each URI.
pub(super) fn dedup(uris: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    uris.into_iter()
        .filter(|u| seen.insert(u.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
