//! A body on its way from the response to its writer: held in memory while it is small, so
//! most tiles reach a write thread in one piece, and streamed to a blocking writer of its
//! own once it outgrows that.

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::store::write_threads::WriteThreads;
use crate::store::writer::{FileWriter, Piece, WriteFailure, Written};

/// Chunks in flight between a response and its file writer, per file: with 8 files at a time
/// and chunks of up to tens of KiB, a few MiB at most.
const WRITER_QUEUE: usize = 16;

/// Bytes of a body held in memory before its writer starts: a file below this size is handed
/// to its blocking writer whole (see [`HeldBody`]). No more is held, so with 8 files at a time
/// about 8 MiB (plus a `.glb` head of up to 1 MiB each in the writers).
const BUFFERED_BODY: usize = 1024 * 1024;

/// Sends `chunks` to a file's writer in order; false when the writer stopped (its error is
/// what the writer returns), and the rest is not sent.
async fn hand_over(pieces: &mpsc::Sender<Piece>, chunks: impl IntoIterator<Item = Bytes>) -> bool {
    for chunk in chunks {
        if pieces.send(Piece::Chunk(chunk)).await.is_err() {
            return false;
        }
    }
    true
}

/// Chunks below this size are copied together, so that a body in many tiny chunks is held as
/// a few buffers, not as a slice of each network read (which keeps that read's buffer alive).
pub(super) const SMALL_CHUNK: usize = 8 * 1024;

/// A body held in memory before its writer starts: its chunks as they arrived when they are
/// large (no copy), small ones copied together. Memory stays near the body's length whatever
/// the chunk sizes.
#[derive(Default)]
pub(super) struct HeldBody {
    chunks: Vec<Bytes>,
    small: BytesMut,
    len: usize,
}

impl HeldBody {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        if chunk.len() < SMALL_CHUNK {
            self.small.extend_from_slice(&chunk);
            if self.small.len() >= SMALL_CHUNK {
                self.chunks.push(self.small.split().freeze());
            }
        } else {
            if !self.small.is_empty() {
                self.chunks.push(self.small.split().freeze());
            }
            self.chunks.push(chunk);
        }
    }

    /// The chunks in order, leaving nothing held.
    pub(super) fn take(&mut self) -> Vec<Bytes> {
        if !self.small.is_empty() {
            self.chunks.push(self.small.split().freeze());
        }
        self.len = 0;
        std::mem::take(&mut self.chunks)
    }
}

/// A writer running on a blocking thread of its own, fed through a channel.
type Streaming = (
    mpsc::Sender<Piece>,
    JoinHandle<Result<Written, WriteFailure>>,
);

/// One attempt's body on its way to its writer. The writer starts when the body is complete
/// or passes [`BUFFERED_BODY`], so a small file (most tiles) reaches it in one piece, without
/// a wake-up per chunk, on one of the download's write threads; a larger one is streamed to a
/// blocking thread of its own, which waits for its chunks.
pub(super) struct Delivery {
    /// The writer, until it starts.
    writer: Option<FileWriter>,
    held: HeldBody,
    streaming: Option<Streaming>,
    /// Bytes handed on so far.
    received: u64,
}

impl Delivery {
    pub(super) fn new(writer: FileWriter) -> Self {
        Delivery {
            writer: Some(writer),
            held: HeldBody::default(),
            streaming: None,
            received: 0,
        }
    }

    /// Bytes of the body handed on so far.
    pub(super) fn received(&self) -> u64 {
        self.received
    }

    /// Hands `chunk` on: held while the body is small, streamed from the moment it outgrows
    /// the buffer. False when the writer stopped (its error is what [`Self::finish`] returns).
    pub(super) async fn push(&mut self, chunk: Bytes) -> bool {
        let length = chunk.len() as u64;
        let handed_over = match &self.streaming {
            Some((pieces, _)) => pieces.send(Piece::Chunk(chunk)).await.is_ok(),
            None if self.held.len() + chunk.len() < BUFFERED_BODY => {
                self.held.push(chunk);
                true
            }
            None => {
                let (pieces, writing) = self.start_streaming();
                let sent = hand_over(&pieces, self.held.take().into_iter().chain([chunk])).await;
                self.streaming = Some((pieces, writing));
                sent
            }
        };
        if handed_over {
            self.received += length;
        }
        handed_over
    }

    /// Writes whatever arrived, complete or not: a broken transfer (`complete` false) leaves
    /// its part for the next attempt's `Range` request.
    pub(super) async fn finish(
        mut self,
        complete: bool,
        write_threads: &WriteThreads,
    ) -> Result<Written, WriteFailure> {
        let written = match self.streaming.take() {
            Some((pieces, writing)) => {
                if complete {
                    // Fails only when the writer already stopped; its error is read below.
                    let _ = pieces.send(Piece::Complete).await;
                }
                // Without a sender the writer stops at the end of what it has: a broken
                // transfer leaves its part.
                drop(pieces);
                writing.await.ok()
            }
            None if complete => {
                let writer = self.writer.take().expect("the writer starts once");
                let body = self.held.take();
                write_threads.run(move || writer.write_whole(body)).await
            }
            None => {
                let (pieces, writing) = self.start_streaming();
                // Fails only when the writer already stopped; its error is read below.
                hand_over(&pieces, self.held.take()).await;
                drop(pieces);
                writing.await.ok()
            }
        };
        written.unwrap_or_else(|| {
            Err(WriteFailure::Io(std::io::Error::other(
                "the file writer stopped without an answer (it panicked)",
            )))
        })
    }

    fn start_streaming(&mut self) -> Streaming {
        let writer = self.writer.take().expect("the writer starts once");
        let (pieces, received_pieces) = mpsc::channel(WRITER_QUEUE);
        let writing = tokio::task::spawn_blocking(move || writer.write(received_pieces));
        (pieces, writing)
    }
}
