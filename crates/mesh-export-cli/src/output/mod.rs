//! What the commands print: tables and lines for people, JSON for programs, progress on stderr
//! (bars on a terminal, plain lines otherwise).

mod documents;
mod progress;
mod reporter;
mod stderr;
mod units;

pub use documents::{Deleted, DownloadReport, ErrorDocument, Login, SignedTilesetUrl};
pub use reporter::Reporter;
pub use stderr::{announce_retry_waits, clear_drawn};
#[cfg(feature = "demo")]
pub use units::duration;

/// Whether stderr may carry colour: a terminal, and no `NO_COLOR` (<https://no-color.org>: set
/// and not empty).
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
