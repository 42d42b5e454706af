//! Reading 3D Tiles: what a file names, and whether its bytes are what they claim.
//!
//! Synchronous and free of I/O beyond the [`std::io::Read`] it is given: no network, no
//! runtime. It knows nothing of where the files come from or where they go.
//!
//! - [`name`] and [`TilePath`]: a file's place under a tileset root as portable names, the
//!   same on Linux, macOS and Windows (Windows rules apply on every platform).
//! - [`walk`]: the files a tileset JSON, a glTF, a GLB or a 3D Tiles 1.0 tile (`b3dm`, `i3dm`,
//!   `cmpt`, `pnts`) names ([`walk::read`]), including those glTF and 3D Tiles extensions
//!   name (the surveyed list is in its docs), streamed, with every value checked as a full
//!   parse would check it; a file's kind is taken from its first bytes where its name does
//!   not say or is wrong ([`walk::FileKind::sniffed`]).
//! - [`implicit`]: implicit tiling (3D Tiles 1.1 and `3DTILES_implicit_tiling`): the tiles,
//!   contents and child subtrees a subtree file makes available.
//! - [`content`]: whether a file's first bytes are what its type promises.
//!
//! ```
//! use tiles3d::{TilePath, walk};
//!
//! let tileset = br#"{"asset":{"version":"1.1"},"root":{"content":{"uri":"a.glb"},
//!     "children":[{"content":{"uri":"b/tileset.json"}}]}}"#;
//! let path = TilePath::parse("tileset.json").unwrap();
//! let walked = walk::read(&walk::FileKind::Tileset, &path, &tileset[..]).unwrap();
//! let uris: Vec<&str> = walked.references.iter().map(|r| r.uri.as_str()).collect();
//! assert_eq!(uris, ["a.glb", "b/tileset.json"]);
//! ```

pub mod content;
pub mod implicit;
pub mod name;
mod path;
mod reference;
pub mod walk;

pub use path::TilePath;
