//! A tileset URL comes from a user's command line or a service's `_links.mesh.href`: whatever
//! it holds, parsing never panics, the entry file it names and every file resolved under it
//! are portable relative paths (no `..`, no separators or `:` after decoding, no Windows device
//! names, no trailing dot or space), the root never leaves the URL's host, and a resolved
//! file's query carries the signature exactly once.
#![no_main]

// Each target uses one oracle of the shared module.
#[allow(dead_code)]
#[path = "../oracles/mod.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::tileset_url::check(data));
