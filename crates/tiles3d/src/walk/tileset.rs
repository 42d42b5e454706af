//! The URIs a tileset JSON names, streamed: tile contents through nested `children`, a
//! `schemaUri`, and the root subtree of each implicit root tile.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::checked::{Checked, drain_map, drain_seq, ignore_other_types, seed_of_visitor};
use super::depth::DepthGuard;
use crate::TilePath;
use crate::implicit::ImplicitTiling;
use crate::reference::{Reference, WalkError, Walked};

/// What a 3D Tiles tileset at `path` names: every tile's `content.uri` (1.0 and 1.1), the
/// legacy `content.url` (pre-1.0), 1.1 `contents[].uri`, through nested `children`, a 1.1
/// `schemaUri`, and the root subtree of each implicit root tile (whose subtrees name the rest).
/// External tilesets appear as `.json` contents; their own contents are theirs.
///
/// The JSON is streamed: only the URIs and the small objects around them are kept, so memory
/// follows the URIs, not the document.
///
/// JSON nested deeper than [`ReadLimits::default`](super::ReadLimits)'s `max_json_depth` is a
/// [`WalkError::TooDeep`].
pub fn tileset_references(path: &TilePath, reader: impl Read) -> Result<Walked, WalkError> {
    references_within(path, reader, super::ReadLimits::default().max_json_depth)
}

/// [`tileset_references`] with JSON nested at most `max_depth` deep. Within it any depth is
/// read: serde_json's own limit (128, which 64 levels of tiles reach) is off, and the parse's
/// stack grows on the heap, so a small thread stack does not overflow either.
pub(super) fn references_within(
    path: &TilePath,
    reader: impl Read,
    max_depth: u32,
) -> Result<Walked, WalkError> {
    let mut guard = DepthGuard::new(reader, max_depth);
    let mut found = Found::default();
    let parsed = {
        let mut de = serde_json::Deserializer::from_reader(&mut guard);
        de.disable_recursion_limit();
        TilesetSeed {
            path,
            found: &mut found,
        }
        .deserialize(serde_stacker::Deserializer::new(&mut de))
        .and_then(|()| de.end())
    };
    if guard.exceeded {
        return Err(WalkError::TooDeep { limit: max_depth });
    }
    parsed?;
    if !found.root {
        return Err(WalkError::Shape(
            "not a 3D Tiles tileset: no `root` tile".to_owned(),
        ));
    }
    // The tiles' list is reused, not copied: a tileset may name 100,000 files.
    let mut references = found.tiles;
    if let Some(schema) = found.schema {
        references.insert(0, Reference::plain(schema));
    }
    Ok(Walked {
        references: dedup_references(references),
        problems: found.problems,
    })
}

/// What streaming a tileset collects.
#[derive(Default)]
struct Found {
    /// Whether there was a `root` object.
    root: bool,
    schema: Option<String>,
    tiles: Vec<Reference>,
    problems: Vec<WalkError>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum TilesetKey {
    Root,
    SchemaUri,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum TileKey {
    Content,
    Contents,
    Children,
    ImplicitTiling,
    Extensions,
    #[serde(other)]
    Other,
}

struct TilesetSeed<'a> {
    path: &'a TilePath,
    found: &'a mut Found,
}

seed_of_visitor!(TilesetSeed<'_> => ());

impl<'de> Visitor<'de> for TilesetSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tileset")
    }

    ignore_other_types!(());

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        drain_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<TilesetKey>()? {
            match key {
                TilesetKey::Root => {
                    let mut tiles = Vec::new();
                    let root = map.next_value_seed(TileSeed {
                        path: self.path,
                        out: &mut tiles,
                        problems: &mut self.found.problems,
                    })?;
                    // As with a parsed document, the last `root` is the one that counts.
                    self.found.root = root;
                    self.found.tiles = tiles;
                }
                TilesetKey::SchemaUri => {
                    self.found.schema = match map.next_value::<Value>()? {
                        Value::String(uri) => Some(uri),
                        _ => None,
                    };
                }
                TilesetKey::Other => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        Ok(())
    }
}

/// One tile: adds its references, then its children's, to `out`. Yields whether it was an
/// object at all.
struct TileSeed<'a> {
    path: &'a TilePath,
    out: &'a mut Vec<Reference>,
    problems: &'a mut Vec<WalkError>,
}

seed_of_visitor!(TileSeed<'_> => bool);

impl<'de> Visitor<'de> for TileSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tile")
    }

    ignore_other_types!(false);

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        drain_seq(seq).map(|()| false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut content = None;
        let mut contents = None;
        let mut implicit = None;
        let mut extensions = None;
        let mut children = Vec::new();
        while let Some(key) = map.next_key::<TileKey>()? {
            match key {
                TileKey::Content => content = Some(map.next_value::<Value>()?),
                TileKey::Contents => contents = Some(map.next_value::<Value>()?),
                TileKey::ImplicitTiling => implicit = Some(map.next_value::<Value>()?),
                TileKey::Extensions => extensions = Some(map.next_value::<Value>()?),
                TileKey::Children => {
                    children.clear();
                    map.next_value_seed(ChildrenSeed {
                        path: self.path,
                        out: &mut children,
                        problems: &mut *self.problems,
                    })?;
                }
                TileKey::Other => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        // 3D Tiles 1.0's `3DTILES_multiple_contents` lists them as `content` (later drafts:
        // `contents`); the core `contents` wins when both are there.
        let contents = contents.or_else(|| {
            let multiple = extensions.as_ref()?.get("3DTILES_multiple_contents")?;
            multiple
                .get("contents")
                .or_else(|| multiple.get("content"))
                .filter(|c| c.is_array())
                .cloned()
        });
        let implicit = implicit.as_ref().or_else(|| {
            extensions
                .as_ref()
                .and_then(|e| e.get("3DTILES_implicit_tiling"))
        });
        if let Some(implicit) = implicit {
            match ImplicitTiling::from_tile(
                implicit,
                content.as_ref(),
                contents.as_ref(),
                self.path,
            ) {
                Ok(tiling) => self.out.push(Arc::new(tiling).root_subtree()),
                Err(reason) => {
                    let uri = implicit
                        .get("subtrees")
                        .and_then(|s| s.get("uri"))
                        .and_then(Value::as_str)
                        .unwrap_or("implicitTiling")
                        .to_owned();
                    self.problems.push(WalkError::Unsupported { uri, reason });
                }
            }
        } else {
            let listed = content.iter().chain(
                contents
                    .as_ref()
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
            for content in listed {
                let uri = content
                    .get("uri")
                    .or_else(|| content.get("url"))
                    .and_then(Value::as_str);
                if let Some(uri) = uri {
                    self.out.push(Reference::plain(uri.to_owned()));
                }
            }
        }
        self.out.append(&mut children);
        Ok(true)
    }
}

/// A tile's `children`: each tile in document order.
struct ChildrenSeed<'a> {
    path: &'a TilePath,
    out: &'a mut Vec<Reference>,
    problems: &'a mut Vec<WalkError>,
}

seed_of_visitor!(ChildrenSeed<'_> => ());

impl<'de> Visitor<'de> for ChildrenSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of tiles")
    }

    ignore_other_types!(());

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        drain_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(TileSeed {
                path: self.path,
                out: &mut *self.out,
                problems: &mut *self.problems,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// Keeps the first of each plain URI; references with a context of their own all stay.
fn dedup_references(mut references: Vec<Reference>) -> Vec<Reference> {
    let keep: Vec<bool> = {
        let mut seen = HashSet::new();
        references
            .iter()
            .map(|r| r.kind.is_some() || seen.insert(r.uri.as_str()))
            .collect()
    };
    let mut keep = keep.into_iter();
    references.retain(|_| keep.next().unwrap_or(true));
    references.shrink_to_fit();
    references
}

#[cfg(test)]
mod tests;
