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
mod gltf;
mod tileset;

pub use crate::reference::{FileKind, Reference, WalkError, Walked};
pub use gltf::{glb_uris, gltf_uris};
pub use tileset::tileset_references;

/// What the file at `path`, of the given kind, names.
pub fn read(kind: &FileKind, path: &TilePath, reader: impl Read) -> Result<Walked, WalkError> {
    read_at_most(kind, path, reader, u64::MAX)
}

/// What the file at `path`, of the given kind, names; a subtree naming more than `max_files`
/// files is a [`WalkError::TooManyFiles`], found by counting before any is listed, so a
/// caller bounding a whole download never holds more than its bound.
pub fn read_at_most(
    kind: &FileKind,
    path: &TilePath,
    reader: impl Read,
    max_files: u64,
) -> Result<Walked, WalkError> {
    let plain = |uris: Vec<String>| Walked {
        references: uris.into_iter().map(Reference::plain).collect(),
        problems: Vec::new(),
    };
    match kind {
        FileKind::Tileset => tileset_references(path, bom::skip(reader)?),
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
