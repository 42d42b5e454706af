//! The library against real sockets: the emulator, and small servers that misbehave on purpose.

mod auth;
mod deprecation;
mod exports;
mod hostile;
mod retry;
mod secrets;
mod share_key;
mod signin;
mod tiles_emulator;
