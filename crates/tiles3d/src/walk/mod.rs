//! Reading the URIs a tileset file names: tile contents, child tilesets, glTF resources,
//! implicit tiling subtrees.
//!
//! These functions only list URIs as written; the downloader decides where each one points
//! and whether it may be fetched.
//!
//! [`read`] picks the reader by [`FileKind`]: tileset JSON (`tileset`), glTF and GLB (`gltf`),
//! or a subtree file and its buffers ([`crate::implicit`]). The JSON readers stream, and check
//! what they skip as a full parse would (`checked`).

use std::io::Read;

use crate::TilePath;
use crate::implicit;

pub(crate) mod bom;
mod checked;
mod depth;
mod gltf;
mod tileset;

pub use crate::reference::{FileKind, Reference, WalkError, Walked};
pub use gltf::{glb_uris, gltf_uris};
pub use tileset::tileset_references;

/// What the file at `path`, of the given kind, names, within [`ReadLimits::default`].
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
    /// The deepest nesting of arrays and objects read in a tileset JSON; past it the file is
    /// a [`WalkError::TooDeep`]. A tile nests two (itself and its `children`), so the
    /// default, 1,000, allows 500 levels of tiles, far past real tilesets (tens of levels),
    /// with the parse's stack growing on the heap as it needs.
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
    let plain = |uris: Vec<String>| Walked {
        references: uris.into_iter().map(Reference::plain).collect(),
        problems: Vec::new(),
    };
    let max_files = limits.max_files;
    match kind {
        FileKind::Tileset => {
            tileset::references_within(path, bom::skip(reader)?, limits.max_json_depth)
        }
        FileKind::Gltf => Ok(plain(gltf_uris(serde_json::Deserializer::from_reader(
            bom::skip(reader)?,
        ))?)),
        FileKind::Glb => Ok(plain(glb_uris(reader)?)),
        FileKind::Leaf => Ok(Walked::default()),
        FileKind::Subtree(context) => {
            implicit::read_subtree(context, path, bom::skip(reader)?, max_files)
        }
        FileKind::SubtreeBuffer(pending) => {
            implicit::read_subtree_buffer(pending, path, reader, max_files)
        }
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
