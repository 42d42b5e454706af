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

use super::TilePath;
use super::checksum::Checksum;
use super::errors::FileError;
use super::manifest::{Journal, ManifestEntry};
use tiles3d::content;
use tiles3d::walk::{self, FileKind, WalkError, Walked};

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
    pub(crate) fsync: bool,
    pub(crate) journal: Arc<Mutex<Journal>>,
    pub(crate) created_dirs: Arc<CreatedDirs>,
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

/// The bytes of a file's start kept for its structural check.
const HEAD: usize = 64;

/// The most of a `.glb`'s start kept so that its JSON chunk is read from memory, not from
/// disk again; a larger JSON chunk is read back from the file.
const GLB_HEAD: usize = 1024 * 1024;

/// The write buffer of a body that arrives in pieces (streamed, or decoded from gzip).
const STREAM_BUFFER: usize = 256 * 1024;

/// The decoded content on its way to disk: written, hashed, counted, its head kept.
struct Sink {
    out: std::io::BufWriter<std::fs::File>,
    hasher: Checksum,
    size: u64,
    head: Head,
}

/// A file's first bytes: [`HEAD`] of them, or for a `.glb` up to the end of its JSON chunk.
#[derive(Default)]
struct Head {
    bytes: Vec<u8>,
    glb: bool,
}

impl Head {
    fn new(kind: &FileKind) -> Self {
        Head {
            bytes: Vec::new(),
            glb: matches!(kind, FileKind::Glb),
        }
    }

    /// How many bytes to keep, as far as the bytes so far tell.
    fn limit(&self) -> usize {
        match glb_json_end(&self.bytes) {
            Some(end) if self.glb => end.clamp(HEAD, GLB_HEAD),
            _ => HEAD,
        }
    }

    fn keep(&mut self, mut bytes: &[u8]) {
        // The limit can grow once the glb header is in, hence the loop.
        loop {
            let limit = self.limit();
            if self.bytes.len() >= limit || bytes.is_empty() {
                return;
            }
            let take = (limit - self.bytes.len()).min(bytes.len());
            self.bytes.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
    }

    /// The whole JSON chunk of a `.glb` with its header, when it is all in memory.
    fn glb_json(&self) -> Option<&[u8]> {
        if !self.glb {
            return None;
        }
        let end = glb_json_end(&self.bytes)?;
        self.bytes.get(..end)
    }
}

/// Where a `.glb`'s JSON chunk ends, from the 20 bytes of its header and first chunk header.
fn glb_json_end(bytes: &[u8]) -> Option<usize> {
    let length = bytes.get(12..16)?;
    let length = u32::from_le_bytes(length.try_into().ok()?);
    usize::try_from(length).ok()?.checked_add(20)
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.account(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Sink {
    /// A sink into `file` that already holds `size` bytes, hashed into `hasher`, whose first
    /// bytes are in `head`, writing through a buffer of `buffer` bytes (0: none).
    fn new(file: std::fs::File, head: Head, size: u64, hasher: Checksum, buffer: usize) -> Self {
        Sink {
            out: std::io::BufWriter::with_capacity(buffer, file),
            hasher,
            size,
            head,
        }
    }

    fn account(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        self.head.keep(bytes);
    }
}

/// Where a file's content waits for its final name.
enum Staging {
    /// The part file (`FileWriter::part`), renamed into place.
    Part,
    /// An unnamed file in the final directory, linked into place.
    #[cfg(target_os = "linux")]
    Unnamed(super::unnamed::Unnamed),
}

/// Why a writer failed: the disk, or the content.
pub(crate) enum WriteFailure {
    Io(std::io::Error),
    Content(FileError),
}

impl From<std::io::Error> for WriteFailure {
    fn from(e: std::io::Error) -> Self {
        WriteFailure::Io(e)
    }
}

impl FileWriter {
    /// Writes the pieces until `Complete` (or until the sender goes away: `Partial`).
    pub(crate) fn write(
        self,
        mut pieces: tokio::sync::mpsc::Receiver<Piece>,
    ) -> Result<Written, WriteFailure> {
        self.ensure_parent()?;
        let sink = self.open(STREAM_BUFFER)?;
        let finished = if self.gzip {
            let mut decoder = flate2::write::MultiGzDecoder::new(sink);
            let complete = Self::pump(&mut pieces, &mut decoder)?;
            if !complete {
                // A cut gzip stream cannot be resumed: the next attempt starts afresh.
                return Ok(Written::Partial { len: 0 });
            }
            finish_gzip(decoder)?
        } else {
            let mut sink = sink;
            if !Self::pump(&mut pieces, &mut sink)? {
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
    pub(crate) fn write_whole(self, body: Vec<bytes::Bytes>) -> Result<Written, WriteFailure> {
        self.ensure_parent()?;
        #[cfg(target_os = "linux")]
        if self.resume_from == 0 && !self.created_dirs.no_unnamed_files.load(Ordering::Relaxed) {
            match super::unnamed::create(&self.dir, &self.path.parent_relative()) {
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

    /// Writes all of `body`, chunk after chunk, into `sink`, decoding it when it is gzipped.
    fn fill(&self, mut sink: Sink, body: &[bytes::Bytes]) -> Result<Sink, WriteFailure> {
        if !self.gzip {
            for chunk in body {
                sink.write_all(chunk)?;
            }
            return Ok(sink);
        }
        let mut decoder = flate2::write::MultiGzDecoder::new(sink);
        for chunk in body {
            decoder.write_all(chunk).map_err(decoding_failure)?;
        }
        finish_gzip(decoder)
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

    /// Writes chunks into `out` until `Complete` (true) or the sender goes away (false).
    fn pump(
        pieces: &mut tokio::sync::mpsc::Receiver<Piece>,
        out: &mut impl Write,
    ) -> Result<bool, WriteFailure> {
        loop {
            match pieces.blocking_recv() {
                Some(Piece::Chunk(chunk)) => out.write_all(&chunk).map_err(decoding_failure)?,
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
        let kind = &self.kind;
        content::check_head(kind, &self.path, &head.bytes, size)
            .map_err(|e| WriteFailure::Content(e.into()))?;
        let references = kind.names_files().then(|| match head.glb_json() {
            Some(json) => walk::read(kind, &self.path, json),
            None => {
                file.seek(SeekFrom::Start(0))?;
                walk::read(kind, &self.path, std::io::BufReader::new(&file))
            }
        });
        // A JSON file that does not parse is a broken transfer or someone else's page; a
        // `.glb` whose header checked out is what the server has, and only unreadable.
        if let (Some(Err(WalkError::Json(e))), FileKind::Tileset | FileKind::Gltf) =
            (&references, kind)
        {
            return Err(WriteFailure::Content(FileError::Corrupt {
                kind: "JSON object",
                reason: e.to_string(),
            }));
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

/// A gzip stream that is not one.
fn corrupt_gzip(error: std::io::Error) -> WriteFailure {
    WriteFailure::Content(FileError::Corrupt {
        kind: "gzip stream",
        reason: error.to_string(),
    })
}

/// A failed write through a gzip decoder (or the plain file behind it): the decoder reports
/// bad input as `InvalidInput`/`InvalidData`, the disk anything else.
fn decoding_failure(error: std::io::Error) -> WriteFailure {
    match error.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => corrupt_gzip(error),
        _ => WriteFailure::Io(error),
    }
}

/// Ends a gzip stream whose input is all written: a stream cut short is corrupt.
fn finish_gzip(mut decoder: flate2::write::MultiGzDecoder<Sink>) -> Result<Sink, WriteFailure> {
    decoder.try_finish().map_err(corrupt_gzip)?;
    decoder.finish().map_err(corrupt_gzip)
}

/// What a file complete on disk names, read as `kind` (`None` for a file that names nothing).
pub(crate) fn references_on_disk(dir: &Dir, path: &TilePath, kind: &FileKind) -> References {
    kind.names_files().then(|| {
        let file = dir.open(path.relative())?;
        walk::read(kind, path, std::io::BufReader::new(file.into_std()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.glb` header and JSON chunk header announcing `json` bytes, then `json` spaces and
    /// a tail of binary bytes.
    fn glb_with_json(json: usize, tail: usize) -> Vec<u8> {
        let mut bytes = b"glTF".to_vec();
        bytes.extend_from_slice(&2u32.to_le_bytes());
        bytes.extend_from_slice(&((20 + json + tail) as u32).to_le_bytes());
        bytes.extend_from_slice(&(json as u32).to_le_bytes());
        bytes.extend_from_slice(b"JSON");
        bytes.extend(std::iter::repeat_n(b' ', json));
        bytes.extend(std::iter::repeat_n(0u8, tail));
        bytes
    }

    #[test]
    fn a_part_file_shorter_than_the_resume_point_is_refused_not_padded() {
        let temp = tempfile::tempdir().unwrap();
        let dir =
            Arc::new(Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap());
        let path = TilePath::parse("tile.bin").unwrap();
        let part = super::super::output::part_path(&path.relative());
        dir.write(&part, b"abcd").unwrap();
        let journal =
            super::super::manifest::Journal::start(&dir, "s", std::iter::empty()).unwrap();
        let writer = FileWriter {
            dir: dir.clone(),
            part: part.clone(),
            path: path.clone(),
            kind: FileKind::Leaf,
            resume_from: 10,
            gzip: false,
            fsync: false,
            journal: Arc::new(Mutex::new(journal)),
            created_dirs: Arc::default(),
        };
        let (pieces, received) = tokio::sync::mpsc::channel(4);
        pieces
            .try_send(Piece::Chunk(bytes::Bytes::from_static(b"rest")))
            .unwrap();
        pieces.try_send(Piece::Complete).unwrap();
        drop(pieces);

        let result = writer.write(received);

        assert!(
            matches!(
                result,
                Err(WriteFailure::Content(FileError::Corrupt { .. }))
            ),
            "the gap is not filled with zeros, and the next attempt starts afresh"
        );
        assert!(!dir.exists(path.relative()), "nothing under the final name");
        assert_eq!(
            dir.read(&part).unwrap(),
            b"abcd",
            "the part is left as it was"
        );
    }

    /// A writer of `path` (as `kind`) fetched from its start, in a fresh output directory.
    fn writer_of(path: &str, kind: FileKind) -> (tempfile::TempDir, FileWriter) {
        let temp = tempfile::tempdir().unwrap();
        let dir =
            Arc::new(Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap());
        let path = TilePath::parse(path).unwrap();
        let journal =
            super::super::manifest::Journal::start(&dir, "s", std::iter::empty()).unwrap();
        let writer = FileWriter {
            dir,
            part: super::super::output::part_path(&path.relative()),
            path,
            kind,
            resume_from: 0,
            gzip: false,
            fsync: false,
            journal: Arc::new(Mutex::new(journal)),
            created_dirs: Arc::default(),
        };
        (temp, writer)
    }

    /// The names in `dir` (relative to `root`), apart from the journal.
    fn names_in(root: &Path, dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != super::super::JOURNAL_FILE)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_whole_body_lands_under_its_name_journaled_with_no_other_file_left() {
        for unnamed in [true, false] {
            let (temp, writer) = writer_of("a/b/t.json", FileKind::Tileset);
            writer
                .created_dirs
                .no_unnamed_files
                .store(!unnamed, Ordering::Relaxed);
            let body = br#"{"root":{"content":{"uri":"c.glb"}}}"#;
            // In several chunks, as a body arrives.
            let chunks = body.chunks(7).map(bytes::Bytes::copy_from_slice).collect();

            let written = writer.write_whole(chunks);

            let Ok(Written::Done(entry, references)) = written else {
                panic!("not written (unnamed files: {unnamed})")
            };
            assert_eq!(std::fs::read(temp.path().join("a/b/t.json")).unwrap(), body);
            assert_eq!(
                names_in(temp.path(), "a/b"),
                ["t.json"],
                "unnamed: {unnamed}"
            );
            assert_eq!(entry.size, body.len() as u64);
            assert_eq!(entry.xxh3_128, super::super::checksum::hex_of(body));
            let journal =
                std::fs::read_to_string(temp.path().join(super::super::JOURNAL_FILE)).unwrap();
            assert!(journal.contains(&entry.xxh3_128), "{journal}");
            let references = references.unwrap().unwrap();
            assert_eq!(references.references.len(), 1, "read back from the file");
        }
    }

    #[test]
    fn a_whole_gzipped_body_is_saved_decoded() {
        use std::io::Write as _;
        let (temp, mut writer) = writer_of("t.bin", FileKind::Leaf);
        writer.gzip = true;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"plain bytes").unwrap();
        let body = encoder.finish().unwrap();

        assert!(matches!(
            writer.write_whole(vec![body.into()]),
            Ok(Written::Done(..))
        ));
        assert_eq!(
            std::fs::read(temp.path().join("t.bin")).unwrap(),
            b"plain bytes"
        );
    }

    #[test]
    fn a_body_that_is_not_gzip_as_announced_is_corrupt_content_not_a_disk_error() {
        let (temp, mut writer) = writer_of("t.bin", FileKind::Leaf);
        writer.gzip = true;
        // A valid gzip header, then bytes no deflate stream starts with.
        let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        body.extend_from_slice(&[0xff; 64]);

        let written = writer.write_whole(vec![body.into()]);

        assert!(
            matches!(
                written,
                Err(WriteFailure::Content(FileError::Corrupt {
                    kind: "gzip stream",
                    ..
                }))
            ),
            "a decoding error must be the content's, so the file is fetched again"
        );
        assert!(!temp.path().join("t.bin").exists());
    }

    #[test]
    fn a_whole_body_that_fails_its_check_leaves_nothing_behind() {
        for unnamed in [true, false] {
            let (temp, writer) = writer_of("t.glb", FileKind::Glb);
            writer
                .created_dirs
                .no_unnamed_files
                .store(!unnamed, Ordering::Relaxed);
            let page = bytes::Bytes::from_static(b"<html>sign in to the wifi</html>");

            let written = writer.write_whole(vec![page]);

            assert!(
                matches!(written, Err(WriteFailure::Content(_))),
                "unnamed: {unnamed}"
            );
            let left = names_in(temp.path(), "");
            let expected: &[&str] = if unnamed { &[] } else { &["part file"] };
            // The part file stays for the fetch to remove; no file has the final name.
            assert_eq!(left.len(), expected.len(), "{left:?}");
            assert!(!left.iter().any(|n| n == "t.glb"), "{left:?}");
        }
    }

    #[test]
    fn a_whole_body_replaces_a_file_already_under_its_name() {
        let (temp, writer) = writer_of("t.bin", FileKind::Leaf);
        std::fs::write(temp.path().join("t.bin"), b"stale").unwrap();

        assert!(matches!(
            writer.write_whole(vec![bytes::Bytes::from_static(b"fresh")]),
            Ok(Written::Done(..))
        ));
        assert_eq!(std::fs::read(temp.path().join("t.bin")).unwrap(), b"fresh");
        assert_eq!(names_in(temp.path(), ""), ["t.bin"]);
    }

    #[test]
    fn a_whole_body_replaces_its_file_when_an_earlier_attempt_left_its_part() {
        let (temp, writer) = writer_of("t.bin", FileKind::Leaf);
        std::fs::write(temp.path().join("t.bin"), b"stale").unwrap();
        // A broken attempt whose bytes cannot be continued (gzip, no length): this one
        // starts afresh.
        std::fs::write(temp.path().join(&writer.part), b"fre").unwrap();

        let written = writer.write_whole(vec![bytes::Bytes::from_static(b"fresh")]);

        assert!(matches!(written, Ok(Written::Done(..))));
        assert_eq!(std::fs::read(temp.path().join("t.bin")).unwrap(), b"fresh");
        assert_eq!(names_in(temp.path(), ""), ["t.bin"]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_parent_turned_into_a_link_out_of_the_output_directory_fails_only_its_file() {
        let outside = tempfile::tempdir().unwrap();
        let (temp, writer) = writer_of("a/t.bin", FileKind::Leaf);
        // The run created `a`; then something put a link out of the output directory there.
        writer
            .created_dirs
            .created
            .lock()
            .unwrap()
            .insert(PathBuf::from("a"));
        std::os::unix::fs::symlink(outside.path(), temp.path().join("a")).unwrap();
        let created_dirs = writer.created_dirs.clone();

        let written = writer.write_whole(vec![bytes::Bytes::from_static(b"x")]);

        assert!(matches!(written, Err(WriteFailure::Io(_))));
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        assert!(
            !created_dirs.no_unnamed_files.load(Ordering::Relaxed),
            "a refused path does not make the rest of the download use part files"
        );
    }

    /// Runs the test `name` again in a child process whose umask is `umask` (the umask is the
    /// process's, so it is not changed under the other tests); true in that child.
    #[cfg(target_os = "linux")]
    fn in_child_with_umask(name: &str, umask: &str) -> bool {
        const CHILD: &str = "MESH_EXPORT_TEST_UMASK_CHILD";
        if std::env::var_os(CHILD).is_some() {
            return true;
        }
        let child = std::process::Command::new("sh")
            .args([
                "-c",
                r#"umask "$1" && exec "$0" --exact "$2" --test-threads 1"#,
            ])
            .arg(std::env::current_exe().unwrap())
            .args([umask, name])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(
            child.status.success() && stdout.contains("test result: ok. 1 passed"),
            "{name} with umask {umask}: {}\n{stdout}",
            child.status
        );
        false
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_unnamed_file_gets_the_permissions_a_part_file_would() {
        use std::os::unix::fs::PermissionsExt;
        let name = "writer::tests::an_unnamed_file_gets_the_permissions_a_part_file_would";
        if !in_child_with_umask(name, "002") {
            return;
        }
        let mode = |unnamed: bool| {
            let (temp, writer) = writer_of("t.bin", FileKind::Leaf);
            writer
                .created_dirs
                .no_unnamed_files
                .store(!unnamed, Ordering::Relaxed);
            let written = writer.write_whole(vec![bytes::Bytes::from_static(b"x")]);
            assert!(matches!(written, Ok(Written::Done(..))));
            let metadata = std::fs::metadata(temp.path().join("t.bin")).unwrap();
            metadata.permissions().mode() & 0o777
        };
        assert_eq!(mode(false), 0o664, "a part file, under umask 002");
        assert_eq!(mode(true), mode(false));
    }

    #[test]
    fn a_glb_head_keeps_its_json_chunk_whatever_the_pieces() {
        let glb = glb_with_json(5000, 7000);
        for piece in [1, 7, 19, 20, 21, 4096, glb.len()] {
            let mut head = Head::new(&FileKind::Glb);
            glb.chunks(piece).for_each(|c| head.keep(c));
            assert_eq!(head.glb_json(), Some(&glb[..5020]), "pieces of {piece}");
        }
        // Other kinds keep only what the structural check needs.
        let mut other = Head::new(&FileKind::Leaf);
        other.keep(&glb);
        assert_eq!((other.bytes.len(), other.glb_json()), (HEAD, None));
        // Also when the limit is reached in a later piece.
        let mut other = Head::new(&FileKind::Leaf);
        other.keep(&glb[..10]);
        other.keep(&glb[10..]);
        assert_eq!(other.bytes.len(), HEAD);
    }

    #[test]
    fn a_glb_json_chunk_past_the_memory_bound_is_left_on_disk() {
        let glb = glb_with_json(GLB_HEAD, 10);
        let mut head = Head::new(&FileKind::Glb);
        glb.chunks(64 * 1024).for_each(|c| head.keep(c));
        assert_eq!(head.bytes.len(), GLB_HEAD);
        assert_eq!(head.glb_json(), None, "the JSON is read back from the file");
        // An absurd announced length neither overflows nor allocates it.
        let mut absurd = glb_with_json(0, 0);
        absurd[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut head = Head::new(&FileKind::Glb);
        head.keep(&absurd);
        assert_eq!((head.bytes.len(), head.glb_json()), (20, None));
    }
}
