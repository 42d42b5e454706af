//! A tileset comes from a blob store we do not control: walking any bytes never panics, and
//! every file the resolver accepts stays under the signed root, on its host, carries the
//! signature once, and is named by portable path segments (Windows rules too).
#![no_main]

// Each target uses one oracle of the shared module.
#[allow(dead_code)]
#[path = "../oracles/mod.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::tileset_walk::check(data));
