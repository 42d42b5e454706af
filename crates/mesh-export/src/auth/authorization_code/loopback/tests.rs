//! The loopback's wait against a scripted source of connections: failed `accept`s are paused
//! after, and a run of them ends the sign-in with their reason instead of spinning.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::io::{AsyncWriteExt, DuplexStream};

use super::*;

/// More `accept` calls than any test here needs: reaching it means the loop spins.
const SPINNING: usize = 1_000;

/// Fails `accept` `failures` times ("too many open files"), then hands out `streams` in
/// turn, then waits for ever.
struct Scripted {
    failures: usize,
    streams: Mutex<VecDeque<DuplexStream>>,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(failures: usize, streams: Vec<DuplexStream>) -> Self {
        Scripted {
            failures,
            streams: Mutex::new(streams.into()),
            calls: AtomicUsize::new(0),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Connections for Scripted {
    type Stream = DuplexStream;
    // Counted and taken when polled, so a call dropped unpolled by `select!` loses nothing.
    async fn accept(&self) -> io::Result<DuplexStream> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(
            call < SPINNING,
            "accept called {call} times: the loop spins"
        );
        if call <= self.failures {
            return Err(io::Error::other("too many open files"));
        }
        let next = self.streams.lock().unwrap().pop_front();
        match next {
            Some(stream) => Ok(stream),
            None => std::future::pending().await,
        }
    }
}

fn expected() -> Expected {
    Expected {
        redirect_uri: "http://127.0.0.1:1/callback".into(),
        path: "/callback".into(),
        state: "the-state".into(),
    }
}

const QUICK: AcceptBackoff = AcceptBackoff {
    first: Duration::from_millis(1),
    longest: Duration::from_millis(4),
    attempts: 6,
};

#[tokio::test]
async fn an_accept_that_keeps_failing_ends_the_sign_in_with_its_reason_instead_of_spinning() {
    let source = Scripted::new(usize::MAX, Vec::new());
    let started = Instant::now();
    let error = serve(&source, expected(), Duration::from_secs(600), QUICK)
        .await
        .unwrap_err();
    assert_eq!(source.calls(), 6, "one call per attempt");
    let message = error.to_string();
    assert!(matches!(error, AuthError::SignIn(_)), "{error:?}");
    assert!(message.contains("too many open files"), "{message}");
    assert!(message.contains("6 failures in a row"), "{message}");
    assert!(message.contains("http://127.0.0.1:1/callback"), "{message}");
    // The pauses between the six attempts: 1, 2, 4, 4 and 4 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn failed_accepts_followed_by_a_connection_still_take_the_callback() {
    let (mut browser, server_side) = tokio::io::duplex(64 * 1024);
    browser
        .write_all(
            b"GET /callback?state=the-state&code=the-code HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        )
        .await
        .unwrap();
    // Five failures in a row: one short of giving up.
    let source = Scripted::new(5, vec![server_side]);
    let code = serve(&source, expected(), Duration::from_secs(600), QUICK)
        .await
        .unwrap();
    assert_eq!(code.expose(), "the-code");
    assert!(source.calls() >= 6, "five failures, then the connection");
    assert!(source.streams.lock().unwrap().is_empty());
}

#[test]
fn each_failure_in_a_row_pauses_twice_as_long_up_to_the_longest_then_gives_up() {
    let pauses: Vec<_> = (1..=6).map(|n| QUICK.pause(n)).collect();
    let ms = |n| Some(Duration::from_millis(n));
    assert_eq!(pauses, [ms(1), ms(2), ms(4), ms(4), ms(4), None]);
    // The default gives a person's machine a few seconds to recover, not minutes.
    let total: Duration = (1..ACCEPT_BACKOFF.attempts)
        .map(|n| ACCEPT_BACKOFF.pause(n).unwrap())
        .sum();
    assert!(
        total >= Duration::from_secs(1) && total <= Duration::from_secs(5),
        "{total:?}"
    );
    assert_eq!(ACCEPT_BACKOFF.pause(ACCEPT_BACKOFF.attempts), None);
}
