//! The URIs a tileset JSON names, streamed: tile contents through nested `children`, and the
//! root subtree of each implicit root tile; the top level is read in `document`.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::checked::{Checked, drain_map, drain_seq, ignore_other_types, seed_of_visitor};
use crate::TilePath;
use crate::implicit::ImplicitTiling;
use crate::reference::{FileKind, Reference, WalkError};

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

/// One tile: adds its references, then its children's, to `out`. Yields whether it was an
/// object at all.
pub(super) struct TileSeed<'a> {
    pub(super) path: &'a TilePath,
    pub(super) out: &'a mut Vec<Reference>,
    pub(super) problems: &'a mut Vec<WalkError>,
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
                let named = super::extensions::content_uris(content);
                self.out
                    .extend(named.into_iter().map(Reference::not_a_tileset));
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

/// Keeps the first of each URI read without a context; references with a context of their own all stay.
pub(super) fn dedup_references(mut references: Vec<Reference>) -> Vec<Reference> {
    let keep: Vec<bool> = {
        let mut seen = HashSet::new();
        references
            .iter()
            .map(|r| r.kind.as_ref().is_some_and(FileKind::has_context) || seen.insert(&r.uri))
            .collect()
    };
    let mut keep = keep.into_iter();
    references.retain(|_| keep.next().unwrap_or(true));
    references.shrink_to_fit();
    references
}

#[cfg(test)]
mod tests;
