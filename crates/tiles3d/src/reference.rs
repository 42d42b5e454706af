//! What a file names, in the words both the walk and implicit tiling use: a [`Reference`] to
//! another file, the [`FileKind`] that says how to read it, what reading yields ([`Walked`]),
//! and why it failed ([`WalkError`]). Public as [`crate::walk`]'s.
//!
//! It names implicit tiling's state types (a subtree's context, a subtree waiting for its
//! buffers) and nothing that reads files, so `implicit` and `walk` both build on it without
//! reaching each other through it.

use std::sync::Arc;

use crate::TilePath;
use crate::implicit::pending::PendingSubtree;
use crate::implicit::tiling::SubtreeContext;

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
    /// A URI relative to the file naming it, of the kind its path says.
    pub(crate) fn plain(uri: String) -> Self {
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
    /// The file's JSON nests arrays and objects deeper than the reader was allowed to read.
    #[error("JSON nested deeper than {limit} arrays and objects")]
    TooDeep {
        /// The deepest nesting allowed.
        limit: u32,
    },
    /// The file names more files than the reader was allowed to list; none were listed.
    #[error("`{uri}` names {named} files, more than the {limit} allowed")]
    TooManyFiles {
        /// The file.
        uri: String,
        /// How many files it names.
        named: u64,
        /// How many it was allowed to name.
        limit: u64,
    },
}

impl WalkError {
    /// The file at `path` names files in a way this walk cannot interpret, for `reason`.
    pub(crate) fn unsupported(path: &TilePath, reason: impl Into<String>) -> Self {
        WalkError::Unsupported {
            uri: path.to_string(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
