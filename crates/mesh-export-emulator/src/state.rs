//! The emulator's shared state: configuration, tokens, exports, counters.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, header};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::EmulatorConfig;
use crate::grants::Grants;
use crate::rate_windows::RateWindows;
use crate::store::Store;
use crate::tokens::Tokens;

/// Counters of what the emulator did, for tests to assert on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests received on any route, including the token endpoint and faulted ones.
    pub requests: u64,
    /// Requests that met an injected fault (503, 429, dropped connection, slow answer, or a
    /// request handled whose answer was then lost or replaced by a 503).
    pub faults_injected: u64,
    /// Requests the service handled whose answer was then dropped or replaced by a 503: the
    /// client cannot know that its request took effect.
    pub answers_lost: u64,
    /// Requests refused with 429 by the per-client rate limit.
    pub rate_limited: u64,
    /// Exports started (202 answers of `start-export`).
    pub exports_started: u64,
    /// Access tokens issued by `/connect/token`.
    pub tokens_issued: u64,
    /// Requests that reached the blob route (tileset files), whatever their answer.
    pub blob_requests: u64,
    /// Requests that reached get-exports (`GET /mesh-export/`) past authentication and the
    /// rate limit, whatever their answer: how often a client read its exports.
    pub exports_listed: u64,
    /// Blob requests answered 503 `ServerBusy` because `blob_concurrency` others were being
    /// answered.
    pub blobs_busy: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) faults_injected: AtomicU64,
    pub(crate) answers_lost: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) exports_started: AtomicU64,
    pub(crate) tokens_issued: AtomicU64,
    pub(crate) blob_requests: AtomicU64,
    pub(crate) exports_listed: AtomicU64,
    pub(crate) blobs_busy: AtomicU64,
    /// Blob requests being answered now.
    pub(crate) blobs_in_flight: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            faults_injected: self.faults_injected.load(Ordering::Relaxed),
            answers_lost: self.answers_lost.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            exports_started: self.exports_started.load(Ordering::Relaxed),
            tokens_issued: self.tokens_issued.load(Ordering::Relaxed),
            blob_requests: self.blob_requests.load(Ordering::Relaxed),
            exports_listed: self.exports_listed.load(Ordering::Relaxed),
            blobs_busy: self.blobs_busy.load(Ordering::Relaxed),
        }
    }
}

/// State every handler shares.
pub(crate) struct AppState {
    pub(crate) config: EmulatorConfig,
    /// The bound address, for links when a request has no `Host` header.
    pub(crate) local_addr: SocketAddr,
    pub(crate) clients: HashMap<String, String>,
    pub(crate) counters: Counters,
    pub(crate) tokens: Tokens,
    /// Codes and refresh tokens of people signed in.
    pub(crate) grants: Grants,
    pub(crate) store: Mutex<Store>,
    pub(crate) rate_windows: RateWindows,
    pub(crate) fault_rng: Mutex<StdRng>,
    /// Key of the blob signatures, fresh for each emulator so links never outlive it.
    pub(crate) sas_key: [u8; 32],
}

impl AppState {
    /// `http://HOST:PORT` as the caller addressed the emulator, so links work from where it
    /// stands.
    pub(crate) fn origin(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_owned)
            .unwrap_or_else(|| self.local_addr.to_string());
        format!("http://{host}")
    }

    pub(crate) fn new(config: EmulatorConfig, local_addr: SocketAddr) -> Self {
        let clients = config.effective_clients().into_iter().collect();
        let fault_rng = Mutex::new(StdRng::seed_from_u64(config.seed));
        Self {
            clients,
            counters: Counters::default(),
            tokens: Tokens::default(),
            grants: Grants::default(),
            store: Mutex::new(Store::default()),
            rate_windows: RateWindows::default(),
            fault_rng,
            sas_key: rand::random(),
            config,
            local_addr,
        }
    }
}
