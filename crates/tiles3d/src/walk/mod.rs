//! Reading the URIs a tileset file names.

mod tileset;

pub use tileset::*;
