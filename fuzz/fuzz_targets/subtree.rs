//! Subtree files come from a blob store we do not control: reading any bytes as a subtree
//! never panics, never names more files than the subtree's tiles and children can hold, and
//! every file it names resolves under the signed root to a portable path (Windows rules too),
//! including external buffers whose URIs the subtree itself writes.
#![no_main]

// Each target uses one oracle of the shared module.
#[allow(dead_code)]
#[path = "../oracles/mod.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::subtree::check(data));
