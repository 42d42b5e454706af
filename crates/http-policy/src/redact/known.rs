//! The credentials in use, whose values [`redact`](super::redact) removes from any text: a
//! client secret, a share key or a token echoed by a server in an error body never reaches an
//! error, a log or the command line's output.
//!
//! Held weakly: a value is known while some holder of it lives (a `Secret` of the API crate
//! remembers its own value when it is made), and forgotten with its last holder, so the list
//! does not grow with every token a long-running process refreshes. Remembering only widens
//! what is removed, so holders in unrelated threads or tests never change each other's output
//! beyond their own values.

use std::sync::{Arc, Mutex, Weak};

use super::REDACTED;

/// Values shorter than this are not remembered: removing every `a` or `42` from a message
/// would garble it, and a credential that short protects nothing.
pub const MIN_SECRET_CHARS: usize = 8;

fn known() -> &'static Mutex<Vec<Weak<str>>> {
    static KNOWN: Mutex<Vec<Weak<str>>> = Mutex::new(Vec::new());
    &KNOWN
}

/// Remembers `value` as a credential in use until its last holder drops it: from now on
/// [`redact`](super::redact) removes it (and its form-encoded and JSON-escaped spellings) from
/// any text. Values
/// shorter than [`MIN_SECRET_CHARS`] characters are ignored.
pub fn remember_secret(value: &Arc<str>) {
    if value.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let mut known = known().lock().unwrap_or_else(|p| p.into_inner());
    known.retain(|held| held.strong_count() > 0);
    if !known
        .iter()
        .any(|held| held.upgrade().as_deref() == Some(&**value))
    {
        known.push(Arc::downgrade(value));
    }
}

/// `text` with the value of every credential in use replaced by [`REDACTED`], longest first so
/// a value that contains another goes whole.
pub(super) fn remove_known_secrets(text: &str) -> String {
    let mut values: Vec<Arc<str>> = {
        let known = known().lock().unwrap_or_else(|p| p.into_inner());
        known.iter().filter_map(Weak::upgrade).collect()
    };
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut out = text.to_owned();
    for value in values {
        for spelling in spellings(&value) {
            if out.contains(&spelling) {
                out = out.replace(&spelling, REDACTED);
            }
        }
    }
    out
}

/// How a value may appear in text a server sends back: as it is, form-encoded (a request body
/// echoed), and JSON-escaped (a body quoted inside a JSON string, `/` escaped or not).
fn spellings(value: &str) -> Vec<String> {
    let json = value.replace('\\', "\\\\").replace('"', "\\\"");
    let mut spellings = vec![
        value.to_owned(),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        json.replace('/', "\\/"),
        json,
    ];
    spellings.sort();
    spellings.dedup();
    // Longest first: one spelling may contain another.
    spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
    spellings
}
