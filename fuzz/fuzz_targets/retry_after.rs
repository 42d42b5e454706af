//! `Retry-After` values come from any server or gateway on the path. Whatever they hold,
//! parsing never panics, and the result agrees with an independent reading of RFC 9110
//! §10.2.3: delay seconds are exactly that many seconds, an HTTP-date is the time until it
//! (zero once past), and a number of seconds too large to represent is never read as a short
//! wait.
#![no_main]

// Each target uses one oracle of the shared module.
#[allow(dead_code)]
#[path = "../oracles/mod.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::retry_after::check(data));
