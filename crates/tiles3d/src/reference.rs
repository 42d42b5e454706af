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
    /// A 3D Tiles 1.0 binary tile (`.b3dm`, `.i3dm`, `.cmpt`, `.pnts`): the glTF a `.b3dm` or
    /// `.i3dm` embeds may name buffers and images, an `.i3dm` may name its glTF by URI, and a
    /// `.cmpt` holds tiles of these formats.
    Tile,
    /// A JSON object whose name says nothing of it: read as a tileset or a glTF when its keys
    /// say it is one, and naming nothing otherwise (or when it is not JSON after all).
    Json,
    /// A binary subtree (its bytes start with `subt`) named where no implicit tiling gives the
    /// context it is read in: what it names cannot be known.
    SubtreeWithoutTiling,
    /// Anything else (textures, buffers): names nothing further.
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
            Some("b3dm" | "i3dm" | "cmpt" | "pnts") => Self::Tile,
            _ => Self::Leaf,
        }
    }

    /// The kind the first bytes of a file (`head`, at least 64 of them or all the file) say it
    /// is, where a kind taken from the name may be wrong: the magic of a binary glTF (`glTF`),
    /// of a 3D Tiles 1.0 tile (`b3dm`, `i3dm`, `cmpt`, `pnts`) or of a binary subtree
    /// (`subt`), or a JSON object (after any byte order mark) under a name that is not `.json`
    /// or `.gltf`. A file named in its context (a subtree, a subtree buffer) keeps its kind;
    /// so does one whose bytes say nothing known, and a page that is not what its name
    /// promises then fails its check.
    pub fn sniffed(&self, head: &[u8]) -> Self {
        if self.has_context() {
            return self.clone();
        }
        match head.get(..4) {
            Some(b"glTF") => return Self::Glb,
            Some(b"b3dm" | b"i3dm" | b"cmpt" | b"pnts") => return Self::Tile,
            Some(b"subt") => return Self::SubtreeWithoutTiling,
            _ => {}
        }
        // A JSON file may start with a byte order mark, which its readers skip.
        let json = head.strip_prefix(crate::walk::bom::BOM).unwrap_or(head);
        let json_object = json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        match self {
            Self::Tileset | Self::Gltf => self.clone(),
            _ if json_object => Self::Json,
            _ => self.clone(),
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

    /// A URI named where no tileset can be (a `schemaUri`, a glTF's buffers, images and
    /// extensions): a `.json` it names is read as any JSON object ([`FileKind::Json`]), not as
    /// a tileset that must have a `root` tile; any other is read by its path, as
    /// [`Reference::plain`].
    pub(crate) fn not_a_tileset(uri: String) -> Self {
        let kind = names_json(&uri).then_some(FileKind::Json);
        Reference {
            uri,
            base: None,
            kind,
        }
    }
}

/// Whether the path of `uri` (before any query or fragment) ends in a `.json` file name, as
/// [`FileKind::of`] reads the path it resolves to.
fn names_json(uri: &str) -> bool {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or_default();
    name.rfind('.')
        .filter(|&i| i > 0)
        .is_some_and(|i| name[i + 1..].eq_ignore_ascii_case("json"))
}

/// What a file turned out to be when it was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Document {
    /// A 3D Tiles tileset JSON (`asset` and a `root` tile).
    Tileset,
    /// A glTF, JSON or binary.
    Gltf,
    /// A tile content that lists the contents a client chooses from
    /// (`3DTILES_content_conditional`'s `conditionalContents`, or `dynamicContents` of its
    /// earlier draft `3DTILES_dynamic`): each item's `uri`, relative to this file.
    ConditionalContents,
    /// Anything else: a 3D Tiles 1.0 tile, a subtree, a JSON object that is neither of the
    /// above (a metadata schema), a file that names nothing.
    #[default]
    Other,
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
    /// What the file was read as.
    pub document: Document,
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
        assert_eq!(kind("m.b3dm"), FileKind::Tile);
        assert_eq!(kind("m.I3DM"), FileKind::Tile);
        assert_eq!(kind("m.cmpt"), FileKind::Tile);
        assert_eq!(kind("m.pnts"), FileKind::Tile);
        assert_eq!(kind("t.png"), FileKind::Leaf);
        assert_eq!(kind("noext"), FileKind::Leaf);
    }

    #[test]
    fn the_first_bytes_say_what_a_file_is_where_its_name_does_not() {
        let named = |p: &str| FileKind::of(&TilePath::parse(p).unwrap());
        for (name, head, expected) in [
            ("a.bin", &b"glTF\x02\0\0\0"[..], FileKind::Glb),
            ("a.json", b"glTF\x02\0\0\0", FileKind::Glb),
            ("a.glb", b"b3dm\x01\0\0\0", FileKind::Tile),
            ("a", b"i3dm", FileKind::Tile),
            ("a.dat", b"cmpt", FileKind::Tile),
            ("a.gltf", b"pnts", FileKind::Tile),
            ("a.subtree", b"subt", FileKind::SubtreeWithoutTiling),
            ("a.bin", b"  {\"asset\":{}}", FileKind::Json),
            ("a.glb", b"{", FileKind::Json),
            ("a.bin", b"\xEF\xBB\xBF {\"asset\":{}}", FileKind::Json),
            ("a.bin", b"\xEF\xBB\xBF<html>", FileKind::Leaf),
            ("a.json", b"{", FileKind::Tileset),
            ("a.gltf", b"\n{", FileKind::Gltf),
            ("a.json", b"<html>", FileKind::Tileset),
            ("a.b3dm", b"<html>", FileKind::Tile),
            ("a.png", b"\x89PNG", FileKind::Leaf),
            ("a.bin", b"", FileKind::Leaf),
        ] {
            assert_eq!(named(name).sniffed(head), expected, "{name} {head:?}");
        }
    }
}
