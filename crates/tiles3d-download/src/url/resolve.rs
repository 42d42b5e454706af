//! Resolving the URIs a tileset names into files under its root, or refusing them.

use url::Url;

use tiles3d::TilePath;

use super::query::split_query;
use super::refusal::{RefusalReason, Refused};
use super::segments::{push_relative, uri_scheme};
use super::{TileFile, TilesetUrl};
use crate::reserved::is_reserved;

impl TilesetUrl {
    /// Resolves a URI named in the file `against` (a tileset or glTF under the root) into a file
    /// to fetch, relative URIs against the directory of `against`.
    ///
    /// Returns `Ok(None)` for `data:` URIs: their content is embedded, there is nothing to
    /// fetch. Refuses, with a reportable reason, any URI that escapes the root (`..` past it,
    /// an absolute path, percent-encoded traversal or separators), that points at another host
    /// or scheme, or that names something that cannot be a file.
    pub fn resolve(&self, uri: &str, against: &TilePath) -> Result<Option<TileFile>, Refused> {
        // A refused URI is reported (errors, the manifest, the CLI's JSON): never with a
        // signature it may carry, nor whole when it is huge.
        let refuse = |reason| Refused {
            uri: http_policy::redact::quote(uri),
            in_file: against.clone(),
            reason,
        };
        let trimmed = uri.trim();
        if trimmed.is_empty() {
            return Err(refuse(RefusalReason::Empty));
        }
        if trimmed
            .get(..5)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"))
        {
            return Ok(None);
        }
        if trimmed.chars().any(|c| c.is_control() || c == '\\') {
            return Err(refuse(RefusalReason::InvalidCharacter));
        }
        // Fragments never reach the server; a query of the URI's own is sent after ours.
        let without_fragment = trimmed.split('#').next().unwrap_or_default();
        let (path_part, own_query) = split_query(without_fragment);

        let segments = if let Some(scheme) = uri_scheme(path_part) {
            let absolute =
                Url::parse(without_fragment).map_err(|_| refuse(RefusalReason::Invalid))?;
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return Err(refuse(RefusalReason::OtherScheme(
                    scheme.to_ascii_lowercase(),
                )));
            }
            self.segments_of_same_origin(&absolute).map_err(refuse)?
        } else if path_part.starts_with("//") {
            // Scheme-relative: another host unless it is ours, and then an absolute path.
            let absolute = Url::parse(&format!("{}:{}", self.root.scheme(), without_fragment))
                .map_err(|_| refuse(RefusalReason::Invalid))?;
            self.segments_of_same_origin(&absolute).map_err(refuse)?
        } else if path_part.starts_with('/') {
            return Err(refuse(RefusalReason::AbsolutePath));
        } else {
            let mut stack: Vec<String> = against.parent_segments().to_vec();
            push_relative(&mut stack, path_part).map_err(refuse)?;
            stack
        };
        if segments.is_empty() {
            return Err(refuse(RefusalReason::NotAFile));
        }
        let path = TilePath::new(segments).map_err(|e| refuse(RefusalReason::NotPortable(e)))?;
        if is_reserved(&path) {
            return Err(refuse(RefusalReason::ReservedName));
        }
        let url = self.signed(&path, own_query.as_deref());
        Ok(Some(TileFile {
            path,
            url,
            own_query,
        }))
    }

    /// The path under the root of an absolute URL on the same origin, or why it is refused.
    fn segments_of_same_origin(&self, absolute: &Url) -> Result<Vec<String>, RefusalReason> {
        if absolute.scheme() != self.root.scheme()
            || absolute.host_str() != self.root.host_str()
            || absolute.port_or_known_default() != self.root.port_or_known_default()
        {
            return Err(RefusalReason::OtherHost(
                absolute.host_str().unwrap_or_default().to_owned(),
            ));
        }
        // `Url` has already normalised `..`; what is left must lie under the root.
        let Some(rest) = absolute.path().strip_prefix(self.root.path()) else {
            return Err(RefusalReason::EscapesRoot);
        };
        let mut stack = Vec::new();
        push_relative(&mut stack, rest)?;
        Ok(stack)
    }
}
