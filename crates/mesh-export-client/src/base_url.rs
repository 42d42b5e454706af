//! A client's base URL, parsed once for all its requests.
//!
//! progenitor builds each request's URL as the text `baseurl + path` and parses all of it
//! again, scheme and host included, on every call: about a third of the cost of building a
//! request. The generated `into_request` asks [`BaseUrl::join`] instead, which appends the
//! path to the URL parsed when the client was made, with the same result.

use progenitor_client::Error;
use reqwest::Url;

/// The base URL of a generated `Client`, and the form that operation paths are appended to.
#[derive(Clone)]
pub(crate) struct BaseUrl {
    text: String,
    /// The parsed base and the path that operation paths follow, when appending them to it is
    /// known to give what parsing the whole text would.
    parsed: Option<(Url, String)>,
}

impl BaseUrl {
    /// Parses `text` once. A base URL the fast path does not cover (one with a query or a
    /// fragment, one not in normal form, one that does not parse) is kept as text, and each
    /// request's URL is parsed whole, as progenitor does.
    pub(crate) fn new(text: &str) -> Self {
        let parsed = Url::parse(text).ok().and_then(|url| {
            if url.cannot_be_a_base()
                || !url.has_host()
                || url.query().is_some()
                || url.fragment().is_some()
            {
                return None;
            }
            // Normal form: parsing changes nothing, so the path follows the text's path as
            // written. The one exception is an empty path, which parsing writes as `/`.
            let path = if url.as_str() == text {
                url.path().to_owned()
            } else if url.path() == "/" && url.as_str().strip_suffix('/') == Some(text) {
                String::new()
            } else {
                return None;
            };
            Some((url, path))
        });
        Self {
            text: text.to_owned(),
            parsed,
        }
    }

    /// The URL of `path` (an operation's path, its parameters already percent-encoded) under
    /// this base: the URL `format!("{base}{path}")` parses to.
    // The error is the generated builders' own (progenitor's `Error`), which `into_request`
    // returns.
    #[allow(clippy::result_large_err)]
    pub(crate) fn join<E>(&self, path: &str) -> Result<Url, Error<E>> {
        match &self.parsed {
            // progenitor's paths start with `/` and percent-encode `?`, `#`, spaces and controls
            // in path parameters. Any other text could end the host (no leading `/`), start a
            // query or a fragment, or lose a trailing space or control character to a whole
            // parse's trimming: only a whole parse reproduces those.
            Some((base, base_path))
                if (path.is_empty() || path.starts_with('/'))
                    && !path.contains(['?', '#'])
                    && !path.ends_with(|c: char| c <= ' ') =>
            {
                let mut url = base.clone();
                url.set_path(&format!("{base_path}{path}"));
                Ok(url)
            }
            _ => Url::parse(&format!("{}{path}", self.text))
                // Not the base itself: it may carry a password.
                .map_err(|e| Error::InvalidRequest(format!("the base URL does not parse: {e}"))),
        }
    }
}

/// Shows whether the base was parsed once, nothing of the URL: the client's `baseurl` field
/// already shows it, and a parsed `Url` would print a password as a field of its own.
impl std::fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseUrl")
            .field("parsed_once", &self.parsed.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What progenitor does: parse the whole text.
    fn whole(base: &str, path: &str) -> Option<String> {
        Url::parse(&format!("{base}{path}"))
            .ok()
            .map(|u| u.to_string())
    }

    fn joined(base: &str, path: &str) -> Option<String> {
        BaseUrl::new(base)
            .join::<()>(path)
            .ok()
            .map(|u| u.to_string())
    }

    const BASES: &[&str] = &[
        "https://api.bentley.com/mesh-export",
        "https://api.bentley.com/mesh-export/",
        "https://api.bentley.com",
        "https://api.bentley.com/",
        "http://127.0.0.1:8080/mesh-export",
        "http://[::1]:8080/a/b",
        "https://user:pw@host.example/x",
        "HTTPS://API.Bentley.com/Mesh%2dExport",
        "https://api.bentley.com/a b/é",
        "https://api.bentley.com/a/../b/./c",
        "https://api.bentley.com\\mesh-export",
        "https://api.bentley.com:443/mesh-export",
        "https://xn--bcher-kva.example/b\u{fc}cher",
        "https://api.bentley.com/mesh-export?x=1",
        "https://api.bentley.com/mesh-export#frag",
        "https://api.bentley.com/%2e%2e/x",
        "file:///tmp/x",
        "mailto:someone@example.com",
        "not a url",
        "",
    ];

    const PATHS: &[&str] = &[
        "",
        "/",
        "/abc",
        "/a%20b",
        "/%2E%2E",
        "/..",
        "/../..",
        "/./x/",
        "/a%2Fb%5Cc",
        "/%25",
        "/é",
        "//double",
        "/a\\b",
        "/x?not-a-query",
        "/x#not-a-fragment",
        "/x ",
        "/x\u{0}",
        "/x\u{1f}",
        "/a\tb",
        "/a\nb\r",
        " /x",
        "x",
        "\\x",
    ];

    #[test]
    fn every_base_and_path_join_as_the_whole_text_parses() {
        for base in BASES {
            for path in PATHS {
                assert_eq!(
                    joined(base, path),
                    whole(base, path),
                    "base {base:?}, path {path:?}"
                );
            }
        }
    }

    #[test]
    fn usual_bases_take_the_parsed_path() {
        for base in [
            "https://api.bentley.com/mesh-export",
            "https://api.bentley.com",
            "http://127.0.0.1:8080/",
        ] {
            assert!(BaseUrl::new(base).parsed.is_some(), "{base}");
        }
    }

    #[test]
    fn a_base_not_in_normal_form_or_with_a_query_is_parsed_whole_each_time() {
        for base in [
            "HTTPS://API.Bentley.com/x",
            "https://api.bentley.com/a/../b",
            "https://api.bentley.com/x?y=1",
            "https://api.bentley.com/x#y",
            "mailto:someone@example.com",
        ] {
            assert!(BaseUrl::new(base).parsed.is_none(), "{base}");
        }
    }

    #[test]
    fn a_base_that_does_not_parse_is_a_clear_error_without_the_base() {
        let error = BaseUrl::new("https://user:s3cr3t@exa mple/x")
            .join::<()>("/")
            .unwrap_err()
            .to_string();
        assert!(error.contains("the base URL does not parse"), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
    }

    #[test]
    fn debug_output_shows_nothing_of_the_url() {
        for base in [
            "https://user:s3cr3t@api.example/x",
            "https://user:s3cr3t@exa mple/x",
        ] {
            let debug = format!("{:?}", BaseUrl::new(base));
            assert!(!debug.contains("s3cr3t"), "{debug}");
            assert!(!debug.contains("example"), "{debug}");
        }
    }
}
