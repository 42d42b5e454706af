//! An error's text with every cause behind it, redacted: what error messages quote of a
//! lower-level failure.

use http_policy::redact::redact;

/// An error's message followed by each of its causes (`error sending request: client error
/// (Connect): tcp connect error: Connection refused`), so a DNS, TLS or refused connection is
/// named, not only "error sending request". Redacted, because a cause may quote a URL.
pub(crate) fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let part = next.to_string();
        // Some errors repeat their source in their own message.
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = next.source();
    }
    redact(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_cause_chain_names_every_cause_once_and_redacted() {
        let inner = Layer("tcp connect error: https://h/p?sig=SECRET refused", None);
        // The innermost cause, already quoted by the one above it, is not repeated.
        let repeating = Layer(
            "client error (Connect): tcp connect error: https://h/p?sig=SECRET refused",
            Some(Box::new(inner)),
        );
        let mid = Layer("client error (Connect)", Some(Box::new(repeating)));
        let outer = Layer("error sending request", Some(Box::new(mid)));

        assert_eq!(
            cause_chain(&outer),
            "error sending request: client error (Connect): client error (Connect): \
             tcp connect error: https://h/p?REDACTED refused"
        );
    }
}
