//! The emulator over real HTTP on loopback: operations, lifecycle, tiles, limits, conformance.

mod callers;
mod conformance;
mod faults;
mod operations;
mod portal;
mod tiles;
