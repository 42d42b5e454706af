//! Error bodies come from the service, gateways and proxies: decoding any of them never
//! panics, keeps the status, and a URL signature planted in it (Azure `sig=`, CloudFront
//! `Signature=`, S3 `X-Amz-Signature=`) never reaches the error's text or `Debug` output.

use mesh_export::Error;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

const SECRET: &str = "ZZSIGNATUREZZ";

/// The signature parameters planted, chosen by the input.
const PARAMETERS: &[&str] = &["sig", "Signature", "X-Amz-Signature"];

pub fn check(data: &[u8]) {
    let Some((&code, rest)) = data.split_first() else {
        return;
    };
    let status = StatusCode::from_u16(400 + u16::from(code) % 200).expect("4xx/5xx is a status");
    // The input is split at the first NUL; the signature is planted between the two halves.
    let (before, after) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let parameter = PARAMETERS[usize::from(code) % PARAMETERS.len()];
    let mut body = before.to_vec();
    body.extend_from_slice(format!("{parameter}={SECRET}").as_bytes());
    body.extend_from_slice(after);
    let error = Error::from_response_parts(status, &HeaderMap::new(), &body, None);
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(SECRET), "{parameter} leaked: {shown}");
    assert_eq!(error.status(), Some(status.as_u16()));
}
