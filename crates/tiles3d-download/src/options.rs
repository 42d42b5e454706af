//! What a download is told and what it reports: its options, its progress, its summary.
//! Plain data, below everything that downloads.

use std::path::PathBuf;
use std::time::Duration;

use crate::url::Refused;
use http_policy::retry::RetryOptions;

/// How a [`Downloader`](crate::Downloader) works; [`Default`] documents each choice.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// How many files are fetched at the same time. Default
    /// [`Concurrency::Adaptive`] from 4 to 256: the best number depends on the link and the
    /// store (on a 40 ms round trip to a blob store 32 beat both 8 and 64), so the download
    /// finds it as it goes. [`Concurrency::Fixed`] pins it.
    pub concurrency: Concurrency,
    /// Retries of each file. Default: the crate's [`RetryOptions`] with 6 attempts, a 250 ms
    /// first backoff and a 10-minute budget per file, because a file is a cheap, idempotent GET
    /// and one lost file makes the whole tileset incomplete. A broken transfer is continued
    /// with a `Range` request, not started again. A body that arrived whole but fails its
    /// structure check is fetched once more at most, whatever this allows: a captive portal
    /// may be in the way once, but no back-off changes what the server has.
    pub retry: RetryOptions,
    /// Whether a file the manifest lists is re-hashed before it is skipped. Default true: a
    /// local read is much cheaper than a fetch, and it catches files changed since.
    pub verify_existing: bool,
    /// Whether each file is flushed to stable storage before it gets its name. Default false:
    /// naming is already atomic for readers; fsync only adds crash durability, at a cost.
    pub fsync: bool,
    /// The longest wait for the response headers or for the next piece of a body. Default
    /// 60 s. There is deliberately no limit on a whole file: a 200 MB tile on a slow link may
    /// take many minutes and is fine as long as data keeps arriving.
    pub idle_timeout: Duration,
    /// How many fresh signatures in a row a download asks its
    /// [`SignedUrlSource`](crate::SignedUrlSource) for, after the store refused one, without a
    /// file arriving in between. Default 5. A file that arrives with the fresh signature
    /// resets the count, so a download may outlive any number of signatures, while a source
    /// that keeps handing out refused ones stops soon.
    pub max_resigns: u32,
    /// The most files a download may name, the entry included. Default 1,000,000: ten times
    /// the largest exports seen, and still well under a gigabyte of bookkeeping. An implicit
    /// tileset's hundred-byte subtree can claim a million files; its files are counted
    /// before they are listed, and past this bound the file naming them fails
    /// ([`FileError::TooManyFiles`](crate::FileError::TooManyFiles)) and the download is
    /// incomplete. Raise it for a larger tileset.
    pub max_files: u64,
    /// The most bytes a file sent gzip-encoded (`Content-Encoding: gzip`) may decode to.
    /// Default 1 GiB, larger than any tile seen. Past it the file fails
    /// ([`FileError::GzipBound`](crate::FileError::GzipBound)), is not kept, and is not fetched
    /// again. A body sent as is needs no bound: its bytes are the ones received.
    pub max_decoded_bytes: u64,
    /// How many times its own size a gzip body may decode to, once past its first MiB.
    /// Default 100: tiles and JSON compress five to twenty times, while a decompression
    /// bomb expands a thousandfold. Past it the file fails as for
    /// [`max_decoded_bytes`](Self::max_decoded_bytes).
    pub max_expansion: u64,
    /// The deepest nesting of JSON arrays and objects read in a JSON document (a tileset, a
    /// `.gltf`, any JSON its bytes say it is). Default 1,000: a tile nests two (itself and its
    /// `children`), so 500 levels of tiles, far past real tilesets. Within it any depth is
    /// read, the parse's stack growing on the heap; past it the file fails
    /// ([`FileError::TooDeep`](crate::FileError::TooDeep)) and what it names is not followed.
    /// Raise it for a deeper tileset.
    pub max_json_depth: u32,
    /// Whether the container is listed (Azure's List Blobs), where the signed link allows it.
    /// Default true: the listing names every file at once, so files are fetched before the
    /// walk reaches them, and it checks the walk (a file the tileset names that the listing
    /// lacks fails at once, [`FileError::NotListed`](crate::FileError::NotListed)). A link
    /// without the `l` permission, or a store that is not Azure's, costs one refused request
    /// and the download proceeds by the walk alone. The files on disk and the manifest are
    /// the same either way.
    pub use_listing: bool,
    /// Whether the listed files the tileset does not name are downloaded too, as `azcopy copy
    /// --recursive` would. Default false: they are counted
    /// ([`DownloadSummary::unnamed_files`]) and left out. Needs the listing.
    pub all_files: bool,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            concurrency: Concurrency::default(),
            retry: RetryOptions {
                max_attempts: 6,
                initial_backoff: Duration::from_millis(250),
                max_backoff: Duration::from_secs(10),
                max_elapsed: Duration::from_secs(600),
                ..RetryOptions::default()
            },
            verify_existing: true,
            fsync: false,
            idle_timeout: Duration::from_secs(60),
            max_resigns: 5,
            max_files: 1_000_000,
            max_decoded_bytes: 1 << 30,
            max_expansion: 100,
            max_json_depth: 1_000,
            use_listing: true,
            all_files: false,
        }
    }
}

/// How many files a download fetches at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Found as the download goes, between a floor and a ceiling (each at least 1; a ceiling
    /// below the floor is taken as the floor). It starts at 32 (or the nearer bound) and
    /// doubles every round trip while throughput keeps rising, then settles where more files
    /// in flight stop adding throughput, and halves when the store answers 429 or 503 (a quarter less on a
    /// transport failure). The download's [`Progress::concurrency`] shows where it stands.
    Adaptive {
        /// The fewest files in flight, whatever the store says (while there are files to fetch).
        min: usize,
        /// The most files in flight. Each holds a buffer of up to 1 MiB before its writer
        /// starts, so this bounds memory as well as load.
        max: usize,
    },
    /// Always this many files in flight (at least 1), whatever the link does.
    Fixed(usize),
}

impl Concurrency {
    /// The default floor of [`Concurrency::Adaptive`]: few enough for any store, enough to
    /// measure a trend from the first files.
    pub const DEFAULT_MIN: usize = 4;
    /// The default ceiling of [`Concurrency::Adaptive`]: 256 files of 16 KiB in flight fill a
    /// 100 ms round trip at 40 MB/s, and the buffers of 256 large files stay near 256 MiB.
    pub const DEFAULT_MAX: usize = 256;

    /// The floor and ceiling, at least 1 and in order.
    pub fn bounds(&self) -> (usize, usize) {
        match *self {
            Concurrency::Adaptive { min, max } => {
                let min = min.max(1);
                (min, max.max(min))
            }
            Concurrency::Fixed(files) => (files.max(1), files.max(1)),
        }
    }
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency::Adaptive {
            min: Self::DEFAULT_MIN,
            max: Self::DEFAULT_MAX,
        }
    }
}

/// Where a download stands, as a [`Downloader::progress`](crate::Downloader::progress)
/// channel reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Files finished: downloaded, or found complete on disk. A file fetched from the
    /// container's listing ahead of the walk counts when it arrives, and stops counting at the
    /// end if the tileset never named it (it is removed then).
    pub files_done: u64,
    /// Files known so far; grows as tilesets are read.
    pub files_total_known: u64,
    /// Of `files_done`, those found complete on disk and not fetched.
    pub files_skipped: u64,
    /// Bytes of finished files plus bytes received for files in flight.
    pub bytes_done: u64,
    /// Bytes received over the network in this run, as sent (gzip bodies before decoding),
    /// excluding failed attempts.
    pub bytes_downloaded: u64,
    /// Retries so far.
    pub retries: u64,
    /// URIs refused so far.
    pub refused: u64,
    /// Failures so far, each as the final error lists it: a file that failed for good or was
    /// not attempted after a write error, or a reference that could not be followed.
    pub failed: u64,
    /// Fresh signatures fetched so far.
    pub resigns: u64,
    /// The most files allowed in flight now: the number that [`Concurrency::Adaptive`]
    /// found, or the fixed one.
    pub concurrency: usize,
    /// How many times the adaptive limit was lowered after the store asked to slow down (429,
    /// 503) or a transfer failed on the way.
    pub concurrency_lowered: u64,
    /// Files the container's listing names under the root; 0 without a listing.
    pub files_listed: u64,
    /// Their total size in bytes, as listed.
    pub bytes_listed: u64,
}

/// What a finished download did.
#[derive(Debug, Clone)]
pub struct DownloadSummary {
    /// The output directory.
    pub dir: PathBuf,
    /// The tileset's entry file on disk (`DIR/tileset.json`).
    pub tileset: PathBuf,
    /// The manifest on disk (`DIR/manifest.json`).
    pub manifest: PathBuf,
    /// Files of the tileset now complete on disk.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Of `files`, those fetched in this run.
    pub downloaded_files: u64,
    /// Bytes received over the network for the files fetched in this run, as sent (gzip
    /// bodies before decoding).
    pub downloaded_bytes: u64,
    /// Of `files`, those already complete on disk and not fetched again.
    pub skipped: u64,
    /// Retries in all.
    pub retries: u64,
    /// Fresh signatures fetched after the store refused one.
    pub resigns: u64,
    /// URIs the tileset names that were not followed, and why. Any makes the download
    /// incomplete.
    pub refused: Vec<Refused>,
    /// Files the container's listing names under the root; `None` when the container was not
    /// listed (not asked, refused, or not an Azure store).
    pub listed_files: Option<u64>,
    /// Of the listed files, those the tileset does not name: left out unless
    /// [`DownloadOptions::all_files`] is set.
    pub unnamed_files: u64,
    /// Of `files`, those the tileset does not name, downloaded for
    /// [`DownloadOptions::all_files`].
    pub mirrored_files: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}
