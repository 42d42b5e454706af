//! The properties each fuzz target checks, shared with the replay test: `cargo fuzz run`
//! explores new inputs with them, and `cargo test` (tests/tests/workspace/fuzz_replay.rs) runs
//! every committed seed and regression input through them on a stable compiler.
//!
//! Each `check` takes the raw fuzzer input and panics when a property does not hold.

pub mod content_read;
pub mod portable;
pub mod retry_after;
pub mod subtree;
pub mod tileset_url;
pub mod tileset_walk;
