//! The tileset downloader against hostile and broken servers on loopback: names that try to
//! leave the output directory in every encoding, Windows names, case collisions, captive
//! portals, gzip, broken and stalled transfers, write errors, two runs on one directory, and
//! signatures that expire mid-download.

mod content;
mod directory;
mod encoded;
mod listing;
mod malformed;
mod names;
mod server;
mod signatures;
mod transfers;
