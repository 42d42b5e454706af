//! The tile downloader (`tiles3d-download`) against real sockets, with nothing of the Mesh
//! Export API in the way: the test blob store, scripted servers that misbehave on purpose, and
//! implicit tilesets built here.

mod bounds;
mod corpus;
mod download;
mod hostile;
mod implicit;
mod listing;
