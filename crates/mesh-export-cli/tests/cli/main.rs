//! The `mesh-export` binary end to end: against the emulator on loopback ([`support`]), and against
//! small hostile servers ([`hostile`], [`hostile_tilesets`]).

mod auth;
mod bounds;
#[cfg(feature = "demo")]
mod demo;
mod download;
mod errors;
mod exports;
mod friction;
mod hostile;
mod hostile_tilesets;
mod hosts;
#[cfg(unix)]
mod pty;
mod schema;
mod signin;
mod support;
