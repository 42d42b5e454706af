//! Names and values of the headers this crate sets itself, in a module of their own so that the
//! request path and the error mapping both read them without depending on each other.

/// The correlation header, sent on every request and read back from responses.
pub(crate) const CORRELATION_ID: &str = "x-correlation-id";

/// This crate's `User-Agent` product token.
pub(crate) const USER_AGENT_PRODUCT: &str = concat!("mesh-export/", env!("CARGO_PKG_VERSION"));
