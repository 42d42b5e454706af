//! 3D Tiles 1.1 implicit tiling.

mod subtree;

pub use subtree::*;
