//! The container listing: Azure's List Blobs (`restype=container&comp=list`, paged by
//! `marker` / `NextMarker`) under the tileset's root, where the signed link allows it (an
//! Azure SAS with the `l` permission, as a Mesh Export link has).
//!
//! The listing names every file at once, where the walk finds them a level at a time; the
//! scheduler uses it to start fetching files before the walk names them and to check the walk
//! against it. It is never trusted further than that: every listed name becomes a
//! [`TilePath`] (the one path validator) or is not a file here, and a listing that is refused,
//! is not Azure's, breaks off, loops, or holds more blobs than
//! [`DownloadOptions::max_files`] is no listing at all: the walk alone, as without one.

mod page;
mod request;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;

use self::page::{Page, PageBlob};
use self::request::{Answer, fetch_page};
use crate::options::DownloadOptions;
use crate::reserved::is_reserved;
use crate::url::TilesetUrl;
use http_policy::retry::RetryOptions;
use tiles3d::TilePath;

/// Blobs asked for a page: Azure's largest page.
const PAGE_SIZE: usize = 5000;

/// Folders above the root tried as the container, when the root itself is not one: a mesh
/// link's root is its container; a root given inside a container is one or two folders down.
const MAX_LEVELS_UP: usize = 2;

/// Attempts at a listing page at most, and the longest its retries may take: the walk alone
/// is a fine way to download, so a store that fails to list is not waited for as a file is.
const MAX_ATTEMPTS: u32 = 3;
const MAX_ELAPSED: Duration = Duration::from_secs(30);

/// Pages in a row without a blob before the listing is given up. Azure may answer an empty
/// page with a marker (a page that timed out on its side), but not forever.
const MAX_EMPTY_PAGES: u32 = 16;

/// Bytes of blob names held at most: far above a real listing at `max_files` (a million
/// names of 60 bytes), and a bound on what a store sending ever longer names can make a
/// download hold, which `max_files` alone is not (a page of one blob can name 16 MiB).
const MAX_NAME_BYTES: usize = 64 * 1024 * 1024;

/// Extensions of the files fetched on the listing's word before the walk names them: content
/// read the same way whoever names it. Tileset JSON, subtrees and `.bin` buffers are left to
/// the walk: how they are read depends on who names them (a `.bin` may hold a subtree's
/// availability, read for that subtree), and a file fetched as the wrong kind is fetched again.
const PREFETCHED_EXTENSIONS: &[&str] = &[
    "glb", "gltf", "b3dm", "i3dm", "pnts", "cmpt", "png", "jpg", "jpeg", "webp", "ktx2",
];

/// The blobs under a tileset's root, as its container lists them.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// The blobs that can be files here, by path.
    pub(crate) files: Vec<ListedFile>,
    /// Blobs under the root whose names cannot be files in the output directory (not
    /// portable, reserved, a folder marker, sent encoded): never fetched.
    pub(crate) unusable: u64,
}

/// A listed blob that can be a file under the root.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ListedFile {
    pub(crate) path: TilePath,
    pub(crate) size: u64,
    /// Whether it may be fetched before the walk names it: content by its extension, and no
    /// other listed name is the same file or folder on a case-insensitive file system.
    pub(crate) prefetch: bool,
}

impl Listing {
    /// The listing of `blobs`, full names in the container, keeping those under `prefix`.
    pub(crate) fn from_blobs(blobs: Vec<PageBlob>, prefix: &str) -> Self {
        let mut listing = Listing::default();
        for blob in blobs {
            let path = blob
                .name
                .strip_prefix(prefix)
                .filter(|_| !blob.encoded)
                .and_then(TilePath::parse)
                .filter(|path| !is_reserved(path));
            match path {
                Some(path) => listing.files.push(ListedFile {
                    path,
                    size: blob.size,
                    prefetch: false,
                }),
                None => listing.unusable += 1,
            }
        }
        listing.files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        let before = listing.files.len();
        listing.files.dedup_by(|a, b| a.path == b.path);
        listing.unusable += (before - listing.files.len()) as u64;
        listing.mark_prefetched();
        listing
    }

    /// Marks the files that may be fetched before the walk names them.
    fn mark_prefetched(&mut self) {
        // Case keys of every listed file and of every folder above one: a name that shares
        // its key with another file, or a file's key with a folder's, is left to the walk,
        // whose claims refuse such collisions.
        let mut files: HashMap<String, u32> = HashMap::new();
        let mut dirs: HashSet<String> = HashSet::new();
        for file in &self.files {
            *files.entry(file.path.case_key()).or_default() += 1;
            dirs.extend(file.path.parent_case_keys());
        }
        for file in &mut self.files {
            let key = file.path.case_key();
            let content = file
                .path
                .extension()
                .is_some_and(|e| PREFETCHED_EXTENSIONS.contains(&e.as_str()));
            file.prefetch = content
                && files.get(&key) == Some(&1)
                && !dirs.contains(&key)
                && file
                    .path
                    .parent_case_keys()
                    .all(|d| !files.contains_key(&d));
        }
    }

    /// Leaves to the walk every file `in_the_way` says is already in the output directory
    /// and not the download's own: a file the tileset does not name is removed once
    /// prefetched, so prefetching over a file of the user's would replace it and then remove
    /// it, where the walk alone never touches it.
    pub(crate) fn leave_to_the_walk(&mut self, in_the_way: impl Fn(&TilePath) -> bool) {
        for file in self.files.iter_mut().filter(|f| f.prefetch) {
            file.prefetch = !in_the_way(&file.path);
        }
    }

    /// The index of `path` among the listed files.
    pub(crate) fn find(&self, path: &TilePath) -> Option<usize> {
        self.files.binary_search_by(|f| f.path.cmp(path)).ok()
    }
}

/// Names the listing of a tileset in logs, without its signature.
struct ListingOf<'a>(&'a TilesetUrl);

impl fmt::Display for ListingOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the container listing of {}", self.0)
    }
}

/// Lists the container under `tileset`'s root, page after page. `None`, logged at debug, when
/// the link does not allow it or the answer is not a whole, sane listing that holds the entry:
/// the download then relies on the walk alone.
pub(crate) async fn list(
    http: &reqwest::Client,
    tileset: &TilesetUrl,
    options: &DownloadOptions,
) -> Option<Listing> {
    match list_blobs(http, tileset, options).await {
        Ok((blobs, prefix)) => {
            let listing = Listing::from_blobs(blobs, &prefix);
            if listing.find(tileset.entry()).is_none() {
                tracing::debug!(%tileset, "no listing: the container's listing lacks the entry file");
                return None;
            }
            Some(listing)
        }
        Err(why) => {
            tracing::debug!(%tileset, %why, "no listing; the walk alone");
            None
        }
    }
}

/// Every blob of the listing and the prefix of the root, or why there is no listing.
async fn list_blobs(
    http: &reqwest::Client,
    tileset: &TilesetUrl,
    options: &DownloadOptions,
) -> Result<(Vec<PageBlob>, String), String> {
    let (up, prefix, mut page) = first_page(http, tileset, options).await?;
    let mut blobs: Vec<PageBlob> = Vec::new();
    let mut markers = HashSet::new();
    let mut empty_in_a_row = 0;
    let mut name_bytes = 0usize;
    loop {
        empty_in_a_row = if page.blobs.is_empty() {
            empty_in_a_row + 1
        } else {
            0
        };
        for blob in page.blobs {
            // Azure lists in the byte order of names, across pages: anything else (a repeat,
            // a page served again) is not a listing to trust.
            if blobs.last().is_some_and(|last| last.name >= blob.name) {
                return Err("the listing is not in name order".to_owned());
            }
            name_bytes = name_bytes.saturating_add(blob.name.len());
            blobs.push(blob);
        }
        if name_bytes > MAX_NAME_BYTES {
            return Err(format!("the listing's names pass {MAX_NAME_BYTES} bytes"));
        }
        if blobs.len() as u64 > options.max_files {
            return Err(format!(
                "the container holds more than max_files ({}) blobs",
                options.max_files
            ));
        }
        let Some(marker) = page.next_marker else {
            return Ok((blobs, prefix));
        };
        if empty_in_a_row >= MAX_EMPTY_PAGES {
            return Err(format!("{MAX_EMPTY_PAGES} pages in a row listed nothing"));
        }
        if !markers.insert(marker.clone()) {
            return Err("a page's NextMarker was given before".to_owned());
        }
        let (url, _) = tileset
            .listing_page(up, Some(&marker), PAGE_SIZE)
            .ok_or("no container")?;
        page = match read(http, &url, tileset, options).await {
            Ok(page) => page,
            Err(Some(status)) => return Err(format!("a later page answered HTTP {status}")),
            Err(None) => return Err("a later page could not be read".to_owned()),
        };
    }
}

/// The first page, from the root or the first folder above it that answers as a container,
/// with how far up that is and the root's prefix in it.
async fn first_page(
    http: &reqwest::Client,
    tileset: &TilesetUrl,
    options: &DownloadOptions,
) -> Result<(usize, String, Page), String> {
    for up in 0..=MAX_LEVELS_UP {
        let Some((url, prefix)) = tileset.listing_page(up, None, PAGE_SIZE) else {
            break;
        };
        match read(http, &url, tileset, options).await {
            Ok(page) => return Ok((up, prefix, page)),
            // Not a container here (a blob or folder path): perhaps one folder up.
            Err(Some(StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST)) => {}
            Err(Some(status)) => return Err(format!("the store answered HTTP {status}")),
            Err(None) => return Err("the answer is not a container listing".to_owned()),
        }
    }
    Err("no folder above the root answers as a container".to_owned())
}

/// One page: the page, or the error status (`None` for any other failure, logged here).
async fn read(
    http: &reqwest::Client,
    url: &url::Url,
    tileset: &TilesetUrl,
    options: &DownloadOptions,
) -> Result<Page, Option<StatusCode>> {
    let subject = ListingOf(tileset);
    let retry = RetryOptions {
        max_attempts: options.retry.max_attempts.min(MAX_ATTEMPTS),
        max_elapsed: options.retry.max_elapsed.min(MAX_ELAPSED),
        ..options.retry.clone()
    };
    let answer = fetch_page(http, url, &retry, options.idle_timeout, &subject).await;
    match answer {
        Answer::Body(body) => page::parse(&body).map_err(|why| {
            tracing::debug!(%subject, why = %why.0, "not a container listing");
            None
        }),
        Answer::Status(status, code) => {
            let code = code.unwrap_or_default();
            tracing::debug!(%subject, %status, %code, "the listing was refused");
            Err(Some(status))
        }
        Answer::TooLarge => {
            tracing::debug!(%subject, "a listing page passed its size bound");
            Err(None)
        }
        Answer::Transport(why) => {
            tracing::debug!(%subject, %why, "the listing failed");
            Err(None)
        }
    }
}
