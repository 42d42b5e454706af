//! The segments of a URI path: decoded, checked, and applied to a path under the root.

use std::borrow::Cow;

use super::refusal::RefusalReason;

/// Applies the segments of a relative path to `stack`, refusing anything that leaves it.
pub(super) fn push_relative(stack: &mut Vec<String>, relative: &str) -> Result<(), RefusalReason> {
    let raw: Vec<&str> = relative.split('/').collect();
    for (i, raw_segment) in raw.iter().enumerate() {
        let last = i + 1 == raw.len();
        match *raw_segment {
            "" | "." if last => return Err(RefusalReason::NotAFile),
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(RefusalReason::EscapesRoot);
                }
                if last {
                    return Err(RefusalReason::NotAFile);
                }
            }
            encoded => {
                let decoded = percent_decode(encoded);
                if decoded == "." || decoded == ".." || decoded.contains(['/', '\\']) {
                    return Err(RefusalReason::EncodedTraversal);
                }
                if !valid_segment(&decoded) {
                    return Err(RefusalReason::InvalidCharacter);
                }
                stack.push(decoded);
            }
        }
    }
    Ok(())
}

pub(super) fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
}

/// The scheme of an absolute URI (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`,
/// before the first `:` and before any `/`).
pub(super) fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// Decodes `%XX` escapes; invalid escapes are kept as they are, and text whose decoded bytes
/// are not UTF-8 is kept whole.
pub(super) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_or_else(|_| text.to_owned(), Cow::into_owned)
}
