//! The subcommands: each file holds one command's arguments and its handler, `run`.

pub mod delete;
#[cfg(feature = "demo")]
pub mod demo;
pub mod download;
pub mod get;
pub mod list;
pub mod login;
pub mod logout;
pub mod lookup;
pub mod schema;
pub mod shell;
pub mod start;
pub mod url;
pub mod wait;
