//! What the commands print: tables and lines for people, JSON for programs, progress on stderr
//! (bars on a terminal, plain lines otherwise).

mod documents;
mod progress;
mod reporter;
mod units;

pub use documents::{Deleted, DownloadReport, ErrorDocument, Login, SignedTilesetUrl};
pub use reporter::Reporter;
#[cfg(feature = "demo")]
pub use units::duration;
