//! The request policy that every HTTP caller of the workspace shares, with no service in it.
//!
//! - [`retry`]: the one retry engine. A classifier ([`retry::ClassifyRetry`], an open trait
//!   implemented beside each kind of call) says whether an outcome may be repeated and why;
//!   the strategy ([`retry::RetryOptions`]) says when; [`retry::run`] applies both.
//! - [`redact`]: the one redactor. Every text that leaves the process (errors, logs, `--json`,
//!   manifests) and may hold a URL signature or a credential goes through it, in one dialect:
//!   a removed value reads [`redact::REDACTED`].
//!
//! The API client (`mesh-export`) and the tile downloader (`tiles3d-download`) both depend on
//! this crate; it depends on neither.

pub mod redact;
pub mod retry;
