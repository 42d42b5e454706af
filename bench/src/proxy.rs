//! A TCP proxy that makes loopback look like a link some distance away: every byte is held for
//! a one-way delay in each direction, and a new connection first pays a round trip, as TCP's
//! handshake would.
//!
//! Each direction of a connection is a delay line: a reader stamps every chunk with the time it
//! arrived and queues it, a writer sends each chunk when its stamp is one delay old. A chunk
//! waits for its own deadline only, never for the chunks before it to have waited theirs, so the
//! proxy adds latency without limiting throughput (a sleep after each read would cap a
//! connection at one read per delay). The queue is bounded, so a slow receiver slows the sender
//! through TCP's own flow control rather than filling memory.
//!
//! What it does not model: loss, bandwidth limits, and TLS (plain HTTP here; a real `https`
//! link pays one or two more round trips per new connection for the TLS handshake).

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Bytes one read takes from a socket at most.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks queued in one direction of one connection at most: at 64 KiB a chunk, far more than
/// a loopback socket delivers within the longest delay measured, so the bound never throttles.
const QUEUED_CHUNKS: usize = 4096;

/// A running latency proxy; stops accepting, and drops every connection, when dropped.
pub struct LatencyProxy {
    addr: SocketAddr,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl LatencyProxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`, holding
    /// every chunk for `one_way` in each direction. Must be called within a tokio runtime.
    pub async fn start(upstream: SocketAddr, one_way: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accept_loop = tokio::spawn(accept_loop(listener, upstream, one_way));
        Ok(LatencyProxy { addr, accept_loop })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        // Aborting the loop drops its `JoinSet`, which aborts every connection's task.
        self.accept_loop.abort();
    }
}

/// Accepts connections until aborted, each served by a task of a set owned here.
async fn accept_loop(listener: TcpListener, upstream: SocketAddr, one_way: Duration) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                connections.spawn(serve(client, upstream, one_way));
            }
            // Reaps finished connections so the set does not grow with every one ever served.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One proxied connection: connects upstream and runs a delay line in each direction until
/// both have ended.
async fn serve(client: TcpStream, upstream: SocketAddr, one_way: Duration) {
    let accepted = Instant::now();
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    // Nagle's algorithm would hold small writes back for an ACK that the delay makes late.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // The kernel completed the client's handshake at once; its first bytes wait out the round
    // trip a real handshake would have cost before they could be sent.
    let handshake_done = accepted + 2 * one_way;
    tokio::join!(
        delay_line(client_read, server_write, one_way, handshake_done),
        delay_line(server_read, client_write, one_way, accepted),
    );
}

/// What a reader hands its writer: a chunk and when it may be sent, or the end of the stream.
enum Queued {
    Chunk(Instant, Vec<u8>),
    End(Instant),
}

/// Copies `from` to `to`, each chunk sent `one_way` after it arrived (or after `not_before`,
/// if later), and shuts `to`'s write side down one delay after `from` ends.
async fn delay_line(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    one_way: Duration,
    not_before: Instant,
) {
    let (queue, mut queued) = mpsc::channel(QUEUED_CHUNKS);
    let due = move || Instant::now().max(not_before) + one_way;
    let reader = async move {
        let mut buffer = vec![0; CHUNK_BYTES];
        loop {
            let item = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => Queued::End(due()),
                Ok(n) => Queued::Chunk(due(), buffer[..n].to_vec()),
            };
            let end = matches!(item, Queued::End(_));
            if queue.send(item).await.is_err() || end {
                return;
            }
        }
    };
    let writer = async move {
        while let Some(item) = queued.recv().await {
            match item {
                Queued::Chunk(due, bytes) => {
                    tokio::time::sleep_until(due).await;
                    if to.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Queued::End(due) => {
                    tokio::time::sleep_until(due).await;
                    let _ = to.shutdown().await;
                    return;
                }
            }
        }
    };
    tokio::join!(reader, writer);
}
