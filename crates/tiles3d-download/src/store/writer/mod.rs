//! Writing one file on a blocking thread: streamed into its part file (resumed after a broken
//! attempt), decoded when the server gzipped it, hashed on the way, checked for the structure
//! its type promises, recorded in the journal, then renamed into place. Every path goes
//! through the confined output directory handle.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
#[cfg(any(target_os = "linux", test))]
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use cap_std::fs::{Dir, OpenOptions};

use crate::errors::FileError;
use crate::store::checksum::Checksum;
use crate::store::manifest::{Journal, ManifestEntry};
use tiles3d::TilePath;
use tiles3d::content;
use tiles3d::walk::{self, FileKind, ReadLimits, WalkError, Walked};

use self::gunzip::Gunzip;
pub(crate) use self::gunzip::GzipBound;
#[cfg(test)]
use self::sink::{GLB_HEAD, HEAD};
use self::sink::{Head, STREAM_BUFFER, Sink};

mod gunzip;
mod sink;

/// What a downloaded file names (`None` for a file that names nothing), as read from disk.
pub(crate) type References = Option<Result<Walked, WalkError>>;

/// What a response sends its file writer.
pub(crate) enum Piece {
    Chunk(bytes::Bytes),
    /// The body arrived whole and its length checked: check the content and keep the file.
    Complete,
}

/// How one attempt's writer ended.
pub(crate) enum Written {
    /// The body stopped before `Complete`; the part file holds `len` bytes (of the encoded
    /// body) that a `Range` request may continue.
    Partial { len: u64 },
    /// The file is complete, journaled and under its final name.
    Done(ManifestEntry, References),
}

/// One attempt's writer.
pub(crate) struct FileWriter {
    pub(crate) dir: Arc<Dir>,
    /// The part file, relative to the output directory.
    pub(crate) part: PathBuf,
    pub(crate) path: TilePath,
    /// How to check and read the file: by its extension, or the context that named it (an
    /// implicit subtree, a subtree's buffer).
    pub(crate) kind: FileKind,
    /// Bytes already in the part file that this attempt continues; 0 starts afresh.
    pub(crate) resume_from: u64,
    /// Whether the body is gzip-encoded and is decoded on the way to disk.
    pub(crate) gzip: bool,
    /// How far a gzip body may decode.
    pub(crate) gzip_bound: GzipBound,
    pub(crate) fsync: bool,
    pub(crate) journal: Arc<Mutex<Journal>>,
    pub(crate) created_dirs: Arc<CreatedDirs>,
    /// What reading it may cost: the files it may name are what the download's bound leaves.
    pub(crate) limits: ReadLimits,
}

/// The directories a download has created: each is created once, not once per file (creating
/// an existing directory still locks its parent, which parallel writers then contend for);
/// and whether they take unnamed files.
#[derive(Debug, Default)]
pub(crate) struct CreatedDirs {
    created: Mutex<HashSet<PathBuf>>,
    /// Set once creating an unnamed file found them unsupported: the rest of the download uses
    /// part files.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    no_unnamed_files: AtomicBool,
}

impl CreatedDirs {
    /// Creates `relative` and its parents under `dir` unless this run already did.
    fn ensure(&self, dir: &Dir, relative: &Path) -> std::io::Result<()> {
        let known = |set: &HashSet<PathBuf>| set.contains(relative);
        if known(&self.created.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(());
        }
        dir.create_dir_all(relative)?;
        self.created
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(relative.to_owned());
        Ok(())
    }
}

/// Where a file's content waits for its final name.
enum Staging {
    /// The part file (`FileWriter::part`), renamed into place.
    Part,
    /// An unnamed file in the final directory, linked into place.
    #[cfg(target_os = "linux")]
    Unnamed(crate::store::unnamed::Unnamed),
}

/// Why a writer failed: the disk, the content, or a bound the content passed.
pub(crate) enum WriteFailure {
    Io(std::io::Error),
    Content(FileError),
    /// Another attempt would pass it again.
    Bound(FileError),
}

impl From<std::io::Error> for WriteFailure {
    fn from(e: std::io::Error) -> Self {
        WriteFailure::Io(e)
    }
}

impl FileWriter {
    /// Writes the pieces until `Complete` (or until the sender goes away: `Partial`).
    pub(crate) fn write(
        mut self,
        mut pieces: tokio::sync::mpsc::Receiver<Piece>,
    ) -> Result<Written, WriteFailure> {
        self.ensure_parent()?;
        let first = pieces.blocking_recv();
        if let Some(Piece::Chunk(chunk)) = &first {
            self.sniff_gzip(std::slice::from_ref(chunk));
        }
        let sink = self.open(STREAM_BUFFER)?;
        let mut pieces = first
            .into_iter()
            .chain(std::iter::from_fn(|| pieces.blocking_recv()));
        let finished = if self.gzip {
            let mut gunzip = Gunzip::new(sink, self.gzip_bound);
            let complete = Self::pump(&mut pieces, |chunk| gunzip.feed(chunk))?;
            if !complete {
                // A cut gzip stream cannot be resumed: the next attempt starts afresh.
                return Ok(Written::Partial { len: 0 });
            }
            gunzip.finish()?
        } else {
            let mut sink = sink;
            if !Self::pump(&mut pieces, |chunk| Ok(sink.write_all(chunk)?))? {
                sink.flush()?;
                return Ok(Written::Partial { len: sink.size });
            }
            sink
        };
        self.commit(finished, Staging::Part)
    }

    /// Writes a body that arrived whole (its length checked). On Linux a file fetched from its
    /// start goes into an unnamed file linked into place once complete (see `unnamed`);
    /// elsewhere, where the file system cannot, and for the rest of a part file, it goes
    /// through the part file.
    pub(crate) fn write_whole(mut self, body: Vec<bytes::Bytes>) -> Result<Written, WriteFailure> {
        self.ensure_parent()?;
        self.sniff_gzip(&body);
        #[cfg(target_os = "linux")]
        if self.resume_from == 0 && !self.created_dirs.no_unnamed_files.load(Ordering::Relaxed) {
            match crate::store::unnamed::create(&self.dir, &self.path.parent_relative()) {
                Ok((unnamed, file)) => {
                    let sink = Sink::new(
                        file,
                        Head::new(&self.kind),
                        0,
                        Checksum::new(),
                        self.whole_body_buffer(),
                    );
                    let sink = self.fill(sink, &body)?;
                    return self.commit(sink, Staging::Unnamed(unnamed));
                }
                // Only a file system or kernel without them turns unnamed files off; another
                // error (a refused path, no descriptor or space left) is this file's, and the
                // part file meets it again or not.
                Err(error) if error.kind() == std::io::ErrorKind::Unsupported => {
                    tracing::debug!(%error, "unnamed files unavailable; writing part files");
                    self.created_dirs
                        .no_unnamed_files
                        .store(true, Ordering::Relaxed);
                }
                Err(error) => {
                    tracing::debug!(%error, "no unnamed file; writing a part file");
                }
            }
        }
        let sink = self.open(self.whole_body_buffer())?;
        let sink = self.fill(sink, &body)?;
        self.commit(sink, Staging::Part)
    }

    /// Decodes a JSON file (tileset, glTF, subtree) whose body starts with the gzip magic,
    /// as a blob store serves a file uploaded gzipped without `Content-Encoding`: no JSON
    /// or binary subtree starts with those bytes, so nothing valid is lost.
    fn sniff_gzip(&mut self, body: &[bytes::Bytes]) {
        const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
        let json = matches!(
            self.kind,
            FileKind::Tileset | FileKind::Gltf | FileKind::Subtree(_)
        );
        if !json || self.gzip || self.resume_from > 0 {
            return;
        }
        let head: Vec<u8> = body
            .iter()
            .flat_map(|c| c.iter())
            .take(2)
            .copied()
            .collect();
        if head == GZIP_MAGIC {
            tracing::debug!(path = %self.path, "gzip magic without Content-Encoding; decoding");
            self.gzip = true;
        }
    }

    /// Writes all of `body`, chunk after chunk, into `sink`, decoding it when it is gzipped.
    fn fill(&self, mut sink: Sink, body: &[bytes::Bytes]) -> Result<Sink, WriteFailure> {
        if !self.gzip {
            for chunk in body {
                sink.write_all(chunk)?;
            }
            return Ok(sink);
        }
        let mut gunzip = Gunzip::new(sink, self.gzip_bound);
        for chunk in body {
            gunzip.feed(chunk)?;
        }
        gunzip.finish()
    }

    /// The write buffer for a body already in memory: none, as its chunks are written straight
    /// to the file (copying them into a buffer first cost a tenth of the writer's CPU), unless
    /// a gzip decoder writes it in small pieces.
    fn whole_body_buffer(&self) -> usize {
        if self.gzip { STREAM_BUFFER } else { 0 }
    }

    /// Creates the file's directory and its parents unless this run already did.
    fn ensure_parent(&self) -> std::io::Result<()> {
        let parent = self.path.parent_relative();
        if !parent.as_os_str().is_empty() {
            self.created_dirs.ensure(&self.dir, &parent)?;
        }
        Ok(())
    }

    /// Opens the part file (its directory already created), re-hashing what an earlier
    /// attempt left in it when this one continues it.
    fn open(&self, buffer: usize) -> Result<Sink, WriteFailure> {
        let mut options = OpenOptions::new();
        options
            .read(true)
            .write(true)
            .create(true)
            .truncate(self.resume_from == 0);
        let mut file = self.dir.open_with(&self.part, &options)?;
        let mut sink_hasher = Checksum::new();
        let mut head = Head::new(&self.kind);
        if self.resume_from > 0 {
            // A part file shorter than what the attempt continues (deleted or cut meanwhile)
            // would be padded with zeros by `set_len`: its content is refused, and the next
            // attempt fetches the file whole.
            let on_disk = file.metadata()?.len();
            if on_disk < self.resume_from {
                return Err(WriteFailure::Content(FileError::Corrupt {
                    kind: "part file",
                    reason: format!(
                        "it holds {on_disk} bytes, not the {} this attempt continues",
                        self.resume_from
                    ),
                }));
            }
            file.set_len(self.resume_from)?;
            let mut buffer = vec![0u8; 256 * 1024];
            let mut left = self.resume_from;
            while left > 0 {
                let want = buffer
                    .len()
                    .min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = file.read(&mut buffer[..want])?;
                if n == 0 {
                    return Err(std::io::Error::other("the part file shrank").into());
                }
                sink_hasher.update(&buffer[..n]);
                head.keep(&buffer[..n]);
                left -= n as u64;
            }
            file.seek(SeekFrom::Start(self.resume_from))?;
        }
        Ok(Sink::new(
            file.into_std(),
            head,
            self.resume_from,
            sink_hasher,
            buffer,
        ))
    }

    /// Hands chunks to `out` until `Complete` (true) or the sender goes away (false).
    fn pump(
        pieces: &mut impl Iterator<Item = Piece>,
        mut out: impl FnMut(&[u8]) -> Result<(), WriteFailure>,
    ) -> Result<bool, WriteFailure> {
        loop {
            match pieces.next() {
                Some(Piece::Chunk(chunk)) => out(&chunk)?,
                Some(Piece::Complete) => return Ok(true),
                None => return Ok(false),
            }
        }
    }

    /// Checks the content, then journal first and name second: a file under its final name
    /// is always in the journal, and a journal entry whose file is missing or different is
    /// simply fetched again. Content that fails its check never gets its final name and is
    /// never journaled.
    fn commit(&self, sink: Sink, staging: Staging) -> Result<Written, WriteFailure> {
        let Sink {
            out,
            hasher,
            size,
            head,
        } = sink;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        if self.fsync {
            file.sync_all()?;
        }
        // What the bytes say wins over the name: a glTF served as `.bin` is still read.
        let kind = &self.kind.sniffed(&head.bytes);
        content::check_head(kind, &head.bytes, size)
            .map_err(|e| WriteFailure::Content(e.into()))?;
        let glb_json = head.glb_json().filter(|_| *kind == FileKind::Glb);
        let references = kind.names_files().then(|| match glb_json {
            Some(json) => walk::read_within(kind, &self.path, json, self.limits),
            None => {
                file.seek(SeekFrom::Start(0))?;
                let reader = std::io::BufReader::new(&file);
                walk::read_within(kind, &self.path, reader, self.limits)
            }
        });
        // A JSON file that does not parse is a broken transfer or someone else's page (bytes
        // that only looked like JSON are no error unless they showed a tileset or a glTF
        // first); a `.glb` whose header checked out is what the server has, only unreadable.
        if let (
            Some(Err(WalkError::Json(e))),
            FileKind::Tileset | FileKind::Gltf | FileKind::Json,
        ) = (&references, kind)
        {
            return Err(WriteFailure::Content(FileError::corrupt(
                "JSON object",
                &e.to_string(),
            )));
        }
        let entry = ManifestEntry {
            path: self.path.to_string(),
            size,
            xxh3_128: hex::encode(hasher.finish()),
        };
        self.journal
            .lock()
            .map_err(|_| std::io::Error::other("journal lock poisoned"))?
            .append(&entry)?;
        match staging {
            Staging::Part => {
                drop(file);
                self.dir
                    .rename(&self.part, &self.dir, self.path.relative())?;
            }
            #[cfg(target_os = "linux")]
            Staging::Unnamed(unnamed) => {
                let name = self.path.file_name();
                let spare = self.part.file_name().and_then(|n| n.to_str());
                let spare = spare.ok_or_else(|| std::io::Error::other("part name not UTF-8"))?;
                unnamed.link(&file, &self.dir, name, spare)?;
            }
        }
        Ok(Written::Done(entry, references))
    }
}

/// What a file complete on disk names, read as `kind` or as what its first bytes say (`None`
/// for a file that names nothing), within `limits`.
pub(crate) fn references_on_disk(
    dir: &Dir,
    path: &TilePath,
    kind: &FileKind,
    limits: ReadLimits,
) -> References {
    let file = match dir.open(path.relative()) {
        Ok(file) => file,
        Err(e) => return kind.names_files().then(|| Err(e.into())),
    };
    let mut reader = std::io::BufReader::new(file.into_std());
    let kind = match std::io::BufRead::fill_buf(&mut reader) {
        Ok(head) => kind.sniffed(head),
        Err(e) => return kind.names_files().then(|| Err(e.into())),
    };
    kind.names_files()
        .then(|| walk::read_within(&kind, path, reader, limits))
}

#[cfg(test)]
mod tests;
