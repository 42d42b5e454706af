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
//! Files named by glTF and 3D Tiles extensions are read in `extensions` (and, for those in
//! the tile or the glTF's own top level, beside the core properties). The survey of the 3D
//! Tiles registry (CesiumGS/3d-tiles `extensions/`, 1.0 and 1.1, drafts included) and the glTF
//! registry (KhronosGroup/glTF `extensions/2.0/Khronos`, `Vendor` and `Archived`) for
//! properties that name a file:
//!
//! | Where | Extension | Property | Followed |
//! |---|---|---|---|
//! | tileset | core 3D Tiles 1.1 | `schemaUri` | yes |
//! | tileset | `3DTILES_metadata` (1.0) | `schemaUri` | yes |
//! | tileset | `3DTILES_binary_buffers` (draft) | `buffers[].uri` | yes |
//! | tile | core 1.1 `implicitTiling`, `3DTILES_implicit_tiling` (1.0) | `subtrees.uri` and content templates; a subtree's `buffers[].uri` | yes, with the tiles ([`crate::implicit`]) |
//! | tile | core 1.1 `contents`, `3DTILES_multiple_contents` (1.0) | `contents[].uri` (`content[]` in early drafts) | yes, with the tiles |
//! | tile content | `3DTILES_feature_metadata` (draft) | `uri` | yes |
//! | content file | `3DTILES_content_conditional` (draft) | `conditionalContents[].uri` | yes ([`Document::ConditionalContents`]) |
//! | content file | `3DTILES_dynamic` (its earlier draft) | `dynamicContents[].uri` | yes |
//! | glTF | `EXT_structural_metadata`, `EXT_feature_metadata` | `schemaUri` | yes |
//! | glTF | `EXT_lights_ies`, `KHR_lights_ies` (draft) | `lights[].uri` | yes |
//! | glTF | `KHR_audio_emitter`, `KHR_audio` (drafts) | `audio[].uri`, `sources[].uri` | yes |
//! | glTF | `KHR_techniques_webgl` (archived) | `shaders[].uri` | yes |
//! | glTF | `MPEG_media` | `media[].alternatives[].uri` | yes: a stream on another host or scheme is refused, and reported |
//! | glTF | `FRAUNHOFER_external_model` | top-level `models[].uri` (a glTF) | yes, read as a glTF |
//! | glTF 1.0 | core, `KHR_binary_glTF` | `shaders` by URI; by `bufferView` | yes; no file |
//!
//! Surveyed and naming no file of their own, each with what it points at instead:
//!
//! | Extension | Points at |
//! |---|---|
//! | `3DTILES_content_gltf` | names glTF extensions (`extensionsUsed`), not files |
//! | `3DTILES_bounding_volume_S2`, `3DTILES_bounding_volume_cylinder`, `3DTILES_ellipsoid` | numbers and tokens |
//! | `3DTILES_batch_table_hierarchy`, `3DTILES_draco_point_compression` | byte offsets into the tile's own body |
//! | `3DTILES_content_voxels` | a class and dimensions; the voxels are a glTF content (`EXT_primitive_voxels`), whose buffers are read |
//! | `EXT_mesh_features`, `EXT_instance_features` | feature ID textures and attributes (`textures`, accessors) |
//! | `EXT_structural_metadata`, `EXT_feature_metadata` tables and textures | `bufferViews`, `textures` |
//! | `EXT_mesh_gpu_instancing`, `CESIUM_primitive_outline`, `EXT_mesh_primitive_edge_visibility`, `EXT_mesh_primitive_restart`, `KHR_gaussian_splatting` | accessors |
//! | `KHR_draco_mesh_compression`, `EXT_meshopt_compression`, `KHR_meshopt_compression`, `GRIFFEL_bim_data` | `bufferViews` or `buffers` by index, whose `uri` is read |
//! | `KHR_texture_basisu`, `EXT_texture_webp`, `EXT_texture_avif`, `MSFT_texture_dds`, `EXT_texture_astc`, `EXT_texture_svg`, `KHR_lights_environment`, `EXT_lights_image_based` | `images` by index, whose `uri` is read |
//! | `KHR_materials_*`, `EXT_materials_*`, `KHR_texture_transform`, `KHR_materials_variants` | textures and materials by index |
//! | `MSFT_lod`, `EXT_mesh_lod`, `EXT_node_lod` | nodes and materials by index |
//! | `MPEG_haptic`, `MPEG_buffer_circular`, `MPEG_accessor_timed` | `MPEG_media` by index, whose URIs are followed |
//! | `KHR_animation_pointer`, `KHR_lights_punctual`, `KHR_xmp_json_ld`, `KHR_mesh_quantization`, `CESIUM_RTC` | JSON pointers, inline values |

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
