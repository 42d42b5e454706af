//! [`TokenCache`]: one token shared by all calls of a client, refreshed ahead of expiry.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::Shared;
use mesh_export_client::BoxFuture;
use reqwest::header::HeaderValue;

use super::error::AuthError;
use super::secret::Secret;
use super::token::AccessToken;
use super::token_source::TokenSource;

/// How long before expiry a cached token is replaced, at most (see [`TokenCache`]).
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(300);

/// Caches the token of a [`TokenSource`] for all calls of a client.
///
/// A cached token is replaced once `min(refresh_ahead, lifetime / 2)` or less of it is left.
/// `refresh_ahead` defaults to 5 minutes: IMS tokens live an hour, and a few minutes leave room
/// for a slow token endpoint and clock skew; the `lifetime / 2` bound keeps short-lived tokens from
/// being refreshed on every call.
///
/// How it behaves under load and failure:
/// - a fresh token is read without waiting on any lock held across I/O (a read lock around a
///   clone), so concurrent calls do not queue behind each other;
/// - in the refresh window, calls keep using the still-valid token while one fetch runs in the
///   background; only a caller with no valid token waits, and all such callers share the fetch;
/// - the fetch is a task of its own (spawned on the current Tokio runtime), so a cancelled
///   caller does not abort it for the others;
/// - a failed fetch is remembered: until a backoff (1 s, doubling to 1 min) passes, callers
///   without a valid token get the same error at once instead of each asking the endpoint, and
///   callers with a valid token keep using it.
pub struct TokenCache {
    shared: Arc<CacheShared>,
}

struct CacheShared {
    source: Arc<dyn TokenSource>,
    refresh_ahead: Duration,
    state: RwLock<CacheState>,
}

type Fetch = Shared<BoxFuture<'static, Result<AccessToken, AuthError>>>;

#[derive(Default)]
struct CacheState {
    // Shared: a call takes the whole record with one reference count.
    cached: Option<Arc<Cached>>,
    inflight: Option<Fetch>,
    failure: Option<Failure>,
}

struct Cached {
    token: AccessToken,
    /// `Authorization: Bearer <token>`, built once per token and marked sensitive.
    bearer: Option<HeaderValue>,
    obtained_at: Instant,
}

struct Failure {
    error: AuthError,
    failures: u32,
    retry_at: Instant,
}

impl Cached {
    fn new(token: AccessToken, obtained_at: Instant) -> Self {
        let bearer = HeaderValue::from_str(&token.authorization())
            .ok()
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        Cached {
            token,
            bearer,
            obtained_at,
        }
    }

    fn fresh(&self, refresh_ahead: Duration, now: Instant) -> bool {
        let Some(expires_at) = self.token.expires_at else {
            return true;
        };
        let lifetime = expires_at.saturating_duration_since(self.obtained_at);
        let ahead = refresh_ahead.min(lifetime / 2);
        now.checked_add(ahead).is_some_and(|at| at < expires_at)
    }

    fn valid(&self, now: Instant) -> bool {
        self.token.expires_at.is_none_or(|at| now < at)
    }
}

/// What [`TokenCache::lookup`] found.
enum Lookup {
    Token(Arc<Cached>),
    Failed(AuthError),
    Wait(Fetch),
}

impl TokenCache {
    /// Caches tokens from `source`, refreshing [`DEFAULT_REFRESH_AHEAD`] before expiry at most.
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        Self::with_refresh_ahead(source, DEFAULT_REFRESH_AHEAD)
    }

    /// Caches tokens from `source`, refreshing `refresh_ahead` before expiry at most.
    pub fn with_refresh_ahead(source: Arc<dyn TokenSource>, refresh_ahead: Duration) -> Self {
        TokenCache {
            shared: Arc::new(CacheShared {
                source,
                refresh_ahead,
                state: RwLock::new(CacheState::default()),
            }),
        }
    }

    /// The cached token, or a new one when there is no valid one (see the type's docs for
    /// refreshing, sharing and failures).
    ///
    /// # Errors
    ///
    /// The source's [`AuthError`] when there is no valid token, also a remembered one while
    /// its backoff lasts.
    pub async fn get(&self) -> Result<AccessToken, AuthError> {
        self.cached().await.map(|c| c.token.clone())
    }

    /// The `Authorization` value of the current token.
    pub(crate) async fn bearer(&self) -> Result<HeaderValue, AuthError> {
        let cached = self.cached().await?;
        cached.bearer.clone().ok_or_else(|| {
            AuthError::Decode("the token contains characters not allowed in a header".into())
        })
    }

    async fn cached(&self) -> Result<Arc<Cached>, AuthError> {
        let fetch = match self.lookup() {
            Lookup::Token(cached) => return Ok(cached),
            Lookup::Failed(error) => return Err(error),
            Lookup::Wait(fetch) => fetch,
        };
        let token = fetch.await?;
        Ok(Arc::new(Cached::new(token, Instant::now())))
    }

    /// Decides from the state alone, holding a lock only for that: the token when it is fresh,
    /// or valid while a refresh runs; else the shared fetch to wait for (started if needed), or
    /// the remembered failure.
    fn lookup(&self) -> Lookup {
        let now = Instant::now();
        {
            let state = self.shared.read();
            if let Some(c) = &state.cached
                && c.fresh(self.shared.refresh_ahead, now)
            {
                return Lookup::Token(Arc::clone(c));
            }
        }
        let mut state = self.shared.write();
        // A fetch that ended without recording its result (its runtime shut down) is over.
        if state.inflight.as_ref().is_some_and(|f| f.peek().is_some()) {
            state.inflight = None;
        }
        let backing_off = state.failure.as_ref().is_some_and(|f| now < f.retry_at);
        if state.inflight.is_none() && !backing_off {
            let cached = state.cached.as_ref();
            let fresh = cached.is_some_and(|c| c.fresh(self.shared.refresh_ahead, now));
            if !fresh {
                state.inflight = Some(self.shared.clone().start_fetch());
            }
        }
        match (&state.cached, &state.inflight, &state.failure) {
            (Some(c), _, _) if c.valid(now) => Lookup::Token(Arc::clone(c)),
            (_, Some(fetch), _) => Lookup::Wait(fetch.clone()),
            (_, None, Some(failure)) => Lookup::Failed(failure.error.clone()),
            (_, None, None) => {
                Lookup::Failed(AuthError::Other("no token could be obtained".into()))
            }
        }
    }

    /// Forgets `rejected` (the service answered 401 to it), so the next [`get`](Self::get)
    /// asks the source again. A newer token, fetched meanwhile by another call, is kept.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut state = self.shared.write();
        if state
            .cached
            .as_ref()
            .is_some_and(|c| &c.token.token == rejected)
        {
            state.cached = None;
            // The rejection is news: ask the source now, whatever failed before.
            state.failure = None;
        }
    }

    /// Forgets the cached token if its `Authorization` value is `bearer`.
    pub(crate) fn invalidate_bearer(&self, bearer: &HeaderValue) {
        let mut state = self.shared.write();
        if state
            .cached
            .as_ref()
            .is_some_and(|c| c.bearer.as_ref() == Some(bearer))
        {
            state.cached = None;
            state.failure = None;
        }
    }
}

impl CacheShared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CacheState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts one fetch as a task of its own and records its result in the state.
    fn start_fetch(self: Arc<Self>) -> Fetch {
        let task = tokio::spawn(async move {
            let obtained_at = Instant::now();
            let result = self.source.token().await;
            let mut state = self.write();
            state.inflight = None;
            match &result {
                Ok(token) => {
                    state.cached = Some(Arc::new(Cached::new(token.clone(), obtained_at)));
                    state.failure = None;
                }
                Err(error) => {
                    let failures = state
                        .failure
                        .as_ref()
                        .map_or(1, |f| f.failures.saturating_add(1));
                    let backoff = Duration::from_secs(1)
                        .saturating_mul(1u32 << failures.saturating_sub(1).min(6))
                        .min(Duration::from_secs(60));
                    if state
                        .cached
                        .as_ref()
                        .is_some_and(|c| c.valid(Instant::now()))
                    {
                        tracing::warn!(error = %error, retry_in_s = backoff.as_secs(), "token refresh failed; using the cached token until it expires");
                    }
                    state.failure = Some(Failure {
                        error: error.clone(),
                        failures,
                        retry_at: Instant::now() + backoff,
                    });
                }
            }
            result
        });
        async move {
            task.await.unwrap_or_else(|e| {
                Err(AuthError::Other(format!(
                    "the token fetch did not finish: {e}"
                )))
            })
        }
        .boxed()
        .shared()
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.shared.source)
            .field("refresh_ahead", &self.shared.refresh_ahead)
            .finish_non_exhaustive()
    }
}

impl TokenSource for TokenCache {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    use crate::auth::{AuthScheme, StaticToken};

    /// Hands out `t0`, `t1`, ... that live `lifetime`, each after a short delay.
    #[derive(Debug)]
    struct Counting {
        issued: AtomicU32,
        lifetime: Duration,
    }

    impl Counting {
        fn living(lifetime: Duration) -> Self {
            Counting {
                issued: AtomicU32::new(0),
                lifetime,
            }
        }
    }

    impl Default for Counting {
        fn default() -> Self {
            Counting::living(Duration::from_secs(3600))
        }
    }

    impl TokenSource for Counting {
        fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
            let n = self.issued.fetch_add(1, Ordering::SeqCst);
            let lifetime = self.lifetime;
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(AccessToken::new(format!("t{n}"), Some(lifetime)))
            })
        }
    }

    #[tokio::test]
    async fn cache_fetches_once_for_concurrent_callers_and_again_after_invalidate() {
        let source = Arc::new(Counting::default());
        let cache = Arc::new(TokenCache::new(source.clone()));
        let tokens = futures::future::join_all((0..16).map(|_| {
            let cache = cache.clone();
            async move { cache.get().await.unwrap() }
        }))
        .await;
        assert_eq!(source.issued.load(Ordering::SeqCst), 1);
        assert!(tokens.iter().all(|t| t.token.expose() == "t0"));
        cache.invalidate(&Secret::new("not-the-cached-one")).await;
        assert_eq!(cache.get().await.unwrap().token.expose(), "t0");
        cache.invalidate(&Secret::new("t0")).await;
        assert_eq!(cache.get().await.unwrap().token.expose(), "t1");
    }

    #[test]
    fn refresh_window_is_bounded_by_half_the_lifetime() {
        let now = Instant::now();
        let short = Cached::new(
            AccessToken {
                token: Secret::new("x"),
                expires_at: Some(now + Duration::from_secs(10)),
                scheme: AuthScheme::Bearer,
            },
            now,
        );
        assert!(short.fresh(DEFAULT_REFRESH_AHEAD, now + Duration::from_secs(4)));
        assert!(!short.fresh(DEFAULT_REFRESH_AHEAD, now + Duration::from_secs(6)));
        let hour = Cached::new(
            AccessToken {
                token: Secret::new("x"),
                expires_at: Some(now + Duration::from_secs(3600)),
                scheme: AuthScheme::Bearer,
            },
            now,
        );
        assert!(hour.fresh(DEFAULT_REFRESH_AHEAD, now + Duration::from_secs(3200)));
        assert!(!hour.fresh(DEFAULT_REFRESH_AHEAD, now + Duration::from_secs(3400)));
    }

    /// A cached token obtained at `obtained_at` that expires `lifetime` later.
    fn cached(obtained_at: Instant, lifetime: Duration) -> Cached {
        Cached::new(
            AccessToken {
                token: Secret::new("x"),
                expires_at: Some(obtained_at + lifetime),
                scheme: AuthScheme::Bearer,
            },
            obtained_at,
        )
    }

    #[test]
    fn a_token_stops_being_fresh_the_instant_its_refresh_window_opens() {
        let now = Instant::now();
        // Ten seconds of life: the window is the last five (half the lifetime).
        let token = cached(now, Duration::from_secs(10));
        let opens = now + Duration::from_secs(5);
        assert!(token.fresh(DEFAULT_REFRESH_AHEAD, opens - Duration::from_nanos(1)));
        assert!(!token.fresh(DEFAULT_REFRESH_AHEAD, opens));
    }

    #[test]
    fn a_token_is_valid_until_the_instant_it_expires() {
        let now = Instant::now();
        let token = cached(now, Duration::from_secs(10));
        let expires_at = now + Duration::from_secs(10);
        assert!(token.valid(now));
        assert!(token.valid(expires_at - Duration::from_nanos(1)));
        assert!(!token.valid(expires_at), "expired at its expiry");
        assert!(!token.valid(expires_at + Duration::from_secs(1)));
        let forever = Cached::new(AccessToken::new("x", None), now);
        assert!(forever.valid(now + Duration::from_secs(86_400 * 365)));
    }

    #[tokio::test]
    async fn an_expired_token_is_not_handed_out_while_its_replacement_is_fetched() {
        let source = Arc::new(Counting::living(Duration::from_millis(50)));
        let cache = TokenCache::new(source.clone());
        assert_eq!(cache.get().await.unwrap().token.expose(), "t0");
        // A sleep only makes t0 older: it has expired, not merely entered its refresh window.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(cache.get().await.unwrap().token.expose(), "t1");
        assert_eq!(source.issued.load(Ordering::SeqCst), 2);
    }

    /// A source that always fails, and counts how often it was asked.
    #[derive(Debug, Default)]
    struct Refusing(AtomicU32);

    impl TokenSource for Refusing {
        fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Err(AuthError::Other("refused".into())) })
        }
    }

    #[tokio::test]
    async fn a_failed_fetch_backs_off_for_1_s_doubling_to_1_min() {
        let source = Arc::new(Refusing::default());
        let cache = TokenCache::new(source.clone());
        for (failures, seconds) in (1u32..).zip([1, 2, 4, 8, 16, 32, 60, 60]) {
            // The backoff of the previous failure is over.
            if let Some(failure) = cache.shared.write().failure.as_mut() {
                failure.retry_at = Instant::now();
            }
            let before = Instant::now();
            cache.get().await.unwrap_err();
            let after = Instant::now();
            let state = cache.shared.read();
            let failure = state.failure.as_ref().expect("the failure is remembered");
            assert_eq!(failure.failures, failures);
            // The fetch ended between `before` and `after`; its backoff runs from there.
            let backoff = Duration::from_secs(seconds);
            assert!(
                before + backoff <= failure.retry_at && failure.retry_at <= after + backoff,
                "failure {failures}: expected a backoff of {backoff:?}, got {:?}",
                failure.retry_at.saturating_duration_since(before)
            );
        }
        assert_eq!(source.0.load(Ordering::SeqCst), 8);
        // While the backoff lasts, the remembered error comes back without asking the source.
        cache.shared.write().failure.as_mut().unwrap().retry_at =
            Instant::now() + Duration::from_secs(3600);
        let error = cache.get().await.unwrap_err();
        assert!(
            matches!(error, AuthError::Other(ref m) if m == "refused"),
            "{error:?}"
        );
        assert_eq!(source.0.load(Ordering::SeqCst), 8);
    }

    #[test]
    fn a_token_cache_shows_its_source_and_refresh_window_in_debug_output() {
        let cache = TokenCache::with_refresh_ahead(
            Arc::new(StaticToken::new("tok-3x4mpl3")),
            Duration::from_secs(42),
        );
        let text = format!("{cache:?}");
        assert!(text.starts_with("TokenCache"), "{text}");
        assert!(
            text.contains("source: StaticToken(Secret(REDACTED))"),
            "{text}"
        );
        assert!(text.contains("refresh_ahead: 42s"), "{text}");
        assert!(!text.contains("tok-3x4mpl3"), "{text}");
    }
}
