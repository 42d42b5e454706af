//! Every kind of file a tileset names, read as the downloader reads it (kind from the name and
//! the first bytes, head checked, gzip magic decoded) within small bounds: never a panic or a
//! stack overflow, the depth and file bounds kept, every file named portable and under the
//! signed root, each named once.
#![no_main]

// Each target uses one oracle of the shared module.
#[allow(dead_code)]
#[path = "../oracles/mod.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::content_read::check(data));
