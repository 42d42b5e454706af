use std::time::{SystemTime, UNIX_EPOCH};

use super::*;

fn clock() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

#[test]
fn retry_after_too_large_to_be_a_duration_is_the_longest_wait() {
    // Found by the `retry_after` fuzz target: this used to panic in `from_secs_f64`; a
    // value past `Duration::MAX` is a very long wait, not the absence of a hint.
    assert_eq!(parse_retry_after("1e300", clock()), Some(Duration::MAX));
    assert_eq!(
        parse_retry_after("99999999999999999999999", clock()),
        Some(Duration::MAX)
    );
    assert_eq!(parse_retry_after("NaN", clock()), None);
    assert_eq!(parse_retry_after("-0.5", clock()), None);
}

#[test]
fn retry_after_seconds() {
    assert_eq!(
        parse_retry_after(" 12 ", clock()),
        Some(Duration::from_secs(12))
    );
    assert_eq!(parse_retry_after("0", clock()), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("0.0", clock()), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("1.5", clock()),
        Some(Duration::from_millis(1500))
    );
}

#[test]
fn retry_after_http_date_against_the_given_clock() {
    let date = httpdate::fmt_http_date(clock() + Duration::from_secs(42));
    assert_eq!(
        parse_retry_after(&date, clock()),
        Some(Duration::from_secs(42))
    );
    let past = httpdate::fmt_http_date(clock() - Duration::from_secs(42));
    assert_eq!(parse_retry_after(&past, clock()), Some(Duration::ZERO));
}

#[test]
fn retry_after_garbage_is_no_hint() {
    assert_eq!(parse_retry_after("soon", clock()), None);
    assert_eq!(parse_retry_after("-3", clock()), None);
    assert_eq!(parse_retry_after("", clock()), None);
}

#[test]
fn backoff_doubles_up_to_the_cap_and_jitters_below_it() {
    let o = RetryOptions::default();
    assert_eq!(o.backoff_ceiling(1), Duration::from_millis(500));
    assert_eq!(o.backoff_ceiling(2), Duration::from_secs(1));
    assert_eq!(o.backoff_ceiling(4), Duration::from_secs(4));
    assert_eq!(o.backoff_ceiling(30), o.max_backoff);
    assert_eq!(o.backoff_ceiling(u32::MAX), o.max_backoff);
    for retry in 1..8 {
        for _ in 0..50 {
            assert!(o.backoff(retry) <= o.backoff_ceiling(retry));
        }
    }
    // Full jitter: over many draws some land in the lower half, and some are not zero.
    assert!((0..200).any(|_| o.backoff(3) < o.backoff_ceiling(3) / 2));
    assert!((0..200).any(|_| o.backoff(1) > Duration::ZERO));
}

#[test]
fn the_hint_wins_over_backoff_and_zero_means_backoff() {
    let o = RetryOptions {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
        ..RetryOptions::default()
    };
    let d = o.decide(1, Duration::ZERO, Some(Duration::from_secs(7)));
    assert_eq!(d, Decision::RetryAfter(Duration::from_secs(7)));
    // `Retry-After: 0` is no hint: the jittered backoff applies, so not every wait is zero.
    let waits: Vec<Duration> = (0..200)
        .map(
            |_| match o.decide(1, Duration::ZERO, Some(Duration::ZERO)) {
                Decision::RetryAfter(wait) => wait,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert!(waits.iter().all(|w| *w <= Duration::from_millis(10)));
    assert!(waits.iter().any(|w| *w > Duration::ZERO), "{waits:?}");
}

#[test]
fn a_hint_above_the_cap_is_reported_not_slept() {
    let o = RetryOptions::default();
    let d = o.decide(1, Duration::ZERO, Some(Duration::from_secs(3600)));
    assert_eq!(d, Decision::HintTooLong(Duration::from_secs(3600)));
    let d = o.decide(1, Duration::ZERO, Some(Duration::MAX));
    assert_eq!(d, Decision::HintTooLong(Duration::MAX));
}

#[test]
fn attempts_and_budget_end_retries() {
    let o = RetryOptions::default();
    assert_eq!(o.decide(4, Duration::ZERO, None), Decision::GiveUp);
    assert_eq!(
        o.decide(1, Duration::from_secs(89), Some(Duration::from_secs(2))),
        Decision::GiveUp
    );
    assert_eq!(
        RetryOptions::none().decide(1, Duration::ZERO, None),
        Decision::GiveUp
    );
}

#[test]
fn limits_at_their_maximum_do_not_overflow() {
    let o = RetryOptions {
        max_attempts: u32::MAX,
        initial_backoff: Duration::MAX,
        max_backoff: Duration::MAX,
        max_elapsed: Duration::MAX,
        max_retry_after: Duration::MAX,
        on_wait: None,
    };
    assert_eq!(
        o.decide(3, Duration::from_secs(5), Some(Duration::MAX)),
        Decision::GiveUp
    );
    let _ = o.backoff(u32::MAX);
}

#[tokio::test]
async fn run_repeats_until_the_classifier_calls_an_outcome_final() {
    let options = RetryOptions {
        max_attempts: 5,
        ..RetryOptions::default()
    };
    let ended = run(
        &options,
        &"counting",
        |n: &u32| {
            if *n < 3 {
                Verdict::Retry {
                    reason: "not yet",
                    hint: Some(Duration::from_millis(1)),
                }
            } else {
                Verdict::Final
            }
        },
        |n| async move { n },
    )
    .await;
    assert!(matches!(ended, Ended::Outcome(3)), "{ended:?}");
}

#[tokio::test]
async fn run_reports_a_hint_above_the_cap_with_the_outcome_that_carried_it() {
    let ended = run(
        &RetryOptions::default(),
        &"rate limited",
        |_: &u32| Verdict::Retry {
            reason: "rate limited",
            hint: Some(Duration::from_secs(3600)),
        },
        |n| async move { n },
    )
    .await;
    match ended {
        Ended::HintTooLong { outcome, wait } => {
            assert_eq!((outcome, wait), (1, Duration::from_secs(3600)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_repeatable_request_is_retried_on_any_server_error_and_never_on_a_client_error() {
    let headers = reqwest::header::HeaderMap::new();
    let retried = |method: &reqwest::Method, status: u16| {
        let status = reqwest::StatusCode::from_u16(status).unwrap();
        matches!(
            RepeatableRequest.classify_status(method, status, &headers),
            Verdict::Retry { .. }
        )
    };
    for status in [408, 429, 500, 502, 503, 504] {
        assert!(retried(&reqwest::Method::GET, status), "{status}");
        assert!(retried(&reqwest::Method::POST, status), "{status}");
    }
    for status in [200, 206, 304, 400, 401, 403, 404, 416] {
        assert!(!retried(&reqwest::Method::GET, status), "{status}");
    }
}

#[tokio::test]
async fn the_wait_observer_is_told_each_wait_with_its_reason_and_hint() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let options = RetryOptions {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
        on_wait: Some(WaitObserver::new(move |w| {
            record.lock().unwrap().push((
                w.subject.to_string(),
                w.next_attempt,
                w.wait,
                w.reason,
                w.hinted,
            ));
        })),
        ..RetryOptions::default()
    };
    let ended = run(
        &options,
        &"list",
        |n: &u32| {
            if *n < 3 {
                Verdict::Retry {
                    reason: "rate limited",
                    hint: (*n == 1).then_some(Duration::from_millis(5)),
                }
            } else {
                Verdict::Final
            }
        },
        |n| async move { n },
    )
    .await;
    assert!(matches!(ended, Ended::Outcome(3)));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0],
        (
            "list".to_owned(),
            2,
            Duration::from_millis(5),
            "rate limited",
            true
        )
    );
    assert_eq!(seen[1].1, 3);
    assert!(!seen[1].4, "a backoff wait is not hinted");
}
