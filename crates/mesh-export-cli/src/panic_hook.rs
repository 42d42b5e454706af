//! What a panic prints: a panic's message may quote a URL or a server's text (an `expect` on a
//! response), so it goes through the one redactor like every other text the tool shows.

use std::backtrace::{Backtrace, BacktraceStatus};

/// Replaces the default panic hook with one that prints the panic redacted (and its backtrace,
/// when `RUST_BACKTRACE` asks for one, redacted too).
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("{}", report(&info.to_string(), &Backtrace::capture()));
    }));
}

/// The text printed for a panic described by `panic` (its location and message).
fn report(panic: &str, backtrace: &Backtrace) -> String {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("<unnamed>");
    let mut text = format!("thread '{name}' {}", http_policy::redact::redact(panic));
    if backtrace.status() == BacktraceStatus::Captured {
        text.push('\n');
        text.push_str(&http_policy::redact::redact(&backtrace.to_string()));
    } else {
        text.push_str("\nnote: run with `RUST_BACKTRACE=1` to display a backtrace");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_reported_without_the_signature_or_credential_it_quotes() {
        let credential: std::sync::Arc<str> = "Hunter2-in-a-panic-message".into();
        http_policy::redact::remember_secret(&credential);
        let panic = "panicked at src/x.rs:1:2:\nGET https://h/t.glb?sv=1&sig=SECRET7 failed \
                     for client_secret Hunter2-in-a-panic-message";
        let text = report(panic, &Backtrace::disabled());
        assert!(text.starts_with("thread '"), "{text}");
        assert!(text.contains("panicked at src/x.rs:1:2"), "{text}");
        assert!(!text.contains("SECRET7"), "{text}");
        assert!(!text.contains("Hunter2"), "{text}");
        drop(credential);
    }
}
