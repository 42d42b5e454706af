//! The confined store: the output directory and its lock, the writer of one file (part
//! files, unnamed files, checks, naming), the manifest and journal, checksums, the threads
//! that write whole bodies, and the claims that keep two URIs from naming one file. Nothing
//! here knows about HTTP.

pub(crate) mod checksum;
pub(crate) mod claims;
pub(crate) mod manifest;
pub(crate) mod output;
#[cfg(target_os = "linux")]
pub(crate) mod unnamed;
pub(crate) mod write_threads;
pub(crate) mod writer;
