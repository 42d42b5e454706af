//! Error bodies come from the service, gateways and proxies: decoding any of them never
//! panics, keeps the status, and a URL signature planted in it (Azure `sig=`, CloudFront
//! `Signature=`, S3 `X-Amz-Signature=`) never reaches the error's text or `Debug` output, nor
//! does the value of a credential in use (a client secret the endpoint echoes), and the text is
//! bounded whatever the body's size.

use mesh_export::Error;
use mesh_export::auth::Secret;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

const SECRET: &str = "ZZSIGNATUREZZ";

/// A client secret the process holds, planted as it is, with no parameter name before it.
const CLIENT_SECRET: &str = "Hunter2-ZZCLIENTSECRETZZ";

/// The most text an error may show for any body: the quoted parts are capped.
const MAX_SHOWN_BYTES: usize = 64 * 1024;

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
    let held = Secret::new(CLIENT_SECRET);
    let mut body = before.to_vec();
    body.extend_from_slice(format!("{parameter}={SECRET} {CLIENT_SECRET}").as_bytes());
    body.extend_from_slice(after);
    let error = Error::from_response_parts(status, &HeaderMap::new(), &body, None);
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(SECRET), "{parameter} leaked: {shown}");
    assert!(
        !shown.contains(CLIENT_SECRET),
        "the client secret leaked: {shown}"
    );
    assert!(
        shown.len() <= MAX_SHOWN_BYTES,
        "{} bytes shown",
        shown.len()
    );
    assert_eq!(error.status(), Some(status.as_u16()));
    drop(held);
}
