//! Error bodies come from the service, gateways and proxies: decoding any of them never
//! panics, keeps the status, and a URL signature planted in it (Azure `sig=`, CloudFront
//! `Signature=`, S3 `X-Amz-Signature=`) never reaches the error's text or `Debug` output.
#![no_main]

// Each target uses one oracle of the shared module.
#[allow(dead_code)]
#[path = "../oracles/mod.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::error_body::check(data));
