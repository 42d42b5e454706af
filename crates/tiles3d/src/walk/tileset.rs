//! Reading the URIs a tileset file names: tile contents, child tilesets, glTF resources,
//! implicit tiling subtrees.
//!
//! These functions only list URIs as written; [`TilesetUrl::resolve`](super::TilesetUrl::resolve)
//! decides where each one points and whether it may be fetched.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::TilePath;
use crate::implicit::{self, ImplicitTiling, PendingSubtree, SubtreeContext};

/// The largest JSON chunk of a `.glb` this module reads (the binary chunk is never read).
const MAX_GLB_JSON: u64 = 64 * 1024 * 1024;

/// What a file of a tileset is, as far as the walk cares: it decides whether the file names
/// further files, and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A tileset JSON (`.json`): the root, or an external child tileset.
    Tileset,
    /// A glTF JSON (`.gltf`), which may name external buffers and images.
    Gltf,
    /// A binary glTF (`.glb`), whose JSON chunk may name external buffers and images.
    Glb,
    /// Anything else (`.b3dm`, `.pnts`, textures, buffers): names nothing further.
    Leaf,
    /// A subtree file of an implicit tileset (binary `.subtree` or JSON), read in its context.
    Subtree(Arc<SubtreeContext>),
    /// An external buffer holding a subtree's availability, read for that subtree.
    SubtreeBuffer(Arc<PendingSubtree>),
}

impl FileKind {
    /// The kind of a file named without context, by its extension.
    pub fn of(path: &TilePath) -> Self {
        match path.extension().as_deref() {
            Some("json") => Self::Tileset,
            Some("gltf") => Self::Gltf,
            Some("glb") => Self::Glb,
            _ => Self::Leaf,
        }
    }

    /// Whether the file may name further files (and so is read once downloaded).
    pub fn names_files(&self) -> bool {
        !matches!(self, Self::Leaf)
    }

    /// Whether reading the file may reveal many more files: worth fetching first.
    pub fn reveals_more(&self) -> bool {
        matches!(
            self,
            Self::Tileset | Self::Subtree(_) | Self::SubtreeBuffer(_)
        )
    }

    /// Whether the file is read with a context of its own (a subtree or a subtree buffer):
    /// the same file reached twice would need reading twice.
    pub fn has_context(&self) -> bool {
        matches!(self, Self::Subtree(_) | Self::SubtreeBuffer(_))
    }
}

/// A URI a file names, and how to read what it points at.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The URI as written, or as expanded from a template.
    pub uri: String,
    /// The file it is relative to, when not the file that names it: implicit tiling templates
    /// are relative to the tileset JSON, and subtree buffers to their subtree file.
    pub base: Option<Arc<TilePath>>,
    /// How to read the file; `None` for [`FileKind::of`] its path.
    pub kind: Option<FileKind>,
}

impl Reference {
    fn plain(uri: String) -> Self {
        Reference {
            uri,
            base: None,
            kind: None,
        }
    }
}

/// What a file names: the references to follow, and what it names that cannot be followed.
#[derive(Debug, Default)]
pub struct Walked {
    /// The references, in document order, each plain URI once.
    pub references: Vec<Reference>,
    /// Parts of the file that name files this walk cannot interpret (an unknown template
    /// variable, a malformed implicit tiling): the download cannot be complete. Each is a
    /// [`WalkError::Unsupported`].
    pub problems: Vec<WalkError>,
}

/// Why a file's references could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// The file is not valid JSON.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON, but not the expected document.
    #[error("{0}")]
    Shape(String),
    /// The file could not be read.
    #[error("could not be read: {0}")]
    Io(#[from] std::io::Error),
    /// The file names files in a way this walk cannot interpret, so they cannot be fetched:
    /// the tileset cannot be downloaded whole.
    #[error("cannot interpret `{uri}`: {reason}")]
    Unsupported {
        /// The template, URI or file that cannot be interpreted.
        uri: String,
        /// Why.
        reason: String,
    },
}

/// What the file at `path`, of the given kind, names.
pub fn read(kind: &FileKind, path: &TilePath, reader: impl Read) -> Result<Walked, WalkError> {
    let plain = |uris: Vec<String>| Walked {
        references: uris.into_iter().map(Reference::plain).collect(),
        problems: Vec::new(),
    };
    match kind {
        FileKind::Tileset => tileset_references(path, reader),
        FileKind::Gltf => Ok(plain(gltf_uris(serde_json::Deserializer::from_reader(
            reader,
        ))?)),
        FileKind::Glb => Ok(plain(glb_uris(reader)?)),
        FileKind::Leaf => Ok(Walked::default()),
        FileKind::Subtree(context) => implicit::read_subtree(context, path, reader),
        FileKind::SubtreeBuffer(pending) => implicit::read_subtree_buffer(pending, path, reader),
    }
}

/// The URIs a file of the given kind names, in document order, each once, as if it sat at
/// the root as `tileset.json`. What it names that cannot be interpreted is an error.
pub fn references(kind: FileKind, reader: impl Read) -> Result<Vec<String>, WalkError> {
    let path = TilePath::parse("tileset.json").expect("a valid path");
    let walked = read(&kind, &path, reader)?;
    if let Some(problem) = walked.problems.into_iter().next() {
        return Err(problem);
    }
    Ok(walked.references.into_iter().map(|r| r.uri).collect())
}

/// What a 3D Tiles tileset at `path` names: every tile's `content.uri` (1.0 and 1.1), the
/// legacy `content.url` (pre-1.0), 1.1 `contents[].uri`, through nested `children`, a 1.1
/// `schemaUri`, and the root subtree of each implicit root tile (whose subtrees name the rest).
/// External tilesets appear as `.json` contents; their own contents are theirs.
///
/// The JSON is streamed: only the URIs and the small objects around them are kept, so memory
/// follows the URIs, not the document.
pub fn tileset_references(path: &TilePath, reader: impl Read) -> Result<Walked, WalkError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut found = Found::default();
    TilesetSeed {
        path,
        found: &mut found,
    }
    .deserialize(&mut de)?;
    de.end()?;
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

/// A seed that is its own visitor, for any JSON value: `DeserializeSeed` by `deserialize_any`.
macro_rules! seed_of_visitor {
    ($seed:ty => $value:ty) => {
        impl<'de> DeserializeSeed<'de> for $seed {
            type Value = $value;

            fn deserialize<D: de::Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<$value, D::Error> {
                deserializer.deserialize_any(self)
            }
        }
    };
}

/// Visitor methods for the JSON types a visitor does not look into: they are consumed and
/// yield `$value`, as `Value::get` on them would have found nothing.
macro_rules! ignore_other_types {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// A JSON value read and checked as a parsed document is (UTF-8 and escapes in strings,
/// numbers in range, nesting depth), then dropped. `IgnoredAny` skips a value without those
/// checks, so a corrupt part of a file that is not looked into would pass.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    ignore_other_types!(Checked);

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Checked, A::Error> {
        drain_seq(seq).map(|()| Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Checked, A::Error> {
        drain_map(map).map(|()| Checked)
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Checked>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Checked, Checked>()?.is_some() {}
    Ok(())
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
    gltf_uris(serde_json::Deserializer::from_slice(&json))
}

fn dedup(uris: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    uris.into_iter()
        .filter(|u| seen.insert(u.clone()))
        .collect()
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
mod tests {
    use super::*;
    use serde_json::json;

    /// The URIs of a tileset document, as the download reads them.
    fn tileset_uris(tileset: &Value) -> Result<Vec<String>, WalkError> {
        references(FileKind::Tileset, &serde_json::to_vec(tileset).unwrap()[..])
    }

    /// The walk as it was before streaming, over a parsed document: the oracle the streaming
    /// walk must agree with on tilesets without implicit tiling.
    fn parsed_walk(tileset: &Value) -> Result<Vec<String>, WalkError> {
        let root = tileset
            .get("root")
            .filter(|r| r.is_object())
            .ok_or_else(|| WalkError::Shape("not a 3D Tiles tileset: no `root` tile".to_owned()))?;
        let mut uris = Vec::new();
        if let Some(schema) = tileset.get("schemaUri").and_then(Value::as_str) {
            uris.push(schema.to_owned());
        }
        let mut stack = vec![root];
        while let Some(tile) = stack.pop() {
            let contents = tile.get("content").into_iter().chain(
                tile.get("contents")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
            for content in contents {
                let uri = content
                    .get("uri")
                    .or_else(|| content.get("url"))
                    .and_then(Value::as_str);
                if let Some(uri) = uri {
                    uris.push(uri.to_owned());
                }
            }
            if let Some(children) = tile.get("children").and_then(Value::as_array) {
                stack.extend(children.iter().rev());
            }
        }
        Ok(dedup(uris))
    }

    /// A deterministic tileset `depth` levels deep with up to `width` children per tile, keys
    /// in varying order (children before content, unknown members, odd types), repeated URIs.
    fn generated_tileset(depth: u32, width: u32, seed: u64) -> Value {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u32
        };
        fn tile(depth: u32, width: u32, name: String, next: &mut dyn FnMut() -> u32) -> Value {
            let mut object = serde_json::Map::new();
            let children: Vec<Value> = if depth == 0 {
                Vec::new()
            } else {
                (0..1 + next() % width)
                    .map(|i| tile(depth - 1, width, format!("{name}/{i}"), next))
                    .collect()
            };
            let roll = next() % 8;
            if roll == 0 {
                object.insert("children".into(), Value::Array(children.clone()));
            }
            object.insert("geometricError".into(), json!(depth));
            match roll {
                1 => {
                    object.insert(
                        "contents".into(),
                        json!([{"uri": format!("{name}/a.glb")}, {"url": format!("{name}/b.b3dm")}, 7]),
                    );
                }
                2 => {
                    object.insert("content".into(), json!({"uri": "shared.glb"}));
                }
                3 => {
                    object.insert("content".into(), json!({"uri": 5}));
                }
                4 => {}
                _ => {
                    object.insert("content".into(), json!({"uri": format!("{name}.glb"), "boundingVolume": {"box": [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]}}));
                }
            }
            object.insert(
                "extras".into(),
                json!({"children": [{"content": {"uri": "not-a-tile.glb"}}]}),
            );
            if roll != 0 {
                if depth == 0 && next().is_multiple_of(3) {
                    object.insert("children".into(), json!("not a list"));
                } else {
                    object.insert("children".into(), Value::Array(children));
                }
            }
            Value::Object(object)
        }
        json!({
            "asset": {"version": "1.1"},
            "geometricError": 1000,
            "root": tile(depth, width, "t".to_owned(), &mut next),
            "schemaUri": "schema.json",
            "extras": [1, 2, {"root": {"content": {"uri": "nope.glb"}}}],
        })
    }

    #[test]
    fn the_streaming_walk_yields_what_the_parsed_walk_did_on_deep_and_wide_tilesets() {
        for (depth, width, seed) in [(3, 4, 1), (5, 4, 2), (12, 2, 3), (40, 1, 4), (2, 120, 5)] {
            let tileset = generated_tileset(depth, width, seed);
            let expected = parsed_walk(&tileset).unwrap();
            assert!(expected.len() > 10, "{depth}x{width}: {expected:?}");
            assert_eq!(tileset_uris(&tileset).unwrap(), expected, "{depth}x{width}");
        }
        for odd in [
            json!({"root": 5}),
            json!([1]),
            json!({"root": []}),
            json!({"asset": {}}),
        ] {
            assert!(parsed_walk(&odd).is_err());
            let err = tileset_uris(&odd).unwrap_err();
            assert!(matches!(err, WalkError::Shape(_)), "{odd}: {err}");
        }
    }

    #[test]
    fn walks_a_3d_tiles_1_0_tileset_with_nested_children_and_external_tilesets() {
        let tileset = json!({
            "asset": {"version": "1.0"},
            "geometricError": 100,
            "root": {
                "content": {"uri": "root.glb"},
                "children": [
                    {"content": {"uri": "a/0.b3dm"}, "children": [
                        {"content": {"uri": "a/1.b3dm"}},
                    ]},
                    {"content": {"uri": "child/tileset.json"}},
                    {"content": {"url": "legacy.b3dm"}},
                    {"content": {"uri": "root.glb"}},
                    {"children": []},
                ]
            }
        });
        assert_eq!(
            tileset_uris(&tileset).unwrap(),
            [
                "root.glb",
                "a/0.b3dm",
                "a/1.b3dm",
                "child/tileset.json",
                "legacy.b3dm"
            ]
        );
    }

    #[test]
    fn walks_a_3d_tiles_1_1_tileset_with_multiple_contents_and_a_schema() {
        let tileset = json!({
            "asset": {"version": "1.1"},
            "schemaUri": "schema.json",
            "root": {
                "contents": [{"uri": "r0.glb"}, {"uri": "r1.glb", "group": 0}],
                "children": [{"content": {"uri": "c.glb"}, "contents": [{"uri": "d.glb"}]}]
            }
        });
        assert_eq!(
            tileset_uris(&tileset).unwrap(),
            ["schema.json", "r0.glb", "r1.glb", "c.glb", "d.glb"]
        );
    }

    #[test]
    fn an_implicit_root_yields_its_root_subtree_with_its_context() {
        let tileset = json!({
            "asset": {"version": "1.1"},
            "root": {
                "content": {"uri": "plain.glb"},
                "children": [{
                    "contents": [{"uri": "content/{level}/{x}/{y}.glb"}, {"uri": "b/{x}_{y}_{level}.glb"}],
                    "implicitTiling": {
                        "subdivisionScheme": "QUADTREE",
                        "subtreeLevels": 3,
                        "availableLevels": 7,
                        "subtrees": {"uri": "subtrees/{level}/{x}/{y}.subtree"}
                    }
                }]
            }
        });
        let path = TilePath::parse("sub/tileset.json").unwrap();
        let bytes = serde_json::to_vec(&tileset).unwrap();
        let walked = read(&FileKind::Tileset, &path, &bytes[..]).unwrap();
        assert!(walked.problems.is_empty(), "{:?}", walked.problems);
        let uris: Vec<&str> = walked.references.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(uris, ["plain.glb", "subtrees/0/0/0.subtree"]);
        let subtree = &walked.references[1];
        assert_eq!(subtree.base.as_deref(), Some(&path));
        let Some(FileKind::Subtree(context)) = &subtree.kind else {
            panic!("{subtree:?}");
        };
        assert_eq!(context.root(), implicit::TileCoord::ROOT);
        let templates: Vec<&str> = context
            .tiling()
            .contents()
            .iter()
            .map(|t| t.as_str())
            .collect();
        assert_eq!(
            templates,
            ["content/{level}/{x}/{y}.glb", "b/{x}_{y}_{level}.glb"]
        );
    }

    #[test]
    fn an_implicit_root_the_walk_cannot_interpret_is_a_problem_not_a_skip() {
        let tileset = |content: &str, subtrees: &str| {
            json!({
                "asset": {"version": "1.1"},
                "root": {"children": [
                    {"content": {"uri": "kept.glb"}},
                    {
                        "content": {"uri": content},
                        "implicitTiling": {
                            "subdivisionScheme": "QUADTREE", "subtreeLevels": 2, "availableLevels": 3,
                            "subtrees": {"uri": subtrees}
                        }
                    }
                ]}
            })
        };
        let cases = [
            (
                "c/{level}/{x}/{y}/{lod}.glb",
                "s/{level}/{x}/{y}.subtree",
                "{lod}",
            ),
            (
                "c/{level}/{x}/{y}.glb",
                "s/{level}/{x}/{y}/{z}.subtree",
                "{z}",
            ),
            (
                "c/{level}/{x}.glb",
                "s/{level}/{x}/{y}.subtree",
                "does not use all",
            ),
            (
                "c/{level}/{x}/{y.glb",
                "s/{level}/{x}/{y}.subtree",
                "unclosed",
            ),
        ];
        for (content, subtrees, why) in cases {
            let path = TilePath::parse("tileset.json").unwrap();
            let bytes = serde_json::to_vec(&tileset(content, subtrees)).unwrap();
            let walked = read(&FileKind::Tileset, &path, &bytes[..]).unwrap();
            let uris: Vec<&str> = walked.references.iter().map(|r| r.uri.as_str()).collect();
            assert_eq!(uris, ["kept.glb"], "{content}");
            assert_eq!(walked.problems.len(), 1, "{content}");
            let problem = walked.problems[0].to_string();
            assert!(matches!(walked.problems[0], WalkError::Unsupported { .. }));
            assert!(problem.contains(why), "{content}: {problem}");
            assert!(tileset_uris(&tileset(content, subtrees)).is_err());
        }
    }

    #[test]
    fn reads_the_3d_tiles_1_0_multiple_contents_extension() {
        let tileset = json!({
            "asset": {"version": "1.0"},
            "root": {
                "extensions": {"3DTILES_multiple_contents": {"content": [{"uri": "a.b3dm"}, {"uri": "b.i3dm"}]}},
                "children": [{
                    "extensions": {
                        "3DTILES_multiple_contents": {"content": [{"uri": "q/{level}/{x}/{y}.b3dm"}, {"uri": "p/{level}/{x}/{y}.pnts"}]},
                        "3DTILES_implicit_tiling": {
                            "subdivisionScheme": "QUADTREE", "subtreeLevels": 2, "maximumLevel": 3,
                            "subtrees": {"uri": "s/{level}/{x}/{y}.subtree"}
                        }
                    }
                }]
            }
        });
        let path = TilePath::parse("tileset.json").unwrap();
        let bytes = serde_json::to_vec(&tileset).unwrap();
        let walked = read(&FileKind::Tileset, &path, &bytes[..]).unwrap();
        assert!(walked.problems.is_empty(), "{:?}", walked.problems);
        let uris: Vec<&str> = walked.references.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(uris, ["a.b3dm", "b.i3dm", "s/0/0/0.subtree"]);
        let Some(FileKind::Subtree(context)) = &walked.references[2].kind else {
            panic!("{:?}", walked.references[2]);
        };
        assert_eq!(context.tiling().contents().len(), 2);
    }

    #[test]
    fn a_corrupt_part_of_a_tileset_the_walk_does_not_look_into_is_still_an_error() {
        let good = br#"{"asset": {"version": "1.1"}, "root": {"content": {"uri": "a.glb"}}}"#;
        assert!(references(FileKind::Tileset, &good[..]).is_ok());
        for corrupt in [
            br#"{"asset": {"version": 1e400}, "root": {"content": {"uri": "a.glb"}}}"#.to_vec(),
            br#"{"asset": {"generator": "\ud800"}, "root": {"content": {"uri": "a.glb"}}}"#.to_vec(),
            b"{\"asset\": {\"generator\": \"\xff\"}, \"root\": {\"content\": {\"uri\": \"a.glb\"}}}".to_vec(),
        ] {
            let error = references(FileKind::Tileset, &corrupt[..]).unwrap_err();
            assert!(matches!(error, WalkError::Json(_)), "{error}");
        }
    }

    #[test]
    fn a_document_without_a_root_tile_is_not_a_tileset() {
        let err = tileset_uris(&json!({"asset": {}})).unwrap_err();
        assert!(err.to_string().contains("no `root` tile"), "{err}");
        assert!(references(FileKind::Tileset, &b"{ not json"[..]).is_err());
    }

    fn gltf_text_uris(text: &str) -> Result<Vec<String>, WalkError> {
        gltf_uris(serde_json::Deserializer::from_str(text))
    }

    /// What a whole parsed document names: the reading the streamed one must agree with.
    fn parsed_gltf_uris(bytes: &[u8]) -> Option<Vec<String>> {
        let gltf: Value = serde_json::from_slice(bytes).ok()?;
        if !gltf.is_object() || gltf.get("asset").is_none() {
            return None;
        }
        let uris = ["buffers", "images"]
            .iter()
            .filter_map(|key| gltf.get(key).and_then(Value::as_array))
            .flatten()
            .filter_map(|item| item.get("uri").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        Some(dedup(uris))
    }

    #[test]
    fn lists_gltf_buffers_and_images() {
        let gltf = json!({
            "images": [{"uri": "textures/a.png"}, {"bufferView": 0}, {"uri": "data:image/png;base64,AA"}],
            "asset": {"version": "2.0"},
            "buffers": [{"uri": "mesh.bin", "byteLength": 4}, {"byteLength": 8}, {"uri": "mesh.bin"}]
        });
        assert_eq!(
            gltf_text_uris(&gltf.to_string()).unwrap(),
            ["mesh.bin", "textures/a.png", "data:image/png;base64,AA"],
            "buffers first, each once"
        );
    }

    #[test]
    fn a_gltf_object_without_an_asset_is_not_a_gltf() {
        let err = gltf_text_uris(r#"{"buffers": [{"uri": "mesh.bin"}]}"#).unwrap_err();
        assert!(err.to_string().contains("no `asset`"), "{err}");
        // A whole document of another shape is not a glTF, rather than a broken one.
        for other in [r#"[{"asset": {}}]"#, r#""asset""#, "7", "null"] {
            let error = gltf_text_uris(other).unwrap_err();
            assert!(matches!(error, WalkError::Shape(_)), "{other}: {error}");
        }
    }

    #[test]
    fn a_streamed_gltf_names_what_the_parsed_document_names() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let mut documents: Vec<Vec<u8>> = [
            r#"{"asset": null, "buffers": [{"uri": "a.bin"}]}"#,
            r#"{"asset": {}, "buffers": {"uri": "a.bin"}, "images": "b.png"}"#,
            r#"{"asset": {}, "buffers": [1, "x", null, [{"uri": "in-array.bin"}], {"uri": 3}, {"uri": ["c"]}, {"uri": "ok.bin"}]}"#,
            r#"{"asset": {}, "buffers": [{"uri": {"uri": "in-object.bin"}}, {"uri": true}, {"uri": -1.5}, {"uri": "ok.bin"}]}"#,
            r#"{"asset": {}, "buffers": [{"uri": "first.bin"}], "buffers": [{"uri": "last.bin"}]}"#,
            r#"{"asset": {}, "buffers": [{"uri": "first.bin"}], "buffers": 7}"#,
            r#"{"asset": {}, "images": [{"uri": "a.png", "uri": "b.png"}, {"uri": "c.png", "uri": null}]}"#,
            r#"{"asset": {}, "\u0062uffers": [{"\u0075ri": "esc\u0061ped.bin"}]}"#,
            r#"{"asset": {}, "extensions": {"buffers": [{"uri": "nested.bin"}]}, "meshes": [{"uri": "m.bin"}]}"#,
            r#"{"asset": {}, "buffers": [{"uri": "a.bin"}]} trailing"#,
            r#"{"asset": {}, "buffers": [{"uri": "a.bin"}"#,
            r#"{"Asset": {}, "Buffers": [{"uri": "a.bin"}]}"#,
            "{}",
            // Corrupt parts the reader does not look into are still checked, as a parse would.
            r#"{"asset": {"v": 1e400}, "buffers": [{"uri": "a.bin"}]}"#,
            r#"{"asset": {}, "buffers": [{"uri": "a.bin", "byteLength": 1e400}]}"#,
            r#"{"asset": {"generator": "\ud800"}, "buffers": [{"uri": "a.bin"}]}"#,
        ]
        .iter()
        .map(|text| text.as_bytes().to_vec())
        .collect();
        documents.push(
            b"{\"asset\": {}, \"extras\": \"\xff\xfe\", \"buffers\": [{\"uri\": \"a.bin\"}]}"
                .to_vec(),
        );
        documents
            .push(b"{\"asset\": {}, \"\xff\": 1, \"buffers\": [{\"uri\": \"a.bin\"}]}".to_vec());
        for depth in [120, 127, 128, 200] {
            documents.push(
                format!(
                    r#"{{"asset": {{}}, "extras": {}, "buffers": [{{"uri": "a.bin"}}]}}"#,
                    nested(depth)
                )
                .into_bytes(),
            );
        }
        documents.push(
            format!(
                r#"{{"asset": {{}}, "buffers": [{{"uri": {}}}]}}"#,
                nested(300)
            )
            .into_bytes(),
        );
        for bytes in &documents {
            let expected = parsed_gltf_uris(bytes);
            let text = String::from_utf8_lossy(bytes);
            // As a `.glb`'s JSON chunk is read (from memory) and as a `.gltf` is (a stream).
            let streamed = gltf_uris(serde_json::Deserializer::from_slice(bytes)).ok();
            assert_eq!(streamed, expected, "{text}");
            let read = gltf_uris(serde_json::Deserializer::from_reader(&bytes[..])).ok();
            assert_eq!(read, expected, "{text}");
        }
    }

    #[test]
    fn children_and_tiles_of_the_wrong_shape_are_skipped_whole_and_the_walk_goes_on() {
        // `children` as an object and a tile as an array name nothing, and what follows them
        // in the same document is still read.
        let tileset = json!({
            "asset": {"version": "1.1"},
            "root": {
                "children": [
                    [{"content": {"uri": "in-array.glb"}}, 7],
                    {
                        "children": {"a": {"content": {"uri": "in-object.glb"}}, "b": [1, 2]},
                        "content": {"uri": "after-object.glb"},
                    },
                    {"content": {"uri": "after-array.glb"}},
                ],
                "content": {"uri": "root.glb"},
            },
            "schemaUri": "schema.json",
        });
        let mut uris = tileset_uris(&tileset).unwrap();
        uris.sort();
        assert_eq!(
            uris,
            [
                "after-array.glb",
                "after-object.glb",
                "root.glb",
                "schema.json"
            ]
        );
    }

    #[test]
    fn reads_the_json_chunk_of_a_glb() {
        let json = br#"{"asset":{"version":"2.0"},"images":[{"uri":"t.png"}]}  "#;
        let mut glb = Vec::new();
        glb.extend_from_slice(b"glTF");
        glb.extend_from_slice(&2u32.to_le_bytes());
        glb.extend_from_slice(&((20 + json.len()) as u32).to_le_bytes());
        glb.extend_from_slice(&(json.len() as u32).to_le_bytes());
        glb.extend_from_slice(&0x4E4F_534Au32.to_le_bytes());
        glb.extend_from_slice(json);
        assert_eq!(references(FileKind::Glb, &glb[..]).unwrap(), ["t.png"]);
        assert!(references(FileKind::Glb, &glb[..30]).is_err());
        assert!(references(FileKind::Glb, &b"nope"[..]).is_err());
    }

    #[test]
    fn a_glb_json_chunk_may_declare_64_mib_and_not_one_byte_more() {
        let declaring = |length: u32| {
            let mut glb = b"glTF".to_vec();
            glb.extend_from_slice(&2u32.to_le_bytes());
            glb.extend_from_slice(&length.saturating_add(20).to_le_bytes());
            glb.extend_from_slice(&length.to_le_bytes());
            glb.extend_from_slice(&0x4E4F_534Au32.to_le_bytes());
            glb
        };
        // The declared length is judged before anything is read.
        let err = glb_uris(&declaring((64 << 20) + 1)[..]).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
        let err = glb_uris(&declaring(64 << 20)[..]).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn kinds_follow_extensions() {
        let kind = |p: &str| FileKind::of(&TilePath::parse(p).unwrap());
        assert_eq!(kind("a/tileset.JSON"), FileKind::Tileset);
        assert_eq!(kind("m.gltf"), FileKind::Gltf);
        assert_eq!(kind("m.glb"), FileKind::Glb);
        assert_eq!(kind("m.b3dm"), FileKind::Leaf);
        assert_eq!(kind("noext"), FileKind::Leaf);
    }
}
