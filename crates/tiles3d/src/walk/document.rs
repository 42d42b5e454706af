//! A JSON document read by its keys, streamed: a 3D Tiles tileset (a `root` tile), a glTF
//! (`asset` and glTF's own top-level keys), a conditional content file
//! (`conditionalContents`), or none of them; and the files each names, including those its
//! root `extensions` name (see [`super::extensions`]).

use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::bom;
use super::checked::{Checked, drain_seq, ignore_other_types, seed_of_visitor};
use super::depth::DepthGuard;
use super::extensions::{ExtensionsSeed, NamedByExtensions};
use super::gltf::{UrisSeed, dedup};
use super::tileset::{TileSeed, dedup_references};
use crate::TilePath;
use crate::reference::{Document, FileKind, Reference, WalkError, Walked};

/// What a 3D Tiles tileset at `path` names: every tile's `content.uri` (1.0 and 1.1), the
/// legacy `content.url` (pre-1.0), 1.1 `contents[].uri`, through nested `children`, a 1.1
/// `schemaUri` or 1.0 `3DTILES_metadata` `schemaUri`, and the root subtree of each implicit
/// root tile (whose subtrees name the rest). External tilesets appear as `.json` contents;
/// their own contents are theirs.
///
/// The JSON is streamed: only the URIs and the small objects around them are kept, so memory
/// follows the URIs, not the document.
///
/// JSON nested deeper than [`ReadLimits::default`](super::ReadLimits)'s `max_json_depth` is a
/// [`WalkError::TooDeep`].
pub fn tileset_references(path: &TilePath, reader: impl Read) -> Result<Walked, WalkError> {
    let max_depth = super::ReadLimits::default().max_json_depth;
    let top = TopLevel::read_within(path, reader, max_depth)?;
    match top.document(false) {
        Document::Tileset => Ok(top.into_walked(Document::Tileset)),
        _ => Err(not_a_tileset()),
    }
}

/// Why a document that is no tileset cannot be read as one.
pub(super) fn not_a_tileset() -> WalkError {
    WalkError::Shape("not a 3D Tiles tileset: no `root` tile".to_owned())
}

/// The URIs a glTF JSON document names: `buffers[].uri` and `images[].uri` (data URIs
/// included; the resolver recognises them as embedded), buffers first, then the files its
/// root extensions name (see the `extensions` table in the [`crate::walk`] docs), each once.
///
/// The JSON is streamed and only those URIs are kept: a `.glb` of every tile is read, and
/// building the whole document (accessors, materials, nodes) cost a tenth of the downloader's
/// own CPU time. What it finds is what a parsed document would give: a member of the wrong
/// shape names nothing, and of a repeated member the last counts.
///
/// glTF 1.0 is read too: its `buffers`, `images` and `shaders` are objects keyed by id.
pub fn gltf_uris<'de, R: serde_json::de::Read<'de>>(
    de: serde_json::Deserializer<R>,
) -> Result<Vec<String>, WalkError> {
    let path = TilePath::parse("model.gltf").expect("a valid path");
    let top = TopLevel::read(&path, de)?;
    if !top.has_asset() {
        return Err(not_a_gltf());
    }
    Ok(top.gltf_uris())
}

/// The URIs the JSON of a binary glTF names, as [`gltf_uris`], read within `max_depth` as a
/// `.gltf` is. A binary glTF 1.0 (`KHR_binary_glTF`, `version_1`) needs no `asset`: its
/// container says it is a glTF, and 1.0 did not require one.
pub(super) fn glb_json_uris(
    json: &[u8],
    version_1: bool,
    max_depth: u32,
) -> Result<Vec<String>, WalkError> {
    let path = TilePath::parse("model.glb").expect("a valid path");
    let top = TopLevel::read_within(&path, json, max_depth)?;
    if !version_1 && !top.has_asset() {
        return Err(not_a_gltf());
    }
    Ok(top.gltf_uris())
}

/// Why a document that is no glTF cannot be read as one.
pub(super) fn not_a_gltf() -> WalkError {
    WalkError::Shape("not a glTF document: no `asset`".to_owned())
}

/// What a JSON file of `kind` names, read as what its keys say it is. A `.gltf` needs only
/// an `asset` to be read as a glTF; a `.json` that is neither a tileset nor a glTF (a metadata
/// schema) names nothing, and a file whose bytes only looked like JSON ([`FileKind::Json`])
/// names nothing when it does not parse, unless it showed a tileset's or a glTF's keys first. JSON nested deeper than `max_depth` is a
/// [`WalkError::TooDeep`], whatever the kind.
pub(super) fn read(
    kind: &FileKind,
    path: &TilePath,
    reader: impl Read,
    max_depth: u32,
) -> Result<Walked, WalkError> {
    let mut top = TopLevel::default();
    match top.read_into(path, reader, max_depth) {
        // Bytes that only looked like JSON; but one that showed a tileset's or a glTF's keys
        // before it broke off is a document cut short, whose files would be lost.
        Err(WalkError::Json(_)) if *kind == FileKind::Json && !top.showed_document_keys => {
            return Ok(Walked::default());
        }
        read => read?,
    }
    let document = top.document(*kind == FileKind::Gltf);
    if document == Document::Other && *kind == FileKind::Gltf {
        return Err(not_a_gltf());
    }
    Ok(top.into_walked(document))
}

/// What the top level of a JSON document holds, as far as the files it names go.
#[derive(Default)]
pub(super) struct TopLevel {
    /// Whether there was a `root` tile object.
    root: bool,
    tiles: Vec<Reference>,
    problems: Vec<WalkError>,
    schema_uri: Option<String>,
    extensions: NamedByExtensions,
    asset: bool,
    /// Whether a key only a glTF has at its top level (`buffers`, `meshes`, ...) was there.
    gltf_keys: bool,
    /// Whether a key of a tileset or a glTF (`root`, `asset`, a glTF's own) was met, even
    /// where its value then failed to parse.
    showed_document_keys: bool,
    buffers: Vec<String>,
    images: Vec<String>,
    /// glTF 1.0's shaders, by URI.
    shaders: Vec<String>,
    /// `FRAUNHOFER_external_model`'s glTF models, kept at the top level outside `extensions`.
    models: Vec<String>,
    /// The contents a conditional content file chooses from (`conditionalContents`, or
    /// `dynamicContents` of its earlier draft), when it had the key.
    conditional_contents: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum TopKey {
    Root,
    SchemaUri,
    Extensions,
    Asset,
    Buffers,
    Images,
    Shaders,
    /// `FRAUNHOFER_external_model` adds a top-level list of models, each a glTF by URI.
    Models,
    /// `3DTILES_content_conditional`'s content file; `3DTILES_dynamic` was its earlier draft.
    #[serde(alias = "dynamicContents")]
    ConditionalContents,
    #[serde(
        rename = "meshes",
        alias = "accessors",
        alias = "bufferViews",
        alias = "nodes",
        alias = "scenes",
        alias = "scene",
        alias = "materials",
        alias = "textures",
        alias = "samplers",
        alias = "animations",
        alias = "skins",
        alias = "cameras"
    )]
    GltfPart,
    #[serde(other)]
    Other,
}

impl TopLevel {
    /// Reads the whole document at `path` (its tiles' implicit templates are relative to it).
    pub(super) fn read<'de, R: serde_json::de::Read<'de>>(
        path: &TilePath,
        mut de: serde_json::Deserializer<R>,
    ) -> Result<Self, WalkError> {
        let mut top = TopLevel::default();
        TopSeed {
            path,
            top: &mut top,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(top)
    }

    /// Reads the whole document at `path` from `reader`, a leading byte order mark skipped,
    /// with JSON nested at most `max_depth` deep. Within it any depth is read: serde_json's
    /// own limit (128, which 64 levels of tiles reach) is off, and the parse's stack grows on
    /// the heap, so a small thread stack does not overflow either.
    pub(super) fn read_within(
        path: &TilePath,
        reader: impl Read,
        max_depth: u32,
    ) -> Result<Self, WalkError> {
        let mut top = TopLevel::default();
        top.read_into(path, reader, max_depth)?;
        Ok(top)
    }

    /// As [`TopLevel::read_within`], into `self`, which keeps what was read before a failure.
    fn read_into(
        &mut self,
        path: &TilePath,
        reader: impl Read,
        max_depth: u32,
    ) -> Result<(), WalkError> {
        let mut guard = DepthGuard::new(bom::skip(reader)?, max_depth);
        let parsed = {
            let mut de = serde_json::Deserializer::from_reader(&mut guard);
            de.disable_recursion_limit();
            TopSeed { path, top: self }
                .deserialize(serde_stacker::Deserializer::new(&mut de))
                .and_then(|()| de.end())
        };
        if guard.exceeded {
            return Err(WalkError::TooDeep { limit: max_depth });
        }
        Ok(parsed?)
    }

    /// What the document is, by its keys; `gltf_by_name` when its name says glTF, which then
    /// needs only an `asset`.
    pub(super) fn document(&self, gltf_by_name: bool) -> Document {
        if self.root {
            Document::Tileset
        } else if self.asset && (self.gltf_keys || gltf_by_name) {
            Document::Gltf
        } else if self.conditional_contents.is_some() {
            Document::ConditionalContents
        } else {
            Document::Other
        }
    }

    /// What the document names read as `document`.
    pub(super) fn into_walked(self, document: Document) -> Walked {
        match document {
            Document::Tileset => self.into_tileset(),
            Document::Gltf => Walked {
                references: (self.gltf_uris().into_iter())
                    .map(Reference::not_a_tileset)
                    .collect(),
                problems: Vec::new(),
                document,
            },
            Document::ConditionalContents => Walked {
                references: (dedup(self.conditional_contents.unwrap_or_default()).into_iter())
                    .map(Reference::plain)
                    .collect(),
                problems: Vec::new(),
                document,
            },
            Document::Other => Walked::default(),
        }
    }

    /// What a tileset names: its schema (1.1 `schemaUri`, 1.0 `3DTILES_metadata`), then its
    /// tiles' contents, each plain URI once.
    fn into_tileset(self) -> Walked {
        // The tiles' list is reused, not copied: a tileset may name 100,000 files.
        let mut references = self.tiles;
        let schemas = self
            .schema_uri
            .into_iter()
            .chain(self.extensions.tileset)
            .map(Reference::not_a_tileset);
        references.splice(0..0, schemas);
        Walked {
            references: dedup_references(references),
            problems: self.problems,
            document: Document::Tileset,
        }
    }

    /// What a glTF names: `buffers[].uri`, `images[].uri`, glTF 1.0's `shaders`,
    /// `FRAUNHOFER_external_model`'s `models`, then the
    /// files its extensions name, each once.
    pub(super) fn gltf_uris(self) -> Vec<String> {
        let uris = self
            .buffers
            .into_iter()
            .chain(self.images)
            .chain(self.shaders)
            .chain(self.models)
            .chain(self.extensions.gltf);
        dedup(uris.collect())
    }

    fn has_asset(&self) -> bool {
        self.asset
    }
}

struct TopSeed<'a> {
    path: &'a TilePath,
    top: &'a mut TopLevel,
}

seed_of_visitor!(TopSeed<'_> => ());

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tileset or a glTF")
    }

    ignore_other_types!(());

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        drain_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let top = self.top;
        while let Some(key) = map.next_key::<TopKey>()? {
            top.showed_document_keys |= !matches!(key, TopKey::Other | TopKey::SchemaUri);
            // As with a parsed document, of a repeated member the last counts.
            match key {
                TopKey::Root => {
                    let mut tiles = Vec::new();
                    top.problems.clear();
                    top.root = map.next_value_seed(TileSeed {
                        path: self.path,
                        out: &mut tiles,
                        problems: &mut top.problems,
                    })?;
                    top.tiles = tiles;
                }
                TopKey::SchemaUri => {
                    top.schema_uri = match map.next_value::<Value>()? {
                        Value::String(uri) => Some(uri),
                        _ => None,
                    };
                }
                TopKey::Extensions => top.extensions = map.next_value_seed(ExtensionsSeed)?,
                TopKey::Asset => {
                    map.next_value::<Checked>()?;
                    top.asset = true;
                }
                TopKey::Buffers => {
                    top.buffers = map.next_value_seed(UrisSeed)?;
                    top.gltf_keys = true;
                }
                TopKey::Images => {
                    top.images = map.next_value_seed(UrisSeed)?;
                    top.gltf_keys = true;
                }
                TopKey::Shaders => {
                    top.shaders = map.next_value_seed(UrisSeed)?;
                    top.gltf_keys = true;
                }
                TopKey::Models => {
                    top.models = map.next_value_seed(UrisSeed)?;
                    top.gltf_keys = true;
                }
                TopKey::ConditionalContents => {
                    top.conditional_contents = Some(map.next_value_seed(UrisSeed)?);
                }
                TopKey::GltfPart => {
                    map.next_value::<Checked>()?;
                    top.gltf_keys = true;
                }
                TopKey::Other => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
