//! The one redactor: removes URL signatures and credentials from any text before it leaves
//! the process, in one dialect (a removed value reads [`REDACTED`]).
//!
//! [`redact`] works on free text (a body excerpt, an error message, a cause chain): every URL
//! loses its query string and the value of every known signature parameter is replaced, also
//! outside URLs. [`redact_url`] shows a parsed URL to people: no query, no credentials in its
//! authority, no fragment. [`redact_link`] does the same for a link that may not parse.
//!
//! It also removes the values of the credentials in use ([`remember_secret`]), and [`quote`]
//! caps what a message quotes from the network.

mod known;

pub use known::{MIN_SECRET_CHARS, remember_secret};

/// What replaces a secret.
pub const REDACTED: &str = "REDACTED";

/// How many characters of network text (a URI, an error body's message) a message quotes.
pub const QUOTE_CHARS: usize = 512;

/// Query parameters that carry a URL signature or credential, lower case: Azure SAS (`sig`),
/// CloudFront (`Signature`, `Policy`, `Key-Pair-Id`, also as `CloudFront-*` cookies), S3
/// presigned URLs (every `X-Amz-*`) and Google Cloud Storage (`X-Goog-*`). Matched anywhere in
/// the text, case-insensitively, followed by `=` or its encoding `%3D`.
const SIGNATURE_PARAMETERS: [&str; 6] = [
    "sig",
    "signature",
    "policy",
    "key-pair-id",
    "x-amz-",
    "x-goog-",
];

/// Where the value of a signature parameter whose name ends at `at` starts, if a separator
/// follows the name: `=` (also encoded as `%3D`, `%253D` or `\u003d`), or `:` as in a header or
/// a JSON key (`"sig": "..."`); spaces and an opening quote before the value are skipped.
fn value_after(bytes: &[u8], mut at: usize) -> Option<usize> {
    const SEPARATORS: [&[u8]; 5] = [b"=", b":", b"%3d", b"%253d", b"\\u003d"];
    let skip_spaces = |mut at: usize| {
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
        at
    };
    if matches!(bytes.get(at), Some(b'"' | b'\'')) {
        at += 1;
    }
    at = skip_spaces(at);
    let separator = SEPARATORS.iter().find(|s| bytes[at..].starts_with(s))?;
    at = skip_spaces(at + separator.len());
    if matches!(bytes.get(at), Some(b'"' | b'\'')) {
        at += 1;
    }
    Some(at)
}

/// Whether `b` ends a parameter value or a URL in running text.
fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'&' | b'"' | b'\'' | b'<' | b'>' | b'\\' | b'`' | b';' | b','
        )
}

/// Redacts every URL signature in `text`, wherever it appears: each URL loses its query string
/// (`https://host/path?REDACTED`), and the value of every known signature parameter (Azure
/// `sig`, CloudFront `Signature`, `Policy` and `Key-Pair-Id`, every `X-Amz-*` and `X-Goog-*`)
/// is replaced, also outside URLs (a JSON-escaped or percent-encoded URL, a bare query string,
/// a cookie). The value of every credential in use ([`remember_secret`]) is removed too.
///
/// This is the one redaction of the workspace: every message that carries text from the
/// network is built through it (or through [`redact_url`] for a URL), so no constructor can
/// forget it.
pub fn redact(text: &str) -> String {
    redact_parameters(&redact_url_queries(&known::remove_known_secrets(text)))
}

/// Text from the network (a URI a file names, an error body's message) as a message quotes it:
/// [`redact`]ed, then cut to [`QUOTE_CHARS`] characters with a note of how much was left out, so
/// a `data:` URI of megabytes or a huge error body is not repeated whole. Redacting first means
/// the cut can never leave part of a secret behind. Control characters other than line breaks
/// and tabs are escaped (`\u{1b}`), so quoted text cannot drive the terminal it is printed on.
pub fn quote(text: &str) -> String {
    let mut redacted = String::new();
    for c in redact(text).chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            redacted.extend(c.escape_default());
        } else {
            redacted.push(c);
        }
    }
    match redacted.char_indices().nth(QUOTE_CHARS) {
        None => redacted,
        Some((cut, _)) => {
            let left_out = redacted[cut..].chars().count();
            format!("{}... ({left_out} more characters)", &redacted[..cut])
        }
    }
}

/// An error's message followed by each of its causes (`error sending request: client error
/// (Connect): tcp connect error: Connection refused`), so a DNS, TLS or refused connection is
/// named, not only "error sending request". Redacted, because a cause may quote a URL.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let part = next.to_string();
        // Some errors repeat their source in their own message.
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = next.source();
    }
    redact(&text)
}

/// Cuts the query string and the credentials of the authority off every `scheme://...` URL in
/// `text`, JSON-escaped ones (`https:\/\/...`) included.
fn redact_url_queries(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    loop {
        let plain = text[search..].find("://").map(|n| (search + n, 3, false));
        let escaped = text[search..]
            .find(":\\/\\/")
            .map(|n| (search + n, 5, true));
        let Some((at, len, escaped)) = [plain, escaped].into_iter().flatten().min() else {
            break;
        };
        let start = at + len;
        let end = bytes[start..]
            .iter()
            .position(|&b| {
                ends_value(b) && !matches!(b, b'&' | b';' | b',') && !(escaped && b == b'\\')
            })
            .map_or(bytes.len(), |n| start + n);
        // Credentials in the authority (`user:password@`): the authority ends at the first
        // `/` (or its escaped form), `?` or `#`.
        let authority_end = text[start..end]
            .find(['/', '\\', '?', '#'])
            .map_or(end, |n| start + n);
        if let Some(at_sign) = text[start..authority_end].rfind('@') {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = start + at_sign;
        }
        if let Some(q) = text[start..end].find('?') {
            let q = start + q;
            let query_end = text[q..end].find('#').map_or(end, |h| q + h);
            out.push_str(&text[copied..=q]);
            out.push_str(REDACTED);
            copied = query_end;
        }
        search = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Replaces the value of every known signature parameter in `text`. Positions are found in an
/// ASCII-lowercased copy, which keeps every byte offset of the original.
pub(crate) fn redact_parameters(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let value_start = SIGNATURE_PARAMETERS.iter().find_map(|name| {
            let after = bytes[i..].strip_prefix(name.as_bytes())?;
            // `x-amz-` and `x-goog-` are prefixes: skip the rest of the parameter's name.
            let skip = if name.ends_with('-') {
                after
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
                    .count()
            } else {
                0
            };
            value_after(bytes, i + name.len() + skip)
        });
        let Some(value_start) = value_start else {
            i += 1;
            continue;
        };
        let mut value_end = value_start;
        while value_end < bytes.len()
            && !ends_value(bytes[value_end])
            && !bytes[value_end..].starts_with(b"%26")
        {
            value_end += 1;
        }
        // Both ends sit next to ASCII bytes, so they are character boundaries of `text`.
        if value_end > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str(REDACTED);
            copied = value_end;
        }
        i = value_end.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// A link from a response, for a message: without its query string, and [`quote`]d (redacted,
/// in case it is not a URL at all, and capped).
pub fn redact_link(href: &str) -> String {
    quote(href.split('?').next().unwrap_or_default())
}

/// A URL as text for people: its query replaced by [`REDACTED`], no credentials in its
/// authority, no fragment, and any signature parameter written into its path (`;sig=...`)
/// redacted.
pub fn redact_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    let query = shown.query().is_some();
    shown.set_query(None);
    let shown = redact(shown.as_str());
    if query {
        format!("{shown}?{REDACTED}")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests;
