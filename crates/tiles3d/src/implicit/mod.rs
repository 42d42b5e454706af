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
//!
//! The code follows the reading, each module leaning only on those before it:
//! [`TileCoord`] and Morton order (`coord`), [`Template`] expansion (`template`), the
//! [`ImplicitTiling`] of a root tile (`tiling`), availability constants and bitstreams
//! (`availability`), a subtree's JSON checked against its tiling (`document`), the
//! [`PendingSubtree`] state while external buffers are read (`pending`), the references a
//! subtree makes available (`references`), and reading the files themselves (`subtree`, with
//! `ranges` for reading byte ranges in one pass).

mod availability;
mod coord;
mod document;
// Visible to the crate for the file vocabulary (`crate::reference`), which names these states.
pub(crate) mod pending;
mod ranges;
mod references;
mod subtree;
mod template;
#[cfg(test)]
mod testing;
// As `pending`.
pub(crate) mod tiling;

pub use coord::{SubdivisionScheme, TileCoord};
pub use pending::PendingSubtree;
pub use subtree::{read_subtree, read_subtree_buffer};
pub use template::Template;
pub use tiling::{ImplicitTiling, SubtreeContext};
