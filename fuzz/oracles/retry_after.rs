//! `Retry-After` values come from any server or gateway on the path. Whatever they hold,
//! parsing never panics, and the result agrees with an independent reading of RFC 9110
//! §10.2.3: delay seconds are exactly that many seconds, an HTTP-date is the time until it
//! (zero once past), and a number of seconds too large to represent is the longest wait, never
//! a short one or none.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_policy::retry::parse_retry_after;

/// The fixed clock the target measures dates against.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub fn check(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let now = now();
    let parsed = parse_retry_after(value, now);
    assert_eq!(
        parse_retry_after(value, now),
        parsed,
        "not deterministic for {value:?}"
    );
    let trimmed = value.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        match trimmed.parse::<u64>() {
            Ok(seconds) => assert_eq!(
                parsed,
                Some(Duration::from_secs(seconds)),
                "delay-seconds {value:?}"
            ),
            // More seconds than a u64 holds: the longest wait, never a short one or none.
            Err(_) => assert_eq!(parsed, Some(Duration::MAX), "{value:?}"),
        }
    } else if let Ok(date) = httpdate::parse_http_date(trimmed) {
        let expected = date.duration_since(now).unwrap_or(Duration::ZERO);
        assert_eq!(parsed, Some(expected), "HTTP-date {value:?}");
    } else if let Some(wait) = parsed {
        // A lenient reading of something else (fractional seconds) must be a number that the
        // text spells, never more than it.
        let number: f64 = trimmed.parse().unwrap_or_else(|_| {
            panic!("{value:?} is neither seconds, a date nor a number, yet read as {wait:?}")
        });
        assert!(number >= 0.0, "{value:?} read as {wait:?}");
        if number >= Duration::MAX.as_secs_f64() {
            // Longer than any wait can be: the longest, never a short one.
            assert_eq!(wait, Duration::MAX, "{value:?}");
        } else {
            let error = (wait.as_secs_f64() - number).abs();
            assert!(
                error <= 1e-6 * number.max(1.0),
                "{value:?} read as {wait:?}"
            );
        }
    }
}
