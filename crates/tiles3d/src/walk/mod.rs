//! Reading the URIs a tileset file names: tile contents, child tilesets, glTF resources,
//! implicit tiling subtrees.
//!
//! These functions only list URIs as written; the downloader decides where each one points
//! and whether it may be fetched.
//!
//! [`read`] picks the reader by [`FileKind`]: a JSON document, read as a tileset or a glTF by
//! its keys (`document`, over `tileset` and `gltf`), a binary glTF (`glb`), a 3D Tiles 1.0
//! tile (`tile_format`), or a subtree file and its buffers ([`crate::implicit`]). The JSON
//! readers stream, and check what they skip as a full parse would (`checked`).
//!
//! Files named by glTF and 3D Tiles extensions are read in `extensions`; its table:
//!
//! | Where | Extension | Property |
//! |---|---|---|
//! | tileset | `3DTILES_metadata` (3D Tiles 1.0) | `schemaUri` |
//! | tileset | core 3D Tiles 1.1 | `schemaUri` |
//! | tileset | `3DTILES_implicit_tiling`, `3DTILES_multiple_contents` | read with the tiles |
//! | glTF | `EXT_structural_metadata`, `EXT_feature_metadata` | `schemaUri` |
//! | glTF | `EXT_lights_ies`, `KHR_lights_ies` (draft) | `lights[].uri` |
//! | glTF | `KHR_audio_emitter`, `KHR_audio` (drafts) | `audio[].uri`, `sources[].uri` |
//! | glTF | `KHR_techniques_webgl` (archived) | `shaders[].uri` |
//!
//! Surveyed and naming no file of their own: the texture-format extensions
//! (`KHR_texture_basisu`, `EXT_texture_webp`, `EXT_texture_avif`, `MSFT_texture_dds`) point
//! at `images`, and the compression ones (`KHR_draco_mesh_compression`,
//! `EXT_meshopt_compression`, `KHR_meshopt_compression`) at `bufferViews`, both read already;
//! the other 3D Tiles extensions (`3DTILES_content_gltf`, `3DTILES_bounding_volume_S2`,
//! `3DTILES_batch_table_hierarchy`, ...) name no file.

use std::io::Read;

use crate::TilePath;
use crate::implicit;

pub(crate) mod bom;
mod checked;
mod depth;
mod document;
mod extensions;
mod glb;
mod gltf;
mod tile_format;
mod tileset;

pub use crate::reference::{Document, FileKind, Reference, WalkError, Walked};
pub use document::{gltf_uris, tileset_references};
pub use glb::glb_uris;
pub use tile_format::tile_uris;

/// What the file at `path`, of the given kind, names, within [`ReadLimits::default`]. The
/// kind is what the caller knows: the name's ([`FileKind::of`]), the context's, or the first
/// bytes' ([`FileKind::sniffed`]).
pub fn read(kind: &FileKind, path: &TilePath, reader: impl Read) -> Result<Walked, WalkError> {
    read_within(kind, path, reader, ReadLimits::default())
}

/// What reading one file may cost: bounds a reader meets long before its memory or stack
/// is at risk, whatever the file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// The most files a subtree may name; past it the subtree is a
    /// [`WalkError::TooManyFiles`], found by counting before any is listed, so a caller
    /// bounding a whole download never holds more than its bound. Default: no bound but the
    /// one every subtree has (2^20 files).
    pub max_files: u64,
    /// The deepest nesting of arrays and objects read in a JSON document (a tileset, a glTF
    /// or other JSON); past it the file is a [`WalkError::TooDeep`]. A tile nests two (itself
    /// and its `children`), so the default, 1,000, allows 500 levels of tiles, far past real
    /// tilesets (tens of levels), with the parse's stack growing on the heap as it needs.
    pub max_json_depth: u32,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_files: u64::MAX,
            max_json_depth: 1_000,
        }
    }
}

/// What the file at `path`, of the given kind, names, within `limits`.
pub fn read_within(
    kind: &FileKind,
    path: &TilePath,
    reader: impl Read,
    limits: ReadLimits,
) -> Result<Walked, WalkError> {
    let plain = |uris: Vec<String>, document| Walked {
        references: uris.into_iter().map(Reference::not_a_tileset).collect(),
        problems: Vec::new(),
        document,
    };
    let max_files = limits.max_files;
    match kind {
        FileKind::Tileset | FileKind::Gltf | FileKind::Json => {
            document::read(kind, path, reader, limits.max_json_depth)
        }
        FileKind::Glb => Ok(plain(
            glb::glb_uris_within(reader, limits.max_json_depth)?,
            Document::Gltf,
        )),
        FileKind::Tile => Ok(plain(tile_uris(path, reader)?, Document::Other)),
        FileKind::Leaf => Ok(Walked::default()),
        FileKind::SubtreeWithoutTiling => Err(WalkError::unsupported(
            path,
            "a binary subtree named where no implicit tiling says how to read it",
        )),
        FileKind::Subtree(context) => {
            implicit::read_subtree(context, path, bom::skip(reader)?, max_files)
        }
        FileKind::SubtreeBuffer(pending) => {
            implicit::read_subtree_buffer(pending, path, reader, max_files)
        }
    }
}

/// The URIs a file of the given kind names, in document order, each once, as if it sat at
/// the root as `tileset.json`. What it names that cannot be interpreted is an error, and so
/// is a [`FileKind::Tileset`] that is not a tileset.
pub fn references(kind: FileKind, reader: impl Read) -> Result<Vec<String>, WalkError> {
    let path = TilePath::parse("tileset.json").expect("a valid path");
    let walked = read(&kind, &path, reader)?;
    if kind == FileKind::Tileset && walked.document != Document::Tileset {
        return Err(document::not_a_tileset());
    }
    if let Some(problem) = walked.problems.into_iter().next() {
        return Err(problem);
    }
    Ok(walked.references.into_iter().map(|r| r.uri).collect())
}
