//! Lines on stderr that keep clear of the spinner or bar being drawn there, and the retry waits
//! announced on them.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::ProgressBar;
use mesh_export::retry::{RetryWait, WaitObserver};

use super::units::duration;

/// The bar drawn on stderr now, if any: a line printed meanwhile goes above it.
static DRAWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Waits up to this long pass without a word: a person notices a longer silence.
const SILENCE: Duration = Duration::from_secs(2);

/// Records `bar` as the one drawn on stderr.
pub(super) fn drawing(bar: &ProgressBar) {
    *DRAWN.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
}

/// No bar is drawn any more.
pub(super) fn not_drawing() {
    DRAWN.lock().unwrap_or_else(|p| p.into_inner()).take();
}

/// Clears whatever bar is drawn, before an interruption is reported.
pub fn clear_drawn() {
    if let Some(bar) = DRAWN.lock().unwrap_or_else(|p| p.into_inner()).take() {
        bar.finish_and_clear();
    }
}

/// Prints `text` as a line of its own on stderr, above any bar.
pub fn line(text: &str) {
    let drawn = DRAWN.lock().unwrap_or_else(|p| p.into_inner());
    match drawn.as_ref() {
        Some(bar) => bar.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

/// What a retry wait is announced with.
pub fn retry_wait_text(wait: &RetryWait<'_>) -> String {
    let why = if wait.hinted {
        " (the service asked for it with Retry-After)"
    } else {
        ""
    };
    format!(
        "{}: waiting {}{why} before attempt {} of {}",
        wait.reason,
        duration(wait.wait),
        wait.next_attempt,
        wait.subject
    )
}

/// An observer that announces every retry wait longer than two seconds on stderr.
pub fn announce_retry_waits() -> WaitObserver {
    WaitObserver::new(|wait| {
        if wait.wait > SILENCE {
            line(&retry_wait_text(wait));
        }
    })
}
