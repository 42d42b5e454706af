//! Query strings: split from a URI, and the signature merged with a URI's own parameters.

use super::segments::percent_decode;

/// The signed query followed by the URI's own parameters that it does not set itself, both in
/// their order: the signature's parameters win (a URI cannot replace or repeat `sig`), the
/// URI's others (`v=2`) are kept.
pub(super) fn merge_queries(signed: Option<&str>, own: Option<&str>) -> Option<String> {
    fn pairs(query: Option<&str>) -> impl Iterator<Item = &str> {
        query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|pair| !pair.is_empty())
    }
    let mut own_pairs = pairs(own).peekable();
    // Names are decoded only when there is something to compare: most URIs have no query.
    let kept_own: Vec<&str> = if own_pairs.peek().is_none() {
        Vec::new()
    } else {
        let name_of = |pair: &str| percent_decode(pair.split('=').next().unwrap_or_default());
        let signed_names: Vec<String> = pairs(signed).map(name_of).collect();
        own_pairs
            .filter(|pair| !signed_names.contains(&name_of(pair)))
            .collect()
    };
    let merged: Vec<&str> = pairs(signed).chain(kept_own).collect();
    (!merged.is_empty()).then(|| merged.join("&"))
}

/// Splits `text` at its first `?`.
pub(super) fn split_query(text: &str) -> (&str, Option<String>) {
    match text.split_once('?') {
        Some((base, query)) if !query.is_empty() => (base, Some(query.to_owned())),
        Some((base, _)) => (base, None),
        None => (text, None),
    }
}
