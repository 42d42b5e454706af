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

use self::query::{merge_queries, split_query};
use self::segments::percent_decode;
use crate::reserved::is_reserved;

pub use self::refusal::{RefusalReason, Refused};

mod query;
mod refusal;
mod resolve;
mod segments;
#[cfg(test)]
mod tests;

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
    /// The URL names a 3D Tiles package (`.3tz`, `.3dtiles`): one file holding a whole
    /// tileset, which this downloader does not open. Taking it as a folder would only fail on
    /// a `tileset.json` that is not there, however often it ran.
    #[error(
        "`{0}` is a 3D Tiles package (one file holding the whole tileset): packages are not \
         walked; fetch it as a single file, or extract it and download the extracted tileset"
    )]
    Package(String),
    /// The root given with the entry URL has a query of its own: the entry URL's query is the
    /// one signature every file is fetched with.
    #[error("the root URL must not have a query: the tileset URL's query signs every file")]
    RootHasQuery,
    /// The root is on another scheme, host or port than the entry: the signature would go
    /// where it was not issued.
    #[error("the root `{root}` is not on the scheme, host and port of the tileset URL `{entry}`")]
    RootOtherOrigin {
        /// The root, redacted.
        root: String,
        /// The entry URL, redacted.
        entry: String,
    },
    /// The entry does not lie under the root.
    #[error("the root `{root}` is not a folder above the tileset URL `{entry}`")]
    RootNotAbove {
        /// The root, redacted.
        root: String,
        /// The entry URL, redacted.
        entry: String,
    },
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
    /// the root of the blob container plus the signed query): split at `?`, append
    /// `/tileset.json` to the path, re-append the query.
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
        if is_reserved(&entry) {
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

    /// A tileset whose entry (`entry_url`, signed, in either form [`parse`](Self::parse)
    /// takes) lies below `root_url`, a folder of the same container: URIs may climb above the
    /// entry's folder as far as the root, and files are named by their path under the root.
    ///
    /// ```
    /// use tiles3d_download::{TilePath, TilesetUrl};
    ///
    /// let url = TilesetUrl::with_root(
    ///     "https://blobs.example/c/sub/dir/tileset.json?sig=secret",
    ///     "https://blobs.example/c/",
    /// )?;
    /// assert_eq!(url.entry().as_str(), "sub/dir/tileset.json");
    /// let schema = url.resolve("../../schemas/x.json", url.entry()).unwrap().unwrap();
    /// assert_eq!(schema.path().as_str(), "schemas/x.json");
    /// assert!(url.resolve("../../../x.json", url.entry()).is_err());
    /// # Ok::<(), tiles3d_download::TilesetUrlError>(())
    /// ```
    pub fn with_root(entry_url: &str, root_url: &str) -> Result<Self, TilesetUrlError> {
        let at_entry = Self::parse(entry_url)?;
        let (root_base, root_query) = split_query(root_url);
        if root_query.is_some() {
            return Err(TilesetUrlError::RootHasQuery);
        }
        let mut root = parse_base(root_base)?;
        if !root.path().ends_with('/') {
            let path = format!("{}/", root.path());
            root.set_path(&path);
        }
        let shown = || (redacted(&root), redacted(&at_entry.tileset_json()));
        if root.scheme() != at_entry.root.scheme()
            || root.host_str() != at_entry.root.host_str()
            || root.port_or_known_default() != at_entry.root.port_or_known_default()
        {
            let (root, entry) = shown();
            return Err(TilesetUrlError::RootOtherOrigin { root, entry });
        }
        let decoded = |url: &Url| -> Vec<String> {
            url.path_segments()
                .map(|s| s.filter(|s| !s.is_empty()).map(percent_decode).collect())
                .unwrap_or_default()
        };
        let (above, entry_folder) = (decoded(&root), decoded(&at_entry.root));
        let Some(below) = entry_folder.strip_prefix(above.as_slice()) else {
            let (root, entry) = shown();
            return Err(TilesetUrlError::RootNotAbove { root, entry });
        };
        let segments = below
            .iter()
            .map(String::as_str)
            .chain(at_entry.entry.segments());
        let entry = TilePath::new(segments.map(str::to_owned).collect())
            .map_err(TilesetUrlError::UnsafeEntryName)?;
        if is_reserved(&entry) {
            return Err(TilesetUrlError::UnsafeEntryName(NameError::Reserved));
        }
        Ok(Self {
            root,
            query: at_entry.query,
            entry,
        })
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

    /// The signed List Blobs URL (Azure's `restype=container&comp=list`) of the container
    /// `up` folders above the root (0: the root is the container, as a mesh link's is), asking
    /// for the page at `marker`; and the prefix of the root's blobs in it (`sub/dir/`, or
    /// empty). `None` when the root has no `up + 1` folders. It carries the signature: send it
    /// to its host only, never log it.
    pub(crate) fn listing_page(
        &self,
        up: usize,
        marker: Option<&str>,
        max_results: usize,
    ) -> Option<(Url, String)> {
        let segments: Vec<&str> = self
            .root
            .path_segments()?
            .filter(|s| !s.is_empty())
            .collect();
        let kept = segments.len().checked_sub(up).filter(|&kept| kept > 0)?;
        let mut prefix = String::new();
        for segment in &segments[kept..] {
            prefix.push_str(&percent_decode(segment));
            prefix.push('/');
        }
        let mut url = self.root.clone();
        url.set_path(&format!("/{}", segments[..kept].join("/")));
        url.set_query(self.query.as_deref());
        {
            let mut pairs = url.query_pairs_mut();
            pairs
                .append_pair("restype", "container")
                .append_pair("comp", "list");
            if !prefix.is_empty() {
                pairs.append_pair("prefix", &prefix);
            }
            if let Some(marker) = marker {
                pairs.append_pair("marker", marker);
            }
            pairs.append_pair("maxresults", &max_results.to_string());
        }
        Some((url, prefix))
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

fn parse_base(base: &str) -> Result<Url, TilesetUrlError> {
    let mut url = Url::parse(base.trim()).map_err(|e| TilesetUrlError::Invalid(e.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(TilesetUrlError::Scheme(url.scheme().to_owned()));
    }
    url.set_fragment(None);
    url.set_query(None);
    let last = url.path_segments().and_then(|mut s| s.next_back());
    if let Some(name) = last.map(percent_decode) {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".3tz") || lower.ends_with(".3dtiles") {
            return Err(TilesetUrlError::Package(name));
        }
    }
    Ok(url)
}
