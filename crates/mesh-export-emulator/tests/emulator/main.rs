//! The emulator over real HTTP on loopback: operations, lifecycle, tiles, the container
//! listing, limits, conformance, and the public callers' requests.

mod callers;
mod conformance;
mod faults;
mod listing;
mod log;
mod operations;
mod portal;
mod signin;
mod tiles;
mod xml;
