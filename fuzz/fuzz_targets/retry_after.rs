//! `Retry-After` values come from any server or gateway on the path: parsing one must never
//! panic, and a parsed wait never exceeds what the value can express.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use mesh_export::retry::parse_retry_after;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else { return };
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    if let Some(wait) = parse_retry_after(value, now) {
        // Deterministic for a fixed clock.
        assert_eq!(parse_retry_after(value, now), Some(wait));
    }
});
