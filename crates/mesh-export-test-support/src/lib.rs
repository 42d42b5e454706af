//! What the workspace's tests share, so each piece exists once: log capture that is correct
//! under parallel tests and multi-threaded runtimes ([`logs`]), clients of the emulator
//! ([`emulator`]), small purpose-built servers ([`servers`], [`blobs`]), hostile tilesets
//! ([`attacks`]), a binary glTF encoder ([`glb`]) over deterministic filler ([`filler`]) and
//! file-tree assertions ([`files`]).
//!
//! Integration tests live in one binary per crate, `tests/<crate area>/main.rs`, whose modules
//! each cover one area and import from here.

pub mod attacks;
pub mod blobs;
pub mod emulator;
pub mod files;
pub mod filler;
pub mod glb;
pub mod logs;
pub mod servers;
pub mod signin;
