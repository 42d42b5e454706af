//! The decoded content on its way to disk, and the head of it kept for the file's check.

use std::io::Write;

use tiles3d::walk::FileKind;

use crate::store::checksum::Checksum;

/// The bytes of a file's start kept for its structural check.
pub(super) const HEAD: usize = 64;

/// The most of a binary glTF's start kept so that its JSON chunk is read from memory, not from
/// disk again; a larger JSON chunk is read back from the file.
pub(super) const GLB_HEAD: usize = 1024 * 1024;

/// The write buffer of a body that arrives in pieces (streamed, or decoded from gzip).
pub(super) const STREAM_BUFFER: usize = 256 * 1024;

/// The decoded content on its way to disk: written, hashed, counted, its head kept.
pub(super) struct Sink {
    pub(super) out: std::io::BufWriter<std::fs::File>,
    pub(super) hasher: Checksum,
    pub(super) size: u64,
    pub(super) head: Head,
}

/// A file's first bytes: [`HEAD`] of them, or for a binary glTF up to the end of its JSON
/// chunk.
#[derive(Default)]
pub(super) struct Head {
    pub(super) bytes: Vec<u8>,
    /// Whether the file may be read as a binary glTF: its kind comes from its name, and its
    /// first bytes decide.
    pub(super) glb: bool,
}

impl Head {
    pub(super) fn new(kind: &FileKind) -> Self {
        Head {
            bytes: Vec::new(),
            glb: !kind.has_context(),
        }
    }

    /// Whether the bytes so far are those of a binary glTF.
    fn is_glb(&self) -> bool {
        self.glb && self.bytes.starts_with(b"glTF")
    }

    /// How many bytes to keep, as far as the bytes so far tell.
    pub(super) fn limit(&self) -> usize {
        match glb_json_end(&self.bytes) {
            Some(end) if self.is_glb() => end.clamp(HEAD, GLB_HEAD),
            _ => HEAD,
        }
    }

    pub(super) fn keep(&mut self, mut bytes: &[u8]) {
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
    pub(super) fn glb_json(&self) -> Option<&[u8]> {
        if !self.is_glb() {
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
    pub(super) fn new(
        file: std::fs::File,
        head: Head,
        size: u64,
        hasher: Checksum,
        buffer: usize,
    ) -> Self {
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
