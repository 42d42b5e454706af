//! Copies a signed 3D Tiles tileset to a directory: every file it names, each checked, all
//! writes confined to the directory, resumable.
//!
//! A tileset's root is often a folder of a blob container with a signature (an Azure SAS, valid
//! for an hour or so) as its query. [`TilesetUrl`] turns it into the URL of `tileset.json` and
//! resolves every relative URI a tileset or glTF names into a signed URL under the same root,
//! refusing ([`Refused`]) anything that would leave it: `..` past the root, absolute paths,
//! percent-encoded traversal, other hosts or schemes, and names that are not portable file
//! names on every platform ([`tiles3d::name`]). So the signature is only ever sent to the host that
//! issued it, and every name that becomes a path is one [`TilePath`], checked once.
//!
//! [`Downloader`] walks the tileset while it downloads: it fetches `tileset.json`, reads the
//! contents it names (3D Tiles 1.0 `content.uri`, 1.1 `contents[]`, external child tilesets,
//! glTF buffers and images, and the subtrees, contents and buffers of [implicit](tiles3d::implicit) tilesets),
//! and queues them, each file once, several at a time. Every write goes through a handle
//! confined to the output directory (`cap_std::fs::Dir`), locked for the run. Each file is
//! written without its final name (on Linux a file that arrived whole goes to an unnamed file,
//! otherwise to a temporary name beside its final one), checked (length, and the structure its
//! type promises), then named; a broken transfer continues with `Range`. A `manifest.json`
//! records the path, size and checksum (XXH3-128) of every file, and what is missing, so an interrupted
//! run resumes without fetching complete files again. What the walk cannot interpret (an
//! unknown template variable, a malformed subtree) is a failure with its reason: the download
//! is then incomplete, never silently partial. A download from a [`SignedUrlSource`]
//! ([`Downloader::download_from`]) renews a refused signature and carries on.
//!
//! Where the signed link allows it (an Azure SAS with `l`), the container is listed first
//! ([`DownloadOptions::use_listing`]): listed tiles are fetched before the walk reaches them,
//! a file the tileset names that the listing lacks fails at once, and the files the tileset
//! does not name are counted ([`DownloadSummary::unnamed_files`]) or, with
//! [`DownloadOptions::all_files`], downloaded too. The files written and the manifest are
//! those of the walk alone.
//!
//! Use the downloader's own HTTP client (or one without a whole-request timeout): a large tile
//! on a slow link takes minutes, and [`DownloadOptions::idle_timeout`] already ends a stalled
//! transfer.
//!
//! ```no_run
//! use tiles3d_download::{DownloadError, Downloader, TilesetUrl};
//!
//! # async fn run(href: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let tileset = TilesetUrl::from_root_href(href)?;
//! match Downloader::new("./tiles").concurrency(8).download(&tileset).await {
//!     Ok(summary) => println!("{} files, {} bytes", summary.files, summary.bytes),
//!     Err(DownloadError::Incomplete { failures, summary }) => {
//!         failures.iter().for_each(|f| eprintln!("failed: {f}"));
//!         summary.refused.iter().for_each(|r| eprintln!("refused: {r}"));
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Nothing in this crate prints a signature: URLs appear with `?REDACTED` in `Debug`,
//! `Display`, errors and logs.

// The layers, each using only those below it: `download` (the public `Downloader` and the
// driver) -> `scheduler` (the state machine) -> `transfer` (one file) -> `store` (the
// confined output directory, writer, manifest) -> `listing` (the container's List Blobs),
// `errors`, `options`, `signer`, `url`, `reserved`, `limit` (how many files may be in flight).
mod download;
mod errors;
mod limit;
mod listing;
mod options;
mod reserved;
mod scheduler;
mod signer;
mod store;
mod transfer;
mod url;

pub use self::download::Downloader;
pub use self::errors::{DownloadError, FileError, FileFailure};
pub use self::options::{Concurrency, DownloadOptions, DownloadSummary, Progress};
pub use self::signer::{FixedUrl, RefreshError, SignedUrlSource};
pub use self::store::manifest::{MANIFEST_FILE, Manifest, ManifestEntry, ManifestGap};
pub use self::url::{RefusalReason, Refused, TileFile, TilesetUrl, TilesetUrlError};
pub use tiles3d::TilePath;
pub use tiles3d::name::NameError;
