//! An implicit root tile: its tree's shape and templates, read from the tile's JSON, and the
//! context a subtree file of it is read in.

use std::sync::Arc;

use serde_json::Value;

use super::coord::{SubdivisionScheme, TileCoord};
use super::template::Template;
use crate::TilePath;

/// The most levels an implicit tree may have: tile coordinates then fit in 32 bits, as in
/// CesiumJS and cesium-native.
const MAX_AVAILABLE_LEVELS: u64 = 32;

/// An implicit root tile: its tree's shape, its templates, and the tileset JSON they are
/// relative to.
#[derive(Debug, PartialEq, Eq)]
pub struct ImplicitTiling {
    pub(super) scheme: SubdivisionScheme,
    pub(super) subtree_levels: u32,
    pub(super) available_levels: u32,
    pub(super) subtrees: Template,
    pub(super) contents: Vec<Template>,
    pub(super) tileset: Arc<TilePath>,
}

impl ImplicitTiling {
    /// Reads an implicit root tile from its `implicitTiling` object (or the 3D Tiles 1.0
    /// `3DTILES_implicit_tiling` extension, whose `maximumLevel` is `availableLevels - 1`) and
    /// its `content` or `contents` (or the array of the `3DTILES_multiple_contents`
    /// extension). `tileset` is the tileset JSON holding the tile.
    pub fn from_tile(
        implicit: &Value,
        content: Option<&Value>,
        contents: Option<&Value>,
        tileset: &TilePath,
    ) -> Result<Self, String> {
        let scheme = match implicit.get("subdivisionScheme").and_then(Value::as_str) {
            Some("QUADTREE") => SubdivisionScheme::Quadtree,
            Some("OCTREE") => SubdivisionScheme::Octree,
            Some(other) => return Err(format!("unknown subdivisionScheme `{other}`")),
            None => return Err("implicitTiling without a subdivisionScheme".to_owned()),
        };
        let integer = |key: &str| implicit.get(key).and_then(Value::as_u64);
        let subtree_levels = integer("subtreeLevels")
            .filter(|l| *l >= 1)
            .ok_or("implicitTiling without a positive integer subtreeLevels")?;
        let max_levels = match scheme {
            SubdivisionScheme::Quadtree => 12,
            SubdivisionScheme::Octree => 8,
        };
        if subtree_levels > max_levels {
            return Err(format!(
                "subtreeLevels {subtree_levels} is more than the {max_levels} this reader \
                 supports for this scheme (availability bitstreams over 2 MiB)"
            ));
        }
        let available_levels = integer("availableLevels")
            .or_else(|| integer("maximumLevel").map(|max| max.saturating_add(1)))
            .filter(|l| *l >= 1)
            .ok_or("implicitTiling without a positive integer availableLevels")?;
        if available_levels > MAX_AVAILABLE_LEVELS {
            return Err(format!(
                "availableLevels {available_levels} is more than the {MAX_AVAILABLE_LEVELS} \
                 this reader supports"
            ));
        }
        let subtrees = implicit
            .get("subtrees")
            .and_then(|s| s.get("uri"))
            .and_then(Value::as_str)
            .ok_or("implicitTiling without a subtrees.uri template")?;
        let subtrees = Template::parse(subtrees, scheme)?;
        let listed: Vec<&Value> = match (content, contents) {
            (Some(_), Some(_)) => {
                return Err("an implicit root tile with both `content` and `contents`".to_owned());
            }
            (Some(content), None) => vec![content],
            (None, Some(contents)) => contents
                .as_array()
                .ok_or("`contents` of an implicit root tile is not an array")?
                .iter()
                .collect(),
            (None, None) => Vec::new(),
        };
        let contents = listed
            .into_iter()
            .map(|content| {
                let uri = content
                    .get("uri")
                    .or_else(|| content.get("url"))
                    .and_then(Value::as_str)
                    .ok_or("an implicit root tile's content without a uri")?;
                Template::parse(uri, scheme)
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(ImplicitTiling {
            scheme,
            subtree_levels: subtree_levels as u32,
            available_levels: available_levels as u32,
            subtrees,
            contents,
            tileset: Arc::new(tileset.clone()),
        })
    }

    /// The subdivision scheme.
    pub fn scheme(&self) -> SubdivisionScheme {
        self.scheme
    }

    /// The subtree file template.
    pub fn subtrees(&self) -> &Template {
        &self.subtrees
    }

    /// The content templates, in the order of the subtrees' `contentAvailability`.
    pub fn contents(&self) -> &[Template] {
        &self.contents
    }
}

/// What reading one subtree file needs: the implicit root it belongs to and the coordinates
/// of its root tile.
#[derive(Debug, PartialEq, Eq)]
pub struct SubtreeContext {
    pub(super) tiling: Arc<ImplicitTiling>,
    pub(super) root: TileCoord,
}

impl SubtreeContext {
    /// A context for the subtree rooted at `root` of `tiling`.
    pub fn new(tiling: Arc<ImplicitTiling>, root: TileCoord) -> Self {
        SubtreeContext { tiling, root }
    }

    /// The implicit root the subtree belongs to.
    pub fn tiling(&self) -> &Arc<ImplicitTiling> {
        &self.tiling
    }

    /// The subtree's root tile.
    pub fn root(&self) -> TileCoord {
        self.root
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn implicit_tiling_objects_are_checked() {
        let path = TilePath::parse("tileset.json").unwrap();
        let base = json!({
            "subdivisionScheme": "QUADTREE", "subtreeLevels": 3, "availableLevels": 8,
            "subtrees": {"uri": "s/{level}/{x}/{y}.subtree"},
        });
        let content = json!({"uri": "c/{level}/{x}/{y}.glb"});
        assert!(ImplicitTiling::from_tile(&base, Some(&content), None, &path).is_ok());
        let legacy = json!({
            "subdivisionScheme": "QUADTREE", "subtreeLevels": 3, "maximumLevel": 7,
            "subtrees": {"uri": "s/{level}/{x}/{y}.subtree"},
        });
        let tiling = ImplicitTiling::from_tile(&legacy, Some(&content), None, &path).unwrap();
        assert_eq!(tiling.available_levels, 8);
        for (key, value, why) in [
            (
                "subdivisionScheme",
                json!("HEXTREE"),
                "unknown subdivisionScheme",
            ),
            ("subtreeLevels", json!(0), "subtreeLevels"),
            ("subtreeLevels", json!(13), "more than the 12"),
            ("availableLevels", json!(33), "more than the 32"),
            ("availableLevels", json!(-1), "availableLevels"),
            ("subtrees", json!({}), "subtrees.uri"),
            (
                "subtrees",
                json!({"uri": "s/{level}/{x}/{y}/{w}.subtree"}),
                "{w}",
            ),
        ] {
            let mut implicit = base.clone();
            implicit[key] = value;
            let err =
                ImplicitTiling::from_tile(&implicit, Some(&content), None, &path).unwrap_err();
            assert!(err.contains(why), "{key}: {err}");
        }
        let mut deepest = base.clone();
        deepest["availableLevels"] = json!(32);
        assert!(ImplicitTiling::from_tile(&deepest, Some(&content), None, &path).is_ok());
        let both = ImplicitTiling::from_tile(&base, Some(&content), Some(&json!([content])), &path);
        assert!(both.unwrap_err().contains("both"));
        let no_uri = ImplicitTiling::from_tile(&base, Some(&json!({})), None, &path);
        assert!(no_uri.unwrap_err().contains("without a uri"));
    }
}
