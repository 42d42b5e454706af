use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{CHUNK_BYTES, LatencyProxy};

/// Bytes that differ from position to position, so a reordered or dropped chunk shows.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) ^ seed).to_le_bytes()[1])
        .collect()
}

/// An upstream that echoes every byte back on each connection it accepts.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

/// One request and its echoed answer on `stream`.
async fn round_trip(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).await.unwrap();
    let mut answer = vec![0; message.len()];
    stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(answer, message);
}

#[tokio::test]
async fn bytes_pass_unchanged_both_ways_and_the_end_of_each_direction_too() {
    let sent_by_client = pattern(1_000_003, 1);
    let sent_by_server = pattern(700_001, 2);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let (received_tx, received_rx) = oneshot::channel();
    let answer = sent_by_server.clone();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        // Reads to the end: the client's shutdown must reach the server through the proxy.
        stream.read_to_end(&mut received).await.unwrap();
        stream.write_all(&answer).await.unwrap();
        stream.shutdown().await.unwrap();
        received_tx.send(received).unwrap();
    });
    let proxy = LatencyProxy::start(upstream, Duration::from_millis(5))
        .await
        .unwrap();

    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    client.write_all(&sent_by_client).await.unwrap();
    client.shutdown().await.unwrap();
    let mut received_by_client = Vec::new();
    client.read_to_end(&mut received_by_client).await.unwrap();

    assert!(received_rx.await.unwrap() == sent_by_client);
    assert!(received_by_client == sent_by_server);
}

#[tokio::test]
async fn a_new_connection_pays_a_handshake_and_each_request_a_round_trip() {
    let one_way = Duration::from_millis(40);
    let proxy = LatencyProxy::start(echo_server().await, one_way)
        .await
        .unwrap();

    let started = Instant::now();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut client, b"first").await;
    let first = started.elapsed();
    let started = Instant::now();
    round_trip(&mut client, b"second").await;
    let second = started.elapsed();

    assert!(first >= 4 * one_way, "handshake and request took {first:?}");
    assert!(second >= 2 * one_way, "a request took {second:?}");
}

#[tokio::test]
async fn parallel_connections_are_not_served_one_after_another() {
    const CONNECTIONS: u32 = 16;
    let one_way = Duration::from_millis(100);
    let proxy = LatencyProxy::start(echo_server().await, one_way)
        .await
        .unwrap();
    let addr = proxy.addr();

    let started = Instant::now();
    let clients = (0..CONNECTIONS).map(|i| async move {
        let mut client = TcpStream::connect(addr).await.unwrap();
        round_trip(&mut client, &pattern(1000, i)).await;
    });
    futures::future::join_all(clients).await;
    let elapsed = started.elapsed();

    // One after another they would take 16 x 400 ms; the bound allows far more than the
    // 400 ms they take together, so a loaded machine does not fail it.
    let one_connection = 4 * one_way;
    assert!(elapsed >= one_connection, "took {elapsed:?}");
    assert!(
        elapsed < CONNECTIONS / 2 * one_connection,
        "{CONNECTIONS} connections took {elapsed:?}"
    );
}

#[tokio::test]
async fn one_connection_streams_without_waiting_a_delay_per_chunk() {
    const CHUNKS: usize = 64;
    let one_way = Duration::from_millis(200);
    let proxy = LatencyProxy::start(echo_server().await, one_way)
        .await
        .unwrap();
    let message = pattern(CHUNKS * CHUNK_BYTES, 3);

    let started = Instant::now();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    let (mut read, mut write) = client.split();
    let mut echoed = Vec::with_capacity(message.len());
    let (written, echoed_all) = tokio::join!(write.write_all(&message), async {
        (&mut read)
            .take(message.len() as u64)
            .read_to_end(&mut echoed)
            .await
    });
    written.unwrap();
    echoed_all.unwrap();
    let elapsed = started.elapsed();

    assert!(echoed == message);
    // At least 64 reads a way: a delay per read would take 13 s or more, the delay line
    // about one handshake and one round trip (0.8 s). The bound is loose for a loaded machine.
    assert!(elapsed >= 4 * one_way, "took {elapsed:?}");
    assert!(elapsed < 30 * one_way, "4 MiB took {elapsed:?}");
}
