//! Tileset URLs: a signed root and the files beneath it.
//!
//! A tileset's root is a folder of a blob container, with a signature (an Azure SAS, say) as
//! its query string. Every file of the tileset lives under that root and is fetched with the same
//! query. [`TilesetUrl`] holds the two apart, resolves the URIs a tileset names into
//! [`TileFile`]s, and refuses ([`Refused`]) any URI that would leave the root, so the signature
//! is only ever sent to the host that issued it. Nothing here prints the query: `Debug` and
//! `Display` show `?REDACTED` in its place.

use std::fmt;

use url::Url;

use tiles3d::TilePath;
use tiles3d::name::NameError;

/// What replaces a signed query in everything this module prints.
use http_policy::redact::{REDACTED, redact_url as redacted};

/// Why a mesh href or tileset URL could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TilesetUrlError {
    /// The href is not an absolute URL.
    #[error("the tileset URL is not a valid absolute URL: {0}")]
    Invalid(String),
    /// The href uses a scheme other than `http` or `https`.
    #[error("the tileset URL must use http or https, not `{0}`")]
    Scheme(String),
    /// The source has no tileset URL to give yet, for the reason it states (a service job
    /// that has not finished, say).
    #[error("{0}")]
    Unavailable(String),
    /// The tileset file the URL names cannot be a file in the output directory: its decoded
    /// name is not portable (`..%2Fx.json`, `NUL.json`, `C%3Ax.json`) or is one the downloader
    /// writes itself (`manifest.json`).
    #[error("the tileset URL names a file that cannot be written safely: {0}")]
    UnsafeEntryName(NameError),
}

/// The signed root of a tileset: the folder its files live in, and the query that signs them.
///
/// ```
/// use tiles3d_download::TilesetUrl;
///
/// let url = TilesetUrl::from_root_href("https://blobs.example/c/export-1?sv=1&sig=secret")?;
/// assert_eq!(
///     url.tileset_json().as_str(),
///     "https://blobs.example/c/export-1/tileset.json?sv=1&sig=secret"
/// );
/// // Printing never shows the signature.
/// assert_eq!(url.to_string(), "https://blobs.example/c/export-1/?REDACTED");
/// # Ok::<(), tiles3d_download::TilesetUrlError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TilesetUrl {
    /// The root directory, ending in `/`, without query or fragment.
    root: Url,
    /// The signed query, without the leading `?`.
    query: Option<String>,
    /// The tileset file the walk starts at, relative to `root`.
    entry: TilePath,
}

impl TilesetUrl {
    /// A tileset from the signed URL of its root folder (an export's `_links.mesh.href`, say:
    /// the root of the blob container plus the signed query): split at `?`, append `/tileset.json` to the path, re-append the query.
    pub fn from_root_href(href: &str) -> Result<Self, TilesetUrlError> {
        let (base, query) = split_query(href);
        let mut root = parse_base(base)?;
        if !root.path().ends_with('/') {
            let path = format!("{}/", root.path());
            root.set_path(&path);
        }
        Ok(Self {
            root,
            query,
            entry: TilePath::new(vec!["tileset.json".to_owned()])
                .expect("tileset.json is a portable name"),
        })
    }

    /// A tileset from the signed URL of its JSON file (`.../tileset.json?sig`): the root is the
    /// directory holding that file.
    pub fn from_tileset_json_url(url: &str) -> Result<Self, TilesetUrlError> {
        let (base, query) = split_query(url);
        let mut root = parse_base(base)?;
        let name = root
            .path_segments()
            .and_then(|mut s| s.next_back())
            .map(percent_decode)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| TilesetUrlError::Invalid("the URL names no file".to_owned()))?;
        // The entry becomes a file in the output directory like any other name.
        let entry = TilePath::new(vec![name]).map_err(TilesetUrlError::UnsafeEntryName)?;
        if crate::is_reserved(&entry) {
            return Err(TilesetUrlError::UnsafeEntryName(NameError::Reserved));
        }
        root.path_segments_mut()
            .map_err(|()| TilesetUrlError::Invalid("the URL cannot have a path".to_owned()))?
            .pop()
            .push("");
        Ok(Self { root, query, entry })
    }

    /// Either form: a URL whose path ends in `.json` is taken as the tileset file itself
    /// ([`from_tileset_json_url`](Self::from_tileset_json_url)), anything else as a mesh href
    /// ([`from_root_href`](Self::from_root_href)).
    pub fn parse(href: &str) -> Result<Self, TilesetUrlError> {
        let (base, _) = split_query(href);
        if base.to_ascii_lowercase().ends_with(".json") {
            Self::from_tileset_json_url(href)
        } else {
            Self::from_root_href(href)
        }
    }

    /// The signed URL of the tileset's entry file (`tileset.json` for a mesh href).
    pub fn tileset_json(&self) -> Url {
        self.url_of(&self.entry)
    }

    /// The path of the entry file relative to the root (`tileset.json` for a mesh href).
    pub fn entry(&self) -> &TilePath {
        &self.entry
    }

    /// The root directory without the signature, safe to print or record.
    pub fn root_unsigned(&self) -> &Url {
        &self.root
    }

    /// Whether the URL carries a query (a signature) at all.
    pub fn is_signed(&self) -> bool {
        self.query.is_some()
    }

    /// The signed URL of a file under the root.
    pub fn url_of(&self, path: &TilePath) -> Url {
        self.signed(path, None)
    }

    /// Resolves a URI named in the file `against` (a tileset or glTF under the root) into a file
    /// to fetch, relative URIs against the directory of `against`.
    ///
    /// Returns `Ok(None)` for `data:` URIs: their content is embedded, there is nothing to
    /// fetch. Refuses, with a reportable reason, any URI that escapes the root (`..` past it,
    /// an absolute path, percent-encoded traversal or separators), that points at another host
    /// or scheme, or that names something that cannot be a file.
    pub fn resolve(&self, uri: &str, against: &TilePath) -> Result<Option<TileFile>, Refused> {
        // A refused URI is reported (errors, the manifest, the CLI's JSON): never with a
        // signature it may carry.
        let refuse = |reason| Refused {
            uri: http_policy::redact::redact(uri),
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
        if crate::is_reserved(&path) {
            return Err(refuse(RefusalReason::ReservedName));
        }
        let url = self.signed(&path, own_query.as_deref());
        Ok(Some(TileFile {
            path,
            url,
            own_query,
        }))
    }

    /// `file` signed with this URL's query instead of the one it was resolved with: after a
    /// fresh signature, the files already found are fetched with it.
    pub fn resign(&self, file: &TileFile) -> TileFile {
        self.file_at(file.path.clone(), file.own_query.clone())
    }

    /// The file at `path` under the root, with its own query after the signature.
    pub(crate) fn file_at(&self, path: TilePath, own_query: Option<String>) -> TileFile {
        TileFile {
            url: self.signed(&path, own_query.as_deref()),
            path,
            own_query,
        }
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

    fn signed(&self, path: &TilePath, own_query: Option<&str>) -> Url {
        let mut url = self.root.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path.segments());
        }
        url.set_query(merge_queries(self.query.as_deref(), own_query).as_deref());
        url
    }
}

impl fmt::Display for TilesetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted(&self.root))?;
        if self.query.is_some() {
            write!(f, "?{REDACTED}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TilesetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TilesetUrl")
            .field("root", &redacted(&self.root))
            .field("query", &self.query.as_ref().map(|_| REDACTED))
            .field("entry", &self.entry.as_str())
            .finish()
    }
}

/// A file of the tileset: where it lives under the root, and its signed URL.
#[derive(Clone, PartialEq, Eq)]
pub struct TileFile {
    path: TilePath,
    url: Url,
    /// The query the URI named itself, kept apart so a fresh signature can replace ours.
    own_query: Option<String>,
}

impl TileFile {
    /// Takes the file apart into what its URL is built from: its path and its own query.
    pub(crate) fn into_parts(self) -> (TilePath, Option<String>) {
        (self.path, self.own_query)
    }

    /// The file's path relative to the tileset root.
    pub fn path(&self) -> &TilePath {
        &self.path
    }

    /// The signed URL to fetch it from. This carries the signature: do not log it.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl fmt::Debug for TileFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TileFile")
            .field("path", &self.path.as_str())
            .field("url", &redacted(&self.url))
            .finish()
    }
}

/// A URI the walk would not follow, with where it was found and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused `{uri}` named in `{in_file}`: {reason}")]
pub struct Refused {
    /// The URI as the file wrote it.
    pub uri: String,
    /// The file that names it.
    pub in_file: TilePath,
    /// Why it was refused.
    pub reason: RefusalReason,
}

/// Why a URI in a tileset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefusalReason {
    /// `..` segments climb above the tileset root.
    #[error("it climbs above the tileset root")]
    EscapesRoot,
    /// An absolute path (`/x`) rather than one relative to the file.
    #[error("it is an absolute path")]
    AbsolutePath,
    /// Percent-encoded `.`/`..` or separators (`%2e%2e`, `%2f`), a traversal in disguise.
    #[error("it hides a path traversal or separator in percent-encoding")]
    EncodedTraversal,
    /// A URL on another host or port: the signature must not be sent there.
    #[error("it points at another host ({0}), which must not receive the signature")]
    OtherHost(String),
    /// A scheme other than http(s) or data.
    #[error("its scheme `{0}` is not fetched")]
    OtherScheme(String),
    /// Control characters or backslashes.
    #[error("it holds a control character or backslash")]
    InvalidCharacter,
    /// The URI is empty.
    #[error("it is empty")]
    Empty,
    /// It names a directory, not a file.
    #[error("it names a directory, not a file")]
    NotAFile,
    /// It collides with a file the downloader writes itself (`manifest.json`, temporary files).
    #[error("it collides with a file the downloader writes itself")]
    ReservedName,
    /// It could not be parsed as a URL.
    #[error("it is not a valid URL")]
    Invalid,
    /// A name in it is not a portable file name (a `:`, a device name such as `NUL.glb`, a
    /// trailing dot or space, a reserved character, double encoding, too long or too deep).
    #[error("it is not a portable file name: {0}")]
    NotPortable(NameError),
    /// It differs only in letter case from another file of the tileset (or a directory does):
    /// one file on macOS and Windows, so it is refused rather than silently merged.
    #[error("it differs only in letter case from `{0}`, the same file on macOS and Windows")]
    CaseCollision(String),
}

/// Applies the segments of a relative path to `stack`, refusing anything that leaves it.
fn push_relative(stack: &mut Vec<String>, relative: &str) -> Result<(), RefusalReason> {
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

/// The signed query followed by the URI's own parameters that it does not set itself, both in
/// their order: the signature's parameters win (a URI cannot replace or repeat `sig`), the
/// URI's others (`v=2`) are kept.
fn merge_queries(signed: Option<&str>, own: Option<&str>) -> Option<String> {
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

fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
}

/// Splits `text` at its first `?`.
fn split_query(text: &str) -> (&str, Option<String>) {
    match text.split_once('?') {
        Some((base, query)) if !query.is_empty() => (base, Some(query.to_owned())),
        Some((base, _)) => (base, None),
        None => (text, None),
    }
}

fn parse_base(base: &str) -> Result<Url, TilesetUrlError> {
    let mut url = Url::parse(base.trim()).map_err(|e| TilesetUrlError::Invalid(e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(TilesetUrlError::Scheme(url.scheme().to_owned()));
    }
    url.set_fragment(None);
    url.set_query(None);
    Ok(url)
}

/// The scheme of an absolute URI (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`,
/// before the first `:` and before any `/`).
fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// Decodes `%XX` escapes; invalid escapes and invalid UTF-8 are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printing_hides_credentials_in_the_authority_and_signatures_in_the_path() {
        let url = TilesetUrl::from_root_href("https://user:TOKEN123@blobs.example/c/e?sv=1&sig=S")
            .unwrap();
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("TOKEN123"), "{shown}");
        let url = TilesetUrl::from_root_href("https://blobs.example/c/e;sig=SECRET1?sv=1").unwrap();
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("SECRET1"), "{shown}");
        let file = url
            .resolve("t.glb", &TilePath::parse("tileset.json").unwrap())
            .unwrap()
            .unwrap();
        assert!(!format!("{file:?}").contains("SECRET1"));
    }

    #[test]
    fn a_refused_uri_is_reported_without_its_signature() {
        let url = TilesetUrl::from_root_href("https://h/c/e?sv=1&sig=OURS").unwrap();
        let against = TilePath::parse("tileset.json").unwrap();
        for uri in [
            "https://h/c/other/x.glb?sv=1&sig=SECRET3",
            "https://cdn.example/x.glb?sv=1&sig=SECRET3",
            "NUL.glb?X-Amz-Signature=SECRET3",
            "ftp://h/x?Signature=SECRET3",
        ] {
            let refused = url.resolve(uri, &against).unwrap_err();
            let shown = format!("{refused} {refused:?}");
            assert!(!shown.contains("SECRET3"), "{shown}");
        }
    }

    const HREF: &str = "https://blobs.example/container/export-1?sv=2024&sig=SECRET";

    fn url() -> TilesetUrl {
        TilesetUrl::from_root_href(HREF).unwrap()
    }

    fn root() -> TilePath {
        TilePath::parse("tileset.json").unwrap()
    }

    fn resolve(uri: &str, against: &str) -> Result<Option<TileFile>, Refused> {
        url().resolve(uri, &TilePath::parse(against).unwrap())
    }

    fn resolved(uri: &str, against: &str) -> (String, String) {
        let file = resolve(uri, against).unwrap().unwrap();
        (file.path().to_string(), file.url().to_string())
    }

    fn reason(uri: &str, against: &str) -> RefusalReason {
        resolve(uri, against).unwrap_err().reason
    }

    #[test]
    fn tileset_json_splits_at_the_query_and_reappends_it() {
        assert_eq!(
            url().tileset_json().as_str(),
            "https://blobs.example/container/export-1/tileset.json?sv=2024&sig=SECRET"
        );
        let trailing = TilesetUrl::from_root_href("https://h/c/e/?sig=S").unwrap();
        assert_eq!(
            trailing.tileset_json().as_str(),
            "https://h/c/e/tileset.json?sig=S"
        );
        let unsigned = TilesetUrl::from_root_href("http://h/c").unwrap();
        assert_eq!(unsigned.tileset_json().as_str(), "http://h/c/tileset.json");
        assert!(!unsigned.is_signed());
        assert!(url().is_signed());
    }

    #[test]
    fn urls_shown_to_people_keep_where_they_point_and_lose_secrets() {
        assert_eq!(
            url().to_string(),
            "https://blobs.example/container/export-1/?REDACTED"
        );
        let file = url().file_at(TilePath::parse("a/b.glb").unwrap(), None);
        assert_eq!(
            format!("{file:?}"),
            "TileFile { path: \"a/b.glb\", url: \"https://blobs.example/container/export-1/a/b.glb?REDACTED\" }"
        );
        let tricky =
            Url::parse("https://user:pw@h.example/c;sig=SECRET1/t.json?sig=SECRET2#frag").unwrap();
        // A signature may hold `/` (base64), so its value runs to the end of the path.
        assert_eq!(
            redacted(&tricky),
            "https://h.example/c;sig=REDACTED?REDACTED"
        );
        let plain = Url::parse("https://h.example/c/t.json").unwrap();
        assert_eq!(redacted(&plain), "https://h.example/c/t.json");
        assert_eq!(
            format!("{:?}", TilePath::parse("a/b.glb").unwrap()),
            "TilePath(\"a/b.glb\")"
        );
    }

    #[test]
    fn a_segment_with_a_control_character_or_a_separator_is_not_valid() {
        for bad in ["", ".", "..", "a\u{1}b", "a\u{7f}", "a/b", "a\\b"] {
            assert!(!valid_segment(bad), "{bad:?}");
        }
        assert!(valid_segment("a b.glb"));
    }

    #[test]
    fn escapes_are_decoded_and_a_truncated_or_invalid_one_is_kept() {
        assert_eq!(percent_decode("a%2E%2e"), "a..");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        for kept in ["a%2", "a%", "%", "%zz", "100%"] {
            assert_eq!(percent_decode(kept), kept);
        }
        // Bytes that are not UTF-8 leave the text as it was.
        assert_eq!(percent_decode("a%FF"), "a%FF");
    }

    #[test]
    fn an_empty_query_is_no_signature() {
        let url = TilesetUrl::from_root_href("https://h/c/e?").unwrap();
        assert!(!url.is_signed());
        assert_eq!(url.tileset_json().as_str(), "https://h/c/e/tileset.json");
    }

    #[test]
    fn a_tileset_json_url_has_its_directory_as_root() {
        let u = TilesetUrl::parse("https://h/c/e/root.json?sig=S").unwrap();
        assert_eq!(u.entry().as_str(), "root.json");
        assert_eq!(u.root_unsigned().as_str(), "https://h/c/e/");
        assert_eq!(u.tileset_json().as_str(), "https://h/c/e/root.json?sig=S");
        let href = TilesetUrl::parse(HREF).unwrap();
        assert_eq!(href.entry().as_str(), "tileset.json");
    }

    #[test]
    fn rejects_non_http_hrefs() {
        assert!(matches!(
            TilesetUrl::from_root_href("ftp://h/c?x"),
            Err(TilesetUrlError::Scheme(_))
        ));
        assert!(matches!(
            TilesetUrl::from_root_href("not a url"),
            Err(TilesetUrlError::Invalid(_))
        ));
    }

    #[test]
    fn relative_uris_resolve_against_the_naming_file_and_keep_the_signature() {
        assert_eq!(
            resolved("tiles/0.glb", "tileset.json"),
            (
                "tiles/0.glb".into(),
                "https://blobs.example/container/export-1/tiles/0.glb?sv=2024&sig=SECRET".into()
            )
        );
        assert_eq!(resolved("0.glb", "sub/child.json").0, "sub/0.glb");
        assert_eq!(resolved("./a/./b.glb", "sub/child.json").0, "sub/a/b.glb");
        assert_eq!(resolved("../shared/t.png", "sub/m.gltf").0, "shared/t.png");
        assert_eq!(resolved("a//b.glb", "tileset.json").0, "a/b.glb");
    }

    #[test]
    fn percent_encoded_names_are_decoded_for_disk_and_reencoded_for_the_request() {
        let (path, url) = resolved("my%20tile.glb", "tileset.json");
        assert_eq!(path, "my tile.glb");
        assert!(url.contains("/my%20tile.glb?sv=2024&sig=SECRET"), "{url}");
    }

    #[test]
    fn the_uris_own_query_follows_the_signature_and_the_fragment_is_dropped() {
        let (path, url) = resolved("t.glb?v=2#frag", "tileset.json");
        assert_eq!(path, "t.glb");
        assert!(url.ends_with("/t.glb?sv=2024&sig=SECRET&v=2"), "{url}");
    }

    #[test]
    fn same_origin_absolute_urls_under_the_root_become_relative() {
        let (path, url) = resolved(
            "https://blobs.example/container/export-1/a/b.glb?v=1",
            "tileset.json",
        );
        assert_eq!(path, "a/b.glb");
        assert!(url.ends_with("/a/b.glb?sv=2024&sig=SECRET&v=1"), "{url}");
    }

    #[test]
    fn the_signed_query_wins_over_the_uris_own_parameters_of_the_same_name() {
        // The URI's `sig` and `sv` never replace or repeat ours; its other parameters are kept
        // after ours, in their order.
        let (_, url) = resolved(
            "https://blobs.example/container/export-1/a/b.glb?sig=OTHER&z=1&sv=1999&a=2",
            "tileset.json",
        );
        assert!(
            url.ends_with("/a/b.glb?sv=2024&sig=SECRET&z=1&a=2"),
            "{url}"
        );
        let (_, url) = resolved("t.glb?%73ig=SNEAKY&v=2", "tileset.json");
        assert!(url.ends_with("/t.glb?sv=2024&sig=SECRET&v=2"), "{url}");
        let unsigned = TilesetUrl::from_root_href("https://h/c").unwrap();
        let file = unsigned.resolve("t.glb?v=2", &root()).unwrap().unwrap();
        assert!(file.url().as_str().ends_with("/t.glb?v=2"));
    }

    #[test]
    fn data_uris_have_nothing_to_fetch() {
        assert_eq!(
            resolve("data:application/octet-stream;base64,AAAA", "m.gltf"),
            Ok(None)
        );
        assert_eq!(resolve("DATA:image/png;base64,AAAA", "m.gltf"), Ok(None));
    }

    #[test]
    fn a_multibyte_character_near_the_start_is_not_a_panic() {
        // Found by the `tileset_walk` fuzz target: the `data:` check sliced inside a character.
        assert!(matches!(resolve("data\u{21e}x.glb", "t.json"), Ok(Some(_))));
        assert_eq!(
            reason("dat\u{e9}:x", "t.json"),
            RefusalReason::NotPortable(NameError::Colon)
        );
    }

    #[test]
    fn traversal_beyond_the_root_is_refused() {
        assert_eq!(
            reason("../x.glb", "tileset.json"),
            RefusalReason::EscapesRoot
        );
        assert_eq!(
            reason("sub/../../x.glb", "tileset.json"),
            RefusalReason::EscapesRoot
        );
        assert_eq!(
            reason("../../x.glb", "sub/child.json"),
            RefusalReason::EscapesRoot
        );
        assert_eq!(
            reason(
                "https://blobs.example/container/other/x.glb",
                "tileset.json"
            ),
            RefusalReason::EscapesRoot
        );
        assert_eq!(
            reason(
                "https://blobs.example/container/export-1/../other/x.glb",
                "tileset.json"
            ),
            RefusalReason::EscapesRoot
        );
    }

    #[test]
    fn absolute_paths_are_refused() {
        assert_eq!(
            reason("/etc/passwd", "tileset.json"),
            RefusalReason::AbsolutePath
        );
        assert_eq!(
            reason("/container/export-1/x.glb", "tileset.json"),
            RefusalReason::AbsolutePath
        );
    }

    #[test]
    fn encoded_traversal_and_separators_are_refused() {
        for uri in [
            "%2e%2e/x.glb",
            "%2E%2E/x.glb",
            ".%2e/x.glb",
            "a%2f..%2f..%2fx",
            "a%5cb.glb",
            "%2e",
        ] {
            assert_eq!(
                reason(uri, "tileset.json"),
                RefusalReason::EncodedTraversal,
                "{uri}"
            );
        }
    }

    #[test]
    fn backslashes_and_control_characters_are_refused() {
        assert_eq!(
            reason("..\\x.glb", "tileset.json"),
            RefusalReason::InvalidCharacter
        );
        assert_eq!(
            reason("a\u{0}.glb", "tileset.json"),
            RefusalReason::InvalidCharacter
        );
        assert_eq!(
            reason("a%00.glb", "tileset.json"),
            RefusalReason::InvalidCharacter
        );
    }

    #[test]
    fn other_hosts_ports_and_schemes_are_refused() {
        assert!(matches!(
            reason("https://evil.example/x.glb", "tileset.json"),
            RefusalReason::OtherHost(h) if h == "evil.example"
        ));
        assert!(matches!(
            reason(
                "https://blobs.example:8443/container/export-1/x.glb",
                "tileset.json"
            ),
            RefusalReason::OtherHost(_)
        ));
        assert!(matches!(
            reason(
                "http://blobs.example/container/export-1/x.glb",
                "tileset.json"
            ),
            RefusalReason::OtherHost(_)
        ));
        assert!(matches!(
            reason("//evil.example/x.glb", "tileset.json"),
            RefusalReason::OtherHost(_)
        ));
        assert!(matches!(
            reason("file:///etc/passwd", "tileset.json"),
            RefusalReason::OtherScheme(s) if s == "file"
        ));
    }

    #[test]
    fn directories_empty_uris_and_reserved_names_are_refused() {
        assert_eq!(reason("tiles/", "tileset.json"), RefusalReason::NotAFile);
        assert_eq!(reason("..", "sub/child.json"), RefusalReason::NotAFile);
        assert_eq!(reason("  ", "tileset.json"), RefusalReason::Empty);
        assert_eq!(
            reason("manifest.json", "tileset.json"),
            RefusalReason::ReservedName
        );
        // Only the root one is ours.
        assert_eq!(
            resolved("manifest.json", "sub/child.json").0,
            "sub/manifest.json"
        );
    }

    #[test]
    fn nothing_printed_shows_the_signature() {
        let u = url();
        let file = u.resolve("a.glb", &root()).unwrap().unwrap();
        let refused = u.resolve("../a.glb", &root()).unwrap_err();
        for text in [
            format!("{u}"),
            format!("{u:?}"),
            format!("{file:?}"),
            format!("{refused}"),
            format!("{refused:?}"),
        ] {
            assert!(!text.contains("SECRET"), "{text}");
        }
        assert!(format!("{u:?}").contains(REDACTED));
    }
}
