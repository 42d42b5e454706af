//! 3D Tiles 1.1 implicit tiling: which subtree, content and buffer files an implicit tileset
//! has, read from its subtree files.
//!
//! An implicit root tile names no file directly: its `implicitTiling` gives a subdivision
//! scheme (quadtree or octree), how many levels each subtree file covers (`subtreeLevels`),
//! how many levels exist at all (`availableLevels`) and a URI template for subtree files; its
//! `content.uri` (or each `contents[].uri`) is a URI template for tile contents. Each subtree
//! file says, as a constant or as an LSB-first bitstream in Morton order per level, which of its
//! tiles exist, which of them have each content, and which child subtrees exist below its
//! deepest level. This module reads subtree files in both forms (binary `.subtree` with magic
//! `subt`, and JSON), with their internal and external buffers, and lists exactly the files a
//! client would load: the available contents and child subtrees, nothing else.
//!
//! Template URIs resolve against the tileset JSON holding the implicit root; buffer URIs
//! against the subtree file.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::TilePath;
use crate::walk::{FileKind, Reference, WalkError, Walked};

/// The most bits one availability may have: 2^24 (a 2 MiB bitstream), which allows quadtree
/// subtrees of up to 12 levels and octree subtrees of up to 8. Real tilesets use 4 to 10.
const MAX_AVAILABILITY_BITS: u64 = 1 << 24;

/// The most levels an implicit tree may have: tile coordinates then fit in 32 bits, as in
/// CesiumJS and cesium-native.
const MAX_AVAILABLE_LEVELS: u64 = 32;

/// The most files one subtree may name. A subtree file of a hundred bytes can claim every
/// tile of twelve levels with constants; past this, it is refused rather than followed.
const MAX_SUBTREE_FILES: u64 = 1 << 20;

/// The largest subtree JSON (a JSON subtree, or the JSON chunk of a binary one) read.
const MAX_SUBTREE_JSON: u64 = 64 * 1024 * 1024;

/// The magic of a binary subtree, `subt`.
const SUBTREE_MAGIC: &[u8; 4] = b"subt";

/// How an implicit tree divides a tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubdivisionScheme {
    /// Four children per tile, halving `x` and `y`.
    Quadtree,
    /// Eight children per tile, halving `x`, `y` and `z`.
    Octree,
}

impl SubdivisionScheme {
    /// Coordinates interleaved in a Morton index: 2 or 3.
    fn dimensions(self) -> u32 {
        match self {
            Self::Quadtree => 2,
            Self::Octree => 3,
        }
    }

    /// Children per tile: 4 or 8.
    fn branching(self) -> u64 {
        1 << self.dimensions()
    }

    /// Tiles at `depth` below one tile: `N^depth`.
    fn tiles_at(self, depth: u32) -> u64 {
        1 << (self.dimensions() * depth)
    }

    /// Tiles in a subtree of `levels` levels: `(N^levels - 1) / (N - 1)`.
    fn tiles_in(self, levels: u32) -> u64 {
        (self.tiles_at(levels) - 1) / (self.branching() - 1)
    }
}

/// A tile of an implicit tree: its level (0 at the implicit root) and its place in that level.
/// `z` is always 0 in a quadtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileCoord {
    /// Depth below the implicit root.
    pub level: u32,
    /// Column.
    pub x: u64,
    /// Row.
    pub y: u64,
    /// Layer (octrees only).
    pub z: u64,
}

impl TileCoord {
    /// The implicit root tile.
    pub const ROOT: TileCoord = TileCoord {
        level: 0,
        x: 0,
        y: 0,
        z: 0,
    };

    /// The descendant `depth` levels below this tile with the Morton index `morton` relative
    /// to it (bits interleaved `x`, `y`[, `z`] from the least significant).
    fn descendant(self, scheme: SubdivisionScheme, depth: u32, morton: u64) -> TileCoord {
        let dims = scheme.dimensions();
        let mut local = [0u64; 3];
        for bit in 0..depth {
            for (axis, coord) in local.iter_mut().enumerate().take(dims as usize) {
                *coord |= ((morton >> (bit * dims + axis as u32)) & 1) << bit;
            }
        }
        TileCoord {
            level: self.level + depth,
            x: (self.x << depth) | local[0],
            y: (self.y << depth) | local[1],
            z: if dims == 3 {
                (self.z << depth) | local[2]
            } else {
                0
            },
        }
    }
}

/// A URI template with `{level}`, `{x}`, `{y}` and, for octrees, `{z}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Level,
    X,
    Y,
    Z,
}

impl Template {
    /// Parses a template for `scheme`. Any other `{...}` placeholder, `{z}` in a quadtree, an
    /// unbalanced brace or a missing variable is an error naming it: a template this does not
    /// understand would name files that do not exist, or one file for many tiles.
    pub fn parse(text: &str, scheme: SubdivisionScheme) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut seen = [false; 4];
        let mut rest = text;
        while !rest.is_empty() {
            let Some(open) = rest.find(['{', '}']) else {
                parts.push(Part::Text(rest.to_owned()));
                break;
            };
            if rest[open..].starts_with('}') {
                return Err(format!("a `}}` without its `{{` in template `{text}`"));
            }
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find(['{', '}'])
                .filter(|&i| after[i..].starts_with('}'))
                .ok_or_else(|| format!("an unclosed `{{` in template `{text}`"))?;
            let (part, slot) = match &after[..close] {
                "level" => (Part::Level, 0),
                "x" => (Part::X, 1),
                "y" => (Part::Y, 2),
                "z" if scheme == SubdivisionScheme::Octree => (Part::Z, 3),
                "z" => return Err(format!("`{{z}}` in the quadtree template `{text}`")),
                other => {
                    return Err(format!(
                        "unknown template variable `{{{other}}}` in `{text}`"
                    ));
                }
            };
            seen[slot] = true;
            parts.push(part);
            rest = &after[close + 1..];
        }
        let required = if scheme == SubdivisionScheme::Octree {
            4
        } else {
            3
        };
        if !seen[..required].iter().all(|s| *s) {
            let names = if required == 4 {
                "{level}, {x}, {y} and {z}"
            } else {
                "{level}, {x} and {y}"
            };
            return Err(format!("template `{text}` does not use all of {names}"));
        }
        Ok(Template {
            text: text.to_owned(),
            parts,
        })
    }

    /// The URI of the tile at `coord`.
    pub fn expand(&self, coord: TileCoord) -> String {
        let mut uri = String::with_capacity(self.text.len() + 8);
        for part in &self.parts {
            match part {
                Part::Text(text) => uri.push_str(text),
                Part::Level => uri.push_str(&coord.level.to_string()),
                Part::X => uri.push_str(&coord.x.to_string()),
                Part::Y => uri.push_str(&coord.y.to_string()),
                Part::Z => uri.push_str(&coord.z.to_string()),
            }
        }
        uri
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.text)
    }
}

/// An implicit root tile: its tree's shape, its templates, and the tileset JSON they are
/// relative to.
#[derive(Debug, PartialEq, Eq)]
pub struct ImplicitTiling {
    scheme: SubdivisionScheme,
    subtree_levels: u32,
    available_levels: u32,
    subtrees: Template,
    contents: Vec<Template>,
    tileset: Arc<TilePath>,
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

    /// The reference to the implicit root's own subtree, the one at level 0.
    pub fn root_subtree(self: &Arc<Self>) -> Reference {
        self.subtree_reference(TileCoord::ROOT)
    }

    fn subtree_reference(self: &Arc<Self>, root: TileCoord) -> Reference {
        Reference {
            uri: self.subtrees.expand(root),
            base: Some(self.tileset.clone()),
            kind: Some(FileKind::Subtree(Arc::new(SubtreeContext {
                tiling: self.clone(),
                root,
            }))),
        }
    }
}

/// What reading one subtree file needs: the implicit root it belongs to and the coordinates
/// of its root tile.
#[derive(Debug, PartialEq, Eq)]
pub struct SubtreeContext {
    tiling: Arc<ImplicitTiling>,
    root: TileCoord,
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

/// A subtree whose availability lies (partly) in external buffers, waiting for them: each is
/// fetched in turn, carrying this along, and the last one yields the subtree's files.
#[derive(Debug)]
pub struct PendingSubtree {
    context: Arc<SubtreeContext>,
    /// The subtree file, which buffer URIs are relative to.
    subtree: Arc<TilePath>,
    parsed: Arc<Parsed>,
    /// The availability bytes read so far, by buffer view.
    views: Vec<Option<Arc<[u8]>>>,
    /// The external buffers still to read, the first one being fetched now.
    waiting: Vec<ExternalBuffer>,
}

impl PartialEq for PendingSubtree {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for PendingSubtree {}

/// One external buffer file and the buffers (by index) that name it.
#[derive(Debug, Clone)]
struct ExternalBuffer {
    uri: String,
    buffers: Vec<usize>,
}

/// A subtree's availability, checked against its buffers.
#[derive(Debug)]
struct Parsed {
    buffers: Vec<BufferJson>,
    views: Vec<ViewJson>,
    tiles: Availability,
    contents: Vec<Availability>,
    children: Availability,
}

#[derive(Debug, Clone, Copy)]
enum Availability {
    Constant(bool),
    /// A bitstream in this buffer view, of which the first `bytes` are read.
    Bitstream {
        view: usize,
        bytes: u64,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubtreeJson {
    #[serde(default)]
    buffers: Vec<BufferJson>,
    #[serde(default)]
    buffer_views: Vec<ViewJson>,
    tile_availability: Option<AvailabilityJson>,
    content_availability: Option<OneOrMany>,
    child_subtree_availability: Option<AvailabilityJson>,
    #[serde(default)]
    extensions: SubtreeExtensions,
}

/// `contentAvailability`: an array in 3D Tiles 1.1; a single object in drafts CesiumJS
/// still reads.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(AvailabilityJson),
    Many(Vec<AvailabilityJson>),
}

#[derive(Debug, Default, Deserialize)]
struct SubtreeExtensions {
    /// 3D Tiles 1.0's multiple contents keep their availability here.
    #[serde(rename = "3DTILES_multiple_contents")]
    multiple_contents: Option<MultipleContents>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MultipleContents {
    content_availability: Option<Vec<AvailabilityJson>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BufferJson {
    uri: Option<String>,
    byte_length: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ViewJson {
    buffer: usize,
    #[serde(default)]
    byte_offset: u64,
    byte_length: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AvailabilityJson {
    /// `bufferView` in the 3D Tiles 1.0 extension.
    #[serde(alias = "bufferView")]
    bitstream: Option<usize>,
    constant: Option<u64>,
}

/// Why a subtree cannot be read.
fn bad(path: &TilePath, reason: impl Into<String>) -> WalkError {
    WalkError::Unsupported {
        uri: path.to_string(),
        reason: reason.into(),
    }
}

/// The files a subtree file names: the contents of its available tiles, its available child
/// subtrees (within `availableLevels`), and its external buffers. When its availability lies
/// in external buffers, the first of them carries the rest of the work (see
/// [`read_subtree_buffer`]).
pub fn read_subtree(
    context: &Arc<SubtreeContext>,
    path: &TilePath,
    mut reader: impl Read,
) -> Result<Walked, WalkError> {
    let mut magic = Vec::with_capacity(4);
    (&mut reader).take(4).read_to_end(&mut magic)?;
    let (json, binary_length) = if magic == SUBTREE_MAGIC {
        let mut header = [0u8; 20];
        reader
            .read_exact(&mut header)
            .map_err(|_| bad(path, "binary subtree truncated in its header"))?;
        let version = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        if version != 1 {
            return Err(bad(
                path,
                format!("binary subtree version {version}, not 1"),
            ));
        }
        let json_length = u64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
        let binary_length = u64::from_le_bytes(header[12..20].try_into().expect("8 bytes"));
        if json_length > MAX_SUBTREE_JSON {
            return Err(bad(
                path,
                format!("subtree JSON chunk too large ({json_length} bytes)"),
            ));
        }
        let mut json = Vec::new();
        (&mut reader).take(json_length).read_to_end(&mut json)?;
        if json.len() as u64 != json_length {
            return Err(bad(path, "binary subtree truncated in its JSON chunk"));
        }
        // The chunk is padded with spaces to 8 bytes; some writers pad with zeros.
        while json.last().is_some_and(|b| *b == 0) {
            json.pop();
        }
        (json, Some(binary_length))
    } else {
        let mut json = magic;
        (&mut reader)
            .take(MAX_SUBTREE_JSON + 1)
            .read_to_end(&mut json)?;
        if json.len() as u64 > MAX_SUBTREE_JSON {
            return Err(bad(path, "subtree JSON too large"));
        }
        (json, None)
    };
    let document: SubtreeJson =
        serde_json::from_slice(&json).map_err(|e| bad(path, format!("not a subtree: {e}")))?;
    let parsed = Arc::new(check(&context.tiling, document, binary_length, path)?);

    let mut views: Vec<Option<Arc<[u8]>>> = vec![None; parsed.views.len()];
    let wanted = wanted_views(&parsed);
    if let Some(binary_length) = binary_length {
        let internal: Vec<(usize, u64, u64)> = wanted
            .iter()
            .filter(|(view, _)| parsed.views[*view].buffer == 0 && parsed.buffers[0].uri.is_none())
            .map(|&(view, bytes)| (view, parsed.views[view].byte_offset, bytes))
            .collect();
        let ranges: Vec<(u64, u64)> = internal.iter().map(|&(_, o, b)| (o, b)).collect();
        let read = read_ranges(&mut reader, binary_length, &ranges).map_err(|e| {
            bad(
                path,
                format!("binary subtree truncated in its binary chunk: {e}"),
            )
        })?;
        for ((view, _, _), bytes) in internal.into_iter().zip(read) {
            views[view] = Some(bytes.into());
        }
        let mut trailing = [0u8; 1];
        if reader.read(&mut trailing)? != 0 {
            return Err(bad(path, "binary subtree longer than its header says"));
        }
    }

    // External buffers: the ones availability needs are read in turn; the others (metadata)
    // are files of the tileset like any other.
    let mut waiting: Vec<ExternalBuffer> = Vec::new();
    let mut others = Vec::new();
    for (index, buffer) in parsed.buffers.iter().enumerate() {
        let Some(uri) = &buffer.uri else { continue };
        let needed = wanted
            .iter()
            .any(|(view, _)| parsed.views[*view].buffer == index);
        if !needed {
            others.push(uri.clone());
        } else if let Some(same) = waiting.iter_mut().find(|w| w.uri == *uri) {
            same.buffers.push(index);
        } else {
            waiting.push(ExternalBuffer {
                uri: uri.clone(),
                buffers: vec![index],
            });
        }
    }
    let subtree = Arc::new(path.clone());
    let mut walked = Walked::default();
    for uri in others {
        // A file that also holds availability is fetched once, for that.
        let known =
            walked.references.iter().any(|r| r.uri == uri) || waiting.iter().any(|w| w.uri == uri);
        if !known {
            walked.references.push(Reference {
                uri,
                base: Some(subtree.clone()),
                kind: Some(FileKind::Leaf),
            });
        }
    }
    let pending = PendingSubtree {
        context: context.clone(),
        subtree,
        parsed,
        views,
        waiting,
    };
    advance(pending, &mut walked)?;
    Ok(walked)
}

/// The files a subtree names once the external buffer `path`, the first its `pending` state
/// waits for, is read: the next buffer it waits for, or its contents and child subtrees.
pub fn read_subtree_buffer(
    pending: &PendingSubtree,
    path: &TilePath,
    mut reader: impl Read,
) -> Result<Walked, WalkError> {
    let Some((current, rest)) = pending.waiting.split_first() else {
        return Err(bad(path, "a subtree buffer that no subtree waits for"));
    };
    let wanted: Vec<(usize, u64, u64)> = wanted_views(&pending.parsed)
        .into_iter()
        .filter(|(view, _)| {
            current
                .buffers
                .contains(&pending.parsed.views[*view].buffer)
        })
        .map(|(view, bytes)| (view, pending.parsed.views[view].byte_offset, bytes))
        .collect();
    // Buffers sharing this file may declare different lengths; the file must hold the longest.
    let declared = current
        .buffers
        .iter()
        .map(|b| pending.parsed.buffers[*b].byte_length)
        .max()
        .unwrap_or(0);
    let ranges: Vec<(u64, u64)> = wanted.iter().map(|&(_, o, b)| (o, b)).collect();
    let read = read_ranges(&mut reader, declared, &ranges).map_err(|e| {
        bad(
            path,
            format!("subtree buffer shorter than its byteLength {declared}: {e}"),
        )
    })?;
    let mut views = pending.views.clone();
    for ((view, _, _), bytes) in wanted.into_iter().zip(read) {
        views[view] = Some(bytes.into());
    }
    let next = PendingSubtree {
        context: pending.context.clone(),
        subtree: pending.subtree.clone(),
        parsed: pending.parsed.clone(),
        views,
        waiting: rest.to_vec(),
    };
    let mut walked = Walked::default();
    advance(next, &mut walked)?;
    Ok(walked)
}

/// Asks for the next external buffer `pending` waits for, or, with none left, lists the
/// subtree's contents and child subtrees.
fn advance(pending: PendingSubtree, walked: &mut Walked) -> Result<(), WalkError> {
    if let Some(next) = pending.waiting.first() {
        let uri = next.uri.clone();
        let base = Some(pending.subtree.clone());
        walked.references.push(Reference {
            uri,
            base,
            kind: Some(FileKind::SubtreeBuffer(Arc::new(pending))),
        });
        return Ok(());
    }
    available(&pending, walked)
}

/// Checks a subtree document against its tiling and buffers.
fn check(
    tiling: &ImplicitTiling,
    document: SubtreeJson,
    binary_length: Option<u64>,
    path: &TilePath,
) -> Result<Parsed, WalkError> {
    for (index, buffer) in document.buffers.iter().enumerate() {
        match (&buffer.uri, binary_length) {
            (Some(uri), _)
                if uri
                    .get(..5)
                    .is_some_and(|s| s.eq_ignore_ascii_case("data:")) =>
            {
                return Err(bad(
                    path,
                    format!("buffer {index} is a data: URI, which subtrees may not use"),
                ));
            }
            (Some(_), _) => {}
            (None, Some(binary)) if index == 0 => {
                if buffer.byte_length > binary {
                    return Err(bad(
                        path,
                        format!(
                            "the internal buffer's byteLength {} exceeds the binary chunk ({binary} bytes)",
                            buffer.byte_length
                        ),
                    ));
                }
            }
            (None, Some(_)) => {
                return Err(bad(
                    path,
                    format!("buffer {index} has no uri; only the first buffer may be internal"),
                ));
            }
            (None, None) => {
                return Err(bad(
                    path,
                    format!("buffer {index} has no uri in a JSON subtree"),
                ));
            }
        }
    }
    for (index, view) in document.buffer_views.iter().enumerate() {
        let Some(buffer) = document.buffers.get(view.buffer) else {
            return Err(bad(
                path,
                format!(
                    "bufferView {index} names buffer {}, which does not exist",
                    view.buffer
                ),
            ));
        };
        let end = view.byte_offset.checked_add(view.byte_length);
        if end.is_none_or(|end| end > buffer.byte_length) {
            return Err(bad(
                path,
                format!(
                    "bufferView {index} runs past the end of buffer {}",
                    view.buffer
                ),
            ));
        }
    }
    let scheme = tiling.scheme;
    let tile_bits = scheme.tiles_in(tiling.subtree_levels);
    let child_bits = scheme.tiles_at(tiling.subtree_levels);
    debug_assert!(child_bits <= MAX_AVAILABILITY_BITS);
    let availability = |name: &str, given: Option<&AvailabilityJson>, bits: u64| {
        let given = given.ok_or_else(|| bad(path, format!("subtree without {name}")))?;
        match (given.bitstream, given.constant) {
            (Some(_), Some(_)) => Err(bad(
                path,
                format!("{name} has both a bitstream and a constant"),
            )),
            (None, Some(constant @ (0 | 1))) => Ok(Availability::Constant(constant == 1)),
            (None, Some(other)) => Err(bad(
                path,
                format!("{name} has the constant {other}; it must be 0 or 1"),
            )),
            (None, None) => Err(bad(
                path,
                format!("{name} has neither a bitstream nor a constant"),
            )),
            (Some(view), None) => {
                let bytes = bits.div_ceil(8);
                let Some(found) = document.buffer_views.get(view) else {
                    return Err(bad(
                        path,
                        format!("{name} names bufferView {view}, which does not exist"),
                    ));
                };
                if found.byte_length < bytes {
                    return Err(bad(
                        path,
                        format!(
                            "{name}'s bitstream has {} bytes where {bits} bits need {bytes}",
                            found.byte_length
                        ),
                    ));
                }
                Ok(Availability::Bitstream { view, bytes })
            }
        }
    };
    let tiles = availability(
        "tileAvailability",
        document.tile_availability.as_ref(),
        tile_bits,
    )?;
    let children = availability(
        "childSubtreeAvailability",
        document.child_subtree_availability.as_ref(),
        child_bits,
    )?;
    let legacy = document
        .extensions
        .multiple_contents
        .as_ref()
        .and_then(|m| m.content_availability.as_deref());
    let listed = match &document.content_availability {
        Some(OneOrMany::One(one)) => std::slice::from_ref(one),
        Some(OneOrMany::Many(many)) => many.as_slice(),
        None => legacy.unwrap_or_default(),
    };
    // Without content templates there is nothing to fetch, whatever a stray
    // contentAvailability says.
    let listed = if tiling.contents.is_empty() {
        &[][..]
    } else {
        listed
    };
    if listed.len() != tiling.contents.len() {
        return Err(bad(
            path,
            format!(
                "{} contentAvailability for {} content template(s) of the implicit root",
                listed.len(),
                tiling.contents.len()
            ),
        ));
    }
    let contents = listed
        .iter()
        .enumerate()
        .map(|(i, given)| {
            availability(&format!("contentAvailability[{i}]"), Some(given), tile_bits)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Parsed {
        buffers: document.buffers,
        views: document.buffer_views,
        tiles,
        contents,
        children,
    })
}

/// The buffer views availability reads, each once, with how many of their bytes it needs.
fn wanted_views(parsed: &Parsed) -> Vec<(usize, u64)> {
    let mut wanted: Vec<(usize, u64)> = Vec::new();
    let all = std::iter::once(&parsed.tiles)
        .chain(&parsed.contents)
        .chain(std::iter::once(&parsed.children));
    for availability in all {
        if let Availability::Bitstream { view, bytes } = *availability {
            match wanted.iter_mut().find(|(v, _)| *v == view) {
                Some((_, known)) => *known = (*known).max(bytes),
                None => wanted.push((view, bytes)),
            }
        }
    }
    wanted
}

/// Reads the byte ranges `(offset, length)` of the next `total` bytes of `reader`, skipping
/// the rest, and fails unless all `total` bytes are there. Memory: the ranges only.
fn read_ranges(
    reader: &mut impl Read,
    total: u64,
    ranges: &[(u64, u64)],
) -> io::Result<Vec<Vec<u8>>> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges[i].0);
    // Contiguous stretches read so far: (start, bytes).
    let mut stretches: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut position = 0u64;
    let mut limited = reader.take(total);
    for &i in &order {
        let (start, length) = ranges[i];
        let end = start + length;
        if end > total {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "range past the end",
            ));
        }
        let extends = stretches
            .last()
            .is_some_and(|(s, bytes)| start <= s + bytes.len() as u64);
        if !extends {
            skip(&mut limited, start - position)?;
            position = start;
            stretches.push((start, Vec::new()));
        }
        if end > position {
            let stretch = &mut stretches.last_mut().expect("one stretch at least").1;
            let before = stretch.len();
            (&mut limited).take(end - position).read_to_end(stretch)?;
            if (stretch.len() - before) as u64 != end - position {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file ends early",
                ));
            }
            position = end;
        }
    }
    skip(&mut limited, total - position)?;
    Ok(ranges
        .iter()
        .map(|&(start, length)| {
            let (s, bytes) = stretches
                .iter()
                .rev()
                .find(|(s, _)| *s <= start)
                .expect("every range lies in a stretch");
            let from = (start - s) as usize;
            bytes[from..from + length as usize].to_vec()
        })
        .collect())
}

/// Reads and drops `count` bytes; an error if the stream ends first.
fn skip(reader: &mut impl Read, count: u64) -> io::Result<()> {
    let skipped = io::copy(&mut reader.take(count), &mut io::sink())?;
    if skipped == count {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file ends early",
        ))
    }
}

/// Availability with its bytes at hand.
enum Bits<'a> {
    Constant(bool),
    Stream(&'a [u8]),
}

impl Bits<'_> {
    /// How many of the first `len` bits are set.
    fn ones(&self, len: u64) -> u64 {
        match self {
            Bits::Constant(true) => len,
            Bits::Constant(false) => 0,
            Bits::Stream(bytes) => {
                let whole = (len / 8) as usize;
                let full: u64 = bytes[..whole]
                    .iter()
                    .map(|b| u64::from(b.count_ones()))
                    .sum();
                let rest = len % 8;
                let tail = if rest == 0 {
                    0
                } else {
                    u64::from((bytes[whole] & ((1u8 << rest) - 1)).count_ones())
                };
                full + tail
            }
        }
    }

    fn get(&self, index: u64) -> bool {
        match self {
            Bits::Constant(value) => *value,
            // LSB first: bit i is bit (i mod 8) of byte (i div 8).
            Bits::Stream(bytes) => (bytes[(index / 8) as usize] >> (index % 8)) & 1 == 1,
        }
    }
}

/// Lists the subtree's available contents and child subtrees. A tile counts only when its
/// parent does (a client never reaches it otherwise), and nothing at or beyond
/// `availableLevels` counts.
fn available(pending: &PendingSubtree, walked: &mut Walked) -> Result<(), WalkError> {
    let bits = |availability: &Availability| match *availability {
        Availability::Constant(value) => Bits::Constant(value),
        Availability::Bitstream { view, .. } => Bits::Stream(
            pending.views[view]
                .as_deref()
                .expect("every availability view was read"),
        ),
    };
    let context = &pending.context;
    let tiling = &context.tiling;
    let scheme = tiling.scheme;
    let dims = scheme.dimensions();
    let root = context.root;
    let tiles = bits(&pending.parsed.tiles);
    let contents: Vec<Bits<'_>> = pending.parsed.contents.iter().map(bits).collect();
    let children = bits(&pending.parsed.children);
    // Set bits bound what the subtree names (unreachable ones name nothing): refuse a subtree
    // that claims too much before building anything.
    let (tile_bits, child_bits) = (
        scheme.tiles_in(tiling.subtree_levels),
        scheme.tiles_at(tiling.subtree_levels),
    );
    let tile_count = tiles.ones(tile_bits);
    let claimed = contents
        .iter()
        .map(|c| c.ones(tile_bits).min(tile_count))
        .sum::<u64>()
        + children.ones(child_bits);
    if claimed > MAX_SUBTREE_FILES {
        return Err(bad(
            &pending.subtree,
            format!(
                "names up to {claimed} files, more than the {MAX_SUBTREE_FILES} this reader \
                 follows from one subtree"
            ),
        ));
    }
    let levels = tiling
        .subtree_levels
        .min(tiling.available_levels.saturating_sub(root.level));
    let mut parents: Vec<bool> = Vec::new();
    for level in 0..levels {
        let offset = scheme.tiles_in(level);
        let count = scheme.tiles_at(level);
        let mut here = vec![false; count as usize];
        for morton in 0..count {
            let reachable = level == 0 || parents[(morton >> dims) as usize];
            if !reachable || !tiles.get(offset + morton) {
                continue;
            }
            here[morton as usize] = true;
            let coord = root.descendant(scheme, level, morton);
            for (template, content) in tiling.contents.iter().zip(&contents) {
                if content.get(offset + morton) {
                    walked.references.push(Reference {
                        uri: template.expand(coord),
                        base: Some(tiling.tileset.clone()),
                        kind: None,
                    });
                }
            }
        }
        parents = here;
    }
    // Child subtrees start past this subtree's last level; when that is past availableLevels
    // there are none (and when this subtree is cut short by availableLevels, it is).
    let deeper = root.level + tiling.subtree_levels;
    if deeper >= tiling.available_levels {
        return Ok(());
    }
    for morton in 0..scheme.tiles_at(tiling.subtree_levels) {
        if parents[(morton >> dims) as usize] && children.get(morton) {
            let coord = root.descendant(scheme, tiling.subtree_levels, morton);
            walked.references.push(tiling.subtree_reference(coord));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tiling(
        scheme: &str,
        subtree_levels: u32,
        available_levels: u32,
        contents: &[&str],
    ) -> Arc<ImplicitTiling> {
        let subtrees = if scheme == "OCTREE" {
            "s/{level}/{x}/{y}/{z}.subtree"
        } else {
            "s/{level}/{x}/{y}.subtree"
        };
        let implicit = json!({
            "subdivisionScheme": scheme,
            "subtreeLevels": subtree_levels,
            "availableLevels": available_levels,
            "subtrees": {"uri": subtrees},
        });
        let contents: Vec<Value> = contents.iter().map(|uri| json!({"uri": uri})).collect();
        let contents = json!(contents);
        let path = TilePath::parse("set/tileset.json").unwrap();
        Arc::new(ImplicitTiling::from_tile(&implicit, None, Some(&contents), &path).unwrap())
    }

    fn context(tiling: &Arc<ImplicitTiling>, root: TileCoord) -> Arc<SubtreeContext> {
        Arc::new(SubtreeContext::new(tiling.clone(), root))
    }

    fn coord(level: u32, x: u64, y: u64, z: u64) -> TileCoord {
        TileCoord { level, x, y, z }
    }

    /// A bitstream of `len` bits with the listed bits set, LSB first.
    fn bits(len: u64, set: &[u64]) -> Vec<u8> {
        let mut bytes = vec![0u8; len.div_ceil(8) as usize];
        for &i in set {
            bytes[(i / 8) as usize] |= 1 << (i % 8);
        }
        bytes
    }

    /// A binary subtree with `json` and `binary`, padded as the specification asks.
    fn binary_subtree(json: &Value, binary: &[u8]) -> Vec<u8> {
        let mut text = serde_json::to_vec(json).unwrap();
        while !text.len().is_multiple_of(8) {
            text.push(b' ');
        }
        let mut binary = binary.to_vec();
        while !binary.len().is_multiple_of(8) {
            binary.push(0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(b"subt");
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(&(binary.len() as u64).to_le_bytes());
        out.extend_from_slice(&text);
        out.extend_from_slice(&binary);
        out
    }

    /// Concatenates bitstreams 8-byte aligned; returns the buffer and its views.
    fn pack(streams: &[Vec<u8>]) -> (Vec<u8>, Vec<Value>) {
        let mut buffer = Vec::new();
        let mut views = Vec::new();
        for stream in streams {
            views
                .push(json!({"buffer": 0, "byteOffset": buffer.len(), "byteLength": stream.len()}));
            buffer.extend_from_slice(stream);
            while !buffer.len().is_multiple_of(8) {
                buffer.push(0);
            }
        }
        (buffer, views)
    }

    #[derive(Debug, Default, PartialEq)]
    struct Named {
        contents: Vec<String>,
        subtrees: Vec<(String, TileCoord)>,
        buffers: Vec<String>,
        waiting: Vec<String>,
    }

    fn sort(walked: Walked) -> (Named, Vec<Reference>) {
        let mut named = Named::default();
        let mut pending = Vec::new();
        for reference in walked.references {
            match &reference.kind {
                None => {
                    assert_eq!(
                        reference.base.as_deref().map(TilePath::as_str),
                        Some("set/tileset.json")
                    );
                    named.contents.push(reference.uri.clone());
                }
                Some(FileKind::Subtree(context)) => {
                    assert_eq!(
                        reference.base.as_deref().map(TilePath::as_str),
                        Some("set/tileset.json")
                    );
                    named.subtrees.push((reference.uri.clone(), context.root()));
                }
                Some(FileKind::Leaf) => named.buffers.push(reference.uri.clone()),
                Some(FileKind::SubtreeBuffer(_)) => {
                    named.waiting.push(reference.uri.clone());
                    pending.push(reference);
                }
                Some(other) => panic!("unexpected {other:?}"),
            }
        }
        assert!(walked.problems.is_empty(), "{:?}", walked.problems);
        (named, pending)
    }

    fn read(context: &Arc<SubtreeContext>, bytes: &[u8]) -> Result<Named, WalkError> {
        let path = TilePath::parse("set/s/0/0/0.subtree").unwrap();
        read_subtree(context, &path, bytes).map(|w| sort(w).0)
    }

    /// Reads a binary subtree at the root of a two-level quadtree with one content template.
    fn read_quadtree_root(json: &Value, buffer: &[u8]) -> Named {
        let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        read(
            &context(&tiling, TileCoord::ROOT),
            &binary_subtree(json, buffer),
        )
        .unwrap()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn templates_expand_every_variable_and_refuse_what_they_do_not_know() {
        let t = Template::parse(
            "c/{level}/{z}-{x}_{y}.glb?v={level}",
            SubdivisionScheme::Octree,
        )
        .unwrap();
        assert_eq!(t.expand(coord(3, 5, 6, 7)), "c/3/7-5_6.glb?v=3");
        let q = SubdivisionScheme::Quadtree;
        for (bad, why) in [
            (
                "c/{level}/{x}/{y}/{lod}.glb",
                "unknown template variable `{lod}`",
            ),
            (
                "c/{level}/{x}/{y}/{Level}.glb",
                "unknown template variable `{Level}`",
            ),
            ("c/{level}/{x}/{y}/{z}.glb", "`{z}` in the quadtree"),
            ("c/{level}/{x}/{y.glb", "unclosed"),
            ("c/{level}/{x}/{y}}.glb", "without its `{`"),
            ("c/{level}/{x}/{{y}.glb", "unclosed"),
            ("c/{level}/{x}.glb", "does not use all"),
            ("c/{}/{level}/{x}/{y}.glb", "unknown template variable `{}`"),
        ] {
            let err = Template::parse(bad, q).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let err = Template::parse("c/{level}/{x}/{y}.glb", SubdivisionScheme::Octree).unwrap_err();
        assert!(err.contains("{z}"), "{err}");
        // Errors and logs show a template as written.
        let t = Template::parse("c/{level}/{x}/{y}.glb", q).unwrap();
        assert_eq!(format!("{t:?}"), r#"Template("c/{level}/{x}/{y}.glb")"#);
    }

    #[test]
    fn morton_indices_interleave_as_the_specification_shows() {
        let q = SubdivisionScheme::Quadtree;
        let o = SubdivisionScheme::Octree;
        // interleaveBits(0b11, 0b00) = 0b0101 and friends, from Appendix A.
        assert_eq!(
            TileCoord::ROOT.descendant(q, 2, 0b0101),
            coord(2, 0b11, 0b00, 0)
        );
        assert_eq!(
            TileCoord::ROOT.descendant(q, 4, 0b0100_1110),
            coord(4, 0b1010, 0b0011, 0)
        );
        assert_eq!(
            TileCoord::ROOT.descendant(q, 4, 0b0011_0110),
            coord(4, 0b0110, 0b0101, 0)
        );
        assert_eq!(
            TileCoord::ROOT.descendant(o, 3, 0b1_0001_0001),
            coord(3, 0b001, 0b010, 0b100)
        );
        assert_eq!(
            TileCoord::ROOT.descendant(o, 3, 0b1_0110_1101),
            coord(3, 0b111, 0b000, 0b111)
        );
        // Below a subtree root, local coordinates append to the root's, on every axis.
        assert_eq!(coord(2, 3, 2, 0).descendant(q, 1, 0b10), coord(3, 6, 5, 0));
        assert_eq!(
            coord(1, 1, 0, 1).descendant(o, 2, 0b10_1101),
            coord(3, 0b111, 0b000, 0b111)
        );
        assert_eq!(q.tiles_in(3), 21);
        assert_eq!(o.tiles_in(2), 9);
    }

    /// Root subtree of a quadtree: 2 levels, available tiles (0,0,0), (1,0,0), (1,1,1); bits
    /// set for tiles, contents and child subtrees whose parent is unavailable must not count.
    fn quadtree_root_subtree() -> (Value, Vec<u8>) {
        let tiles = bits(5, &[0, 1, 4]);
        // (1,0,1) has a content bit but no tile: unreachable.
        let contents = bits(5, &[0, 4, 3]);
        // m=0 below (1,0,0), m=13 below (1,1,1), m=5 below the unavailable (1,1,0).
        let children = bits(16, &[0, 13, 5]);
        let (buffer, views) = pack(&[tiles, contents, children]);
        let json = json!({
            "buffers": [{"byteLength": buffer.len()}],
            "bufferViews": views,
            "tileAvailability": {"bitstream": 0, "availableCount": 3},
            "contentAvailability": [{"bitstream": 1}],
            "childSubtreeAvailability": {"bitstream": 2},
        });
        (json, buffer)
    }

    #[test]
    fn a_quadtree_subtree_with_bitstreams_names_exactly_its_available_contents_and_children() {
        let (json, buffer) = quadtree_root_subtree();
        let named = read_quadtree_root(&json, &buffer);
        assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
        assert_eq!(
            named.subtrees,
            [
                ("s/2/0/0.subtree".to_owned(), coord(2, 0, 0, 0)),
                ("s/2/3/2.subtree".to_owned(), coord(2, 3, 2, 0)),
            ]
        );
        assert!(named.buffers.is_empty() && named.waiting.is_empty());
    }

    #[test]
    fn constant_availability_uses_global_coordinates_and_stops_at_available_levels() {
        let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        let everything = json!({
            "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 1}],
            "childSubtreeAvailability": {"constant": 1},
        });
        let bytes = binary_subtree(&everything, &[]);
        let named = read(&context(&tiling, coord(2, 3, 2, 0)), &bytes).unwrap();
        assert_eq!(
            named.contents,
            strings(&[
                "c/2/3/2.glb",
                "c/3/6/4.glb",
                "c/3/7/4.glb",
                "c/3/6/5.glb",
                "c/3/7/5.glb"
            ])
        );
        assert_eq!(named.subtrees.len(), 16);
        assert_eq!(
            named.subtrees[0],
            ("s/4/12/8.subtree".to_owned(), coord(4, 12, 8, 0))
        );
        assert_eq!(named.subtrees[15].1, coord(4, 15, 11, 0));
        // At level 4 only one level is left: level 5 and child subtrees are past availableLevels.
        let named = read(&context(&tiling, coord(4, 15, 11, 0)), &bytes).unwrap();
        assert_eq!(named.contents, strings(&["c/4/15/11.glb"]));
        assert!(named.subtrees.is_empty());
        // Nothing available: nothing named.
        let nothing = json!({
            "tileAvailability": {"constant": 0},
            "contentAvailability": [{"constant": 1}],
            "childSubtreeAvailability": {"constant": 1},
        });
        let named = read(
            &context(&tiling, TileCoord::ROOT),
            nothing.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(named, Named::default());
    }

    #[test]
    fn an_octree_with_two_contents_names_each_content_by_its_own_availability() {
        let tiling = tiling(
            "OCTREE",
            2,
            3,
            &["a/{level}/{x}/{y}/{z}.glb", "b/{level}/{z}/{y}/{x}.pnts"],
        );
        // Root, (1,1,1,1) (m=7) and (1,0,1,0) (m=2).
        let tiles = bits(9, &[0, 8, 3]);
        let second = bits(9, &[3]);
        // m=61 lies below m=7: (2,3,2,3); m=8 lies below the unavailable m=1.
        let children = bits(64, &[61, 8]);
        let (buffer, views) = pack(&[tiles, second, children]);
        let json = json!({
            "buffers": [{"byteLength": buffer.len()}],
            "bufferViews": views,
            "tileAvailability": {"bitstream": 0},
            "contentAvailability": [{"constant": 1}, {"bitstream": 1}],
            "childSubtreeAvailability": {"bitstream": 2},
        });
        let named = read(
            &context(&tiling, TileCoord::ROOT),
            &binary_subtree(&json, &buffer),
        )
        .unwrap();
        assert_eq!(
            named.contents,
            strings(&[
                "a/0/0/0/0.glb",
                "a/1/0/1/0.glb",
                "b/1/0/1/0.pnts",
                "a/1/1/1/1.glb"
            ])
        );
        // availableLevels 3: the child subtree at level 2 is within it.
        assert_eq!(
            named.subtrees,
            [("s/2/3/2/3.subtree".to_owned(), coord(2, 3, 2, 3))]
        );
        // With availableLevels 2, the same subtree names no child subtree.
        let shallow = tiling_with_levels(&tiling, 2);
        let named = read(
            &context(&shallow, TileCoord::ROOT),
            &binary_subtree(&json, &buffer),
        )
        .unwrap();
        assert!(named.subtrees.is_empty());
        assert_eq!(named.contents.len(), 4);
    }

    fn tiling_with_levels(tiling: &ImplicitTiling, available_levels: u32) -> Arc<ImplicitTiling> {
        Arc::new(ImplicitTiling {
            scheme: tiling.scheme,
            subtree_levels: tiling.subtree_levels,
            available_levels,
            subtrees: tiling.subtrees.clone(),
            contents: tiling.contents.clone(),
            tileset: tiling.tileset.clone(),
        })
    }

    #[test]
    fn availability_in_external_buffers_is_read_from_them_in_turn() {
        let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        let (json, buffer) = quadtree_root_subtree();
        // Tile availability stays internal; contents and children move to two external
        // buffers; a third external buffer holds metadata only.
        let internal = buffer[..8].to_vec();
        let contents = buffer[8..16].to_vec();
        let mut children = vec![0xEE; 16];
        children.extend_from_slice(&buffer[16..24]);
        let document = json!({
            "buffers": [
                {"byteLength": 8},
                {"uri": "../avail/contents.bin", "byteLength": 8},
                {"uri": "children.bin", "byteLength": 24},
                {"uri": "metadata.bin", "byteLength": 100},
                {"uri": "children.bin", "byteLength": 16},
            ],
            "bufferViews": [
                {"buffer": 0, "byteOffset": 0, "byteLength": 1},
                {"buffer": 1, "byteOffset": 0, "byteLength": 1},
                {"buffer": 2, "byteOffset": 16, "byteLength": 2},
                {"buffer": 3, "byteOffset": 0, "byteLength": 100},
            ],
            "tileAvailability": json["tileAvailability"],
            "contentAvailability": json["contentAvailability"],
            "childSubtreeAvailability": json["childSubtreeAvailability"],
            "propertyTables": [{"class": "tile", "count": 3, "properties": {"p": {"values": 3}}}],
            "tileMetadata": 0,
        });
        let context = context(&tiling, TileCoord::ROOT);
        let subtree = TilePath::parse("set/s/0/0/0.subtree").unwrap();
        let walked = read_subtree(
            &context,
            &subtree,
            &binary_subtree(&document, &internal)[..],
        )
        .unwrap();
        let (named, mut pending) = sort(walked);
        // Nothing is known yet but the buffers: the metadata one as a plain file, the first
        // availability one carrying the subtree.
        assert_eq!(named.buffers, strings(&["metadata.bin"]));
        assert_eq!(named.waiting, strings(&["../avail/contents.bin"]));
        assert!(named.contents.is_empty() && named.subtrees.is_empty());
        let first = pending.remove(0);
        assert_eq!(first.base.as_deref(), Some(&subtree));
        // Two subtrees waiting for their buffers are two file kinds.
        let (_, others) = sort(
            read_subtree(
                &context,
                &subtree,
                &binary_subtree(&document, &internal)[..],
            )
            .unwrap(),
        );
        assert_ne!(first.kind, others[0].kind);
        let Some(FileKind::SubtreeBuffer(state)) = &first.kind else {
            unreachable!()
        };
        let path = TilePath::parse("set/s/avail/contents.bin").unwrap();
        let (named, mut pending) = sort(read_subtree_buffer(state, &path, &contents[..]).unwrap());
        assert_eq!(named.waiting, strings(&["children.bin"]));
        let second = pending.remove(0);
        assert_eq!(second.base.as_deref(), Some(&subtree));
        let Some(FileKind::SubtreeBuffer(state)) = &second.kind else {
            unreachable!()
        };
        // A buffer shorter than its byteLength is an error.
        let path = TilePath::parse("set/s/0/0/children.bin").unwrap();
        let err = read_subtree_buffer(state, &path, &children[..20]).unwrap_err();
        assert!(
            err.to_string().contains("shorter than its byteLength"),
            "{err}"
        );
        let (named, _) = sort(read_subtree_buffer(state, &path, &children[..]).unwrap());
        assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
        assert_eq!(named.subtrees.len(), 2);
    }

    #[test]
    fn a_json_subtree_reads_its_bitstreams_from_external_buffers() {
        let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        let (mut json, buffer) = quadtree_root_subtree();
        json["buffers"] = json!([{"uri": "0.bin", "byteLength": buffer.len()}]);
        let context = context(&tiling, TileCoord::ROOT);
        let subtree = TilePath::parse("set/s/0/0/0.json").unwrap();
        let text = serde_json::to_vec_pretty(&json).unwrap();
        let (named, pending) = sort(read_subtree(&context, &subtree, &text[..]).unwrap());
        assert_eq!(named.waiting, strings(&["0.bin"]));
        let Some(FileKind::SubtreeBuffer(state)) = &pending[0].kind else {
            unreachable!()
        };
        let path = TilePath::parse("set/s/0/0/0.bin").unwrap();
        let (named, _) = sort(read_subtree_buffer(state, &path, &buffer[..]).unwrap());
        assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
        assert_eq!(named.subtrees.len(), 2);
    }

    #[test]
    fn malformed_subtrees_are_clear_errors() {
        let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        let context = context(&tiling, TileCoord::ROOT);
        let (json, buffer) = quadtree_root_subtree();
        let good = binary_subtree(&json, &buffer);
        assert!(read(&context, &good).is_ok());
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut json = json.clone();
            edit(&mut json);
            binary_subtree(&json, &buffer)
        };
        let mut version = good.clone();
        version[4] = 2;
        let mut longer = good.clone();
        longer.push(0);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..20].to_vec(), "truncated in its header"),
            (good[..40].to_vec(), "truncated in its JSON chunk"),
            (good[..good.len() - 8].to_vec(), "truncated in its binary chunk"),
            (longer, "longer than its header says"),
            (version, "version 2"),
            (b"subx{}".to_vec(), "not a subtree"),
            (b"{\"tileAvailability\": ".to_vec(), "not a subtree"),
            (with(&|j| j["bufferViews"][2]["byteLength"] = json!(1)), "has 1 bytes where 16 bits need 2"),
            (with(&|j| j["bufferViews"][2]["byteOffset"] = json!(23)), "runs past the end of buffer 0"),
            (with(&|j| j["bufferViews"][0]["buffer"] = json!(3)), "buffer 3, which does not exist"),
            (with(&|j| j["tileAvailability"] = json!({"constant": 2})), "must be 0 or 1"),
            (with(&|j| j["tileAvailability"] = json!({"constant": 1, "bitstream": 0})), "both"),
            (with(&|j| j["tileAvailability"] = json!({})), "neither"),
            (with(&|j| j["tileAvailability"] = json!({"bitstream": 9})), "bufferView 9"),
            (with(&|j| { j.as_object_mut().unwrap().remove("childSubtreeAvailability"); }), "without childSubtreeAvailability"),
            (with(&|j| j["contentAvailability"] = json!([])), "0 contentAvailability for 1 content"),
            (with(&|j| j["buffers"][0]["byteLength"] = json!(1000)), "exceeds the binary chunk"),
            (with(&|j| j["buffers"] = json!([{"byteLength": 24}, {"byteLength": 8}])), "only the first buffer may be internal"),
            (with(&|j| j["buffers"] = json!([{"uri": "data:application/octet-stream;base64,AAAA", "byteLength": 24}])), "data: URI"),
            (b"{\"buffers\": [{\"byteLength\": 8}], \"tileAvailability\": {\"constant\": 1}, \"childSubtreeAvailability\": {\"constant\": 0}, \"contentAvailability\": [{\"constant\": 1}]}".to_vec(), "no uri in a JSON subtree"),
        ];
        for (bytes, why) in cases {
            let err = read(&context, &bytes).expect_err(why);
            assert!(
                matches!(err, WalkError::Unsupported { .. }),
                "{why}: {err:?}"
            );
            let text = err.to_string();
            assert!(text.contains(why), "expected `{why}` in: {text}");
            assert!(text.contains("set/s/0/0/0.subtree"), "{text}");
        }
    }

    #[test]
    fn bits_count_and_read_lsb_first() {
        let stream = Bits::Stream(&[0b1010_0101, 0xFF]);
        assert_eq!(stream.ones(5), 2);
        assert_eq!(stream.ones(8), 4);
        assert_eq!(stream.ones(13), 9);
        assert!(stream.get(0) && !stream.get(1) && stream.get(2) && stream.get(7));
        assert_eq!(Bits::Constant(true).ones(21), 21);
        assert_eq!(Bits::Constant(false).ones(21), 0);
    }

    #[test]
    fn no_corruption_of_a_subtree_panics() {
        let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        let context = context(&tiling, TileCoord::ROOT);
        let (json, buffer) = quadtree_root_subtree();
        let good = binary_subtree(&json, &buffer);
        for cut in 0..good.len() {
            assert!(read(&context, &good[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = good.clone();
                bad[at] ^= flip;
                // Either answer is fine; a panic is not.
                let _ = read(&context, &bad);
            }
        }
    }

    #[test]
    fn a_subtree_naming_more_files_than_the_limit_is_refused() {
        // Twelve quadtree levels with constants: 5.6 million tiles, 11 million contents.
        let tiling = tiling(
            "QUADTREE",
            12,
            12,
            &["c/{level}/{x}/{y}.glb", "d/{level}/{x}/{y}.glb"],
        );
        let everything = json!({
            "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 1}, {"constant": 1}],
            "childSubtreeAvailability": {"constant": 0},
        });
        let err = read(
            &context(&tiling, TileCoord::ROOT),
            everything.to_string().as_bytes(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("names up to 11184810 files"),
            "{err}"
        );
    }

    #[test]
    fn a_subtree_naming_exactly_the_limit_is_read() {
        // Ten quadtree levels: 4^10 = 2^20 child subtree bits, the most one subtree may claim.
        let tiling = tiling("QUADTREE", 10, 20, &["c/{level}/{x}/{y}.glb"]);
        let children_only = json!({
            "tileAvailability": {"constant": 0},
            "contentAvailability": [{"constant": 0}],
            "childSubtreeAvailability": {"constant": 1},
        });
        let named = read(
            &context(&tiling, TileCoord::ROOT),
            children_only.to_string().as_bytes(),
        )
        .unwrap();
        // No tile is available, so no child subtree is reachable.
        assert_eq!(named, Named::default());
    }

    #[test]
    fn without_content_templates_content_availability_is_ignored() {
        let tiling = tiling("QUADTREE", 2, 5, &[]);
        let subtree = json!({
            "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 1}],
            "childSubtreeAvailability": {"constant": 1},
        });
        let named = read(
            &context(&tiling, TileCoord::ROOT),
            subtree.to_string().as_bytes(),
        )
        .unwrap();
        assert!(named.contents.is_empty());
        assert_eq!(named.subtrees.len(), 16);
    }

    #[test]
    fn content_availability_may_be_a_single_object_or_in_the_legacy_extension() {
        let one = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        let single = json!({
            "tileAvailability": {"constant": 1},
            "contentAvailability": {"constant": 1},
            "childSubtreeAvailability": {"constant": 0},
        });
        let named = read(
            &context(&one, TileCoord::ROOT),
            single.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(named.contents.len(), 5);
        let two = tiling(
            "QUADTREE",
            2,
            5,
            &["c/{level}/{x}/{y}.glb", "d/{level}/{x}/{y}.glb"],
        );
        let legacy = json!({
            "tileAvailability": {"constant": 1},
            "childSubtreeAvailability": {"constant": 0},
            "extensions": {"3DTILES_multiple_contents": {
                "contentAvailability": [{"constant": 0}, {"constant": 1}]
            }},
        });
        let named = read(
            &context(&two, TileCoord::ROOT),
            legacy.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(named.contents.len(), 5);
        assert!(named.contents.iter().all(|c| c.starts_with("d/")));
    }

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
    /// A binary subtree header declaring a JSON chunk of `json_length` bytes, and nothing else.
    fn header_declaring(json_length: u64) -> Vec<u8> {
        let mut header = b"subt".to_vec();
        header.extend_from_slice(&1u32.to_le_bytes());
        header.extend_from_slice(&json_length.to_le_bytes());
        header.extend_from_slice(&0u64.to_le_bytes());
        header
    }

    #[test]
    fn a_subtree_json_of_64_mib_is_read_and_one_byte_more_is_refused() {
        const LIMIT: u64 = 64 << 20;
        let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        let context = context(&tiling, TileCoord::ROOT);
        // Binary: the declared length is judged before anything is read.
        let err = read(&context, &header_declaring(LIMIT + 1)).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
        let err = read(&context, &header_declaring(LIMIT)).unwrap_err();
        assert!(
            err.to_string().contains("truncated in its JSON chunk"),
            "{err}"
        );
        // JSON: a document padded with spaces to exactly the limit is read, one byte more is not.
        let document = json!({
            "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 0}],
            "childSubtreeAvailability": {"constant": 0},
        })
        .to_string();
        let padded = |total: u64| {
            document
                .as_bytes()
                .chain(io::repeat(b' ').take(total - document.len() as u64))
        };
        let path = TilePath::parse("set/s/0/0/0.json").unwrap();
        assert!(read_subtree(&context, &path, padded(LIMIT)).is_ok());
        let err = read_subtree(&context, &path, padded(LIMIT + 1)).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[test]
    fn every_external_buffer_that_holds_no_availability_is_named_once() {
        let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        let (mut json, buffer) = quadtree_root_subtree();
        json["buffers"] = json!([
            {"byteLength": buffer.len()},
            {"uri": "meta-a.bin", "byteLength": 8},
            {"uri": "meta-b.bin", "byteLength": 8},
            {"uri": "meta-a.bin", "byteLength": 8},
        ]);
        let named = read(
            &context(&tiling, TileCoord::ROOT),
            &binary_subtree(&json, &buffer),
        )
        .unwrap();
        assert_eq!(named.buffers, strings(&["meta-a.bin", "meta-b.bin"]));
        assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
    }

    #[test]
    fn overlapping_availability_views_are_read_in_one_pass() {
        // Child availability (bytes 0-1) overlaps tile (byte 0) and content (byte 1)
        // availability, which a subtree writer may do to share bytes.
        let mut buffer = vec![0b0001_0011, 0b0001_0001];
        buffer.resize(8, 0);
        let json = json!({
            "buffers": [{"byteLength": buffer.len()}],
            "bufferViews": [
                {"buffer": 0, "byteOffset": 0, "byteLength": 1},
                {"buffer": 0, "byteOffset": 1, "byteLength": 1},
                {"buffer": 0, "byteOffset": 0, "byteLength": 2},
            ],
            "tileAvailability": {"bitstream": 0},
            "contentAvailability": [{"bitstream": 1}],
            "childSubtreeAvailability": {"bitstream": 2},
        });
        let named = read_quadtree_root(&json, &buffer);
        // Tiles 0, 1 and 4 are available: (0,0,0), (1,0,0), (1,1,1); contents at 0 and 4.
        assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
        // Child bits 0, 1, 4, 8 and 12: 4 lies below the unavailable (1,1,0) and 8 below
        // (1,0,1), so they do not count.
        assert_eq!(
            named.subtrees,
            [
                ("s/2/0/0.subtree".to_owned(), coord(2, 0, 0, 0)),
                ("s/2/1/0.subtree".to_owned(), coord(2, 1, 0, 0)),
                ("s/2/2/2.subtree".to_owned(), coord(2, 2, 2, 0)),
            ]
        );
    }
}
