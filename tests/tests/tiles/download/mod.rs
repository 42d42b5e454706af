//! The tileset downloader against a purpose-built blob store on loopback.

mod complete;
mod concurrency;
mod faults;
pub(crate) mod named;
mod origins;
mod resume;
mod root;
mod signatures;

use mesh_export_test_support::emulator::quick_retries;
use tiles3d_download::Downloader;

/// A downloader of four connections with quick retries, as most tests here use.
pub(crate) fn downloader(dir: &std::path::Path) -> Downloader {
    // The walk alone: these stores are not Azure's and do not list, and the tests count
    // the requests the walk makes (the listing has its own tests, in `listing`).
    Downloader::new(dir)
        .concurrency(4)
        .retry(quick_retries())
        .listing(false, false)
}
