use super::*;

#[test]
fn signatures_are_redacted_in_quoted_header_json_and_encoded_forms() {
    for text in [
        r#"Signature="SECRET5""#,
        r#"{"sig": "SECRET5"}"#,
        "x-amz-security-token: SECRET5",
        "x-amz-security-token:SECRET5",
        "/c/x%3Fsv%3D1%26sig%253DSECRET5",
        r"x.glb?sv=1\u0026sig\u003dSECRET5",
        "sig = SECRET5",
    ] {
        let shown = redact(text);
        assert!(!shown.contains("SECRET5"), "{text} -> {shown}");
    }
    // Words that merely contain a parameter's name stay as they are.
    assert_eq!(redact("a signature mismatch"), "a signature mismatch");
}

#[test]
fn redaction_cuts_queries_and_signature_values_in_any_text() {
    let text = "é sig=ü€SECRET1 ñ https://h/p?x=SECRET2#frag \
                {\"u\":\"https:\\/\\/h\\/p?token=SECRET3\"} \
                X-Goog-Signature%3DSECRET4%26next=1";
    let redacted = redact(text);
    for secret in ["SECRET1", "SECRET2", "SECRET3", "SECRET4"] {
        assert!(!redacted.contains(secret), "{secret}: {redacted}");
    }
    assert!(
        redacted.starts_with("é sig=REDACTED ñ https://h/p?REDACTED#frag"),
        "{redacted}"
    );
    assert!(redacted.ends_with("%26next=1"), "{redacted}");
    // Text without a signature is kept as it is.
    assert_eq!(
        redact("HTTP 500: the signing service is down"),
        "HTTP 500: the signing service is down"
    );
}

#[test]
fn an_empty_signature_value_is_left_as_it_is() {
    assert_eq!(redact_parameters("a?sig=&b=1"), "a?sig=&b=1");
}

#[test]
fn links_and_urls_in_messages_lose_their_query() {
    assert_eq!(
        redact_link("https://elsewhere.example/page?sig=SECRET&x=1"),
        "https://elsewhere.example/page"
    );
    assert_eq!(redact_link("not a url at all"), "not a url at all");
    let url = url::Url::parse("https://h.example/a/b?sig=SECRET").unwrap();
    assert_eq!(redact_url(&url), "https://h.example/a/b?REDACTED");
    let plain = url::Url::parse("https://h.example/a/b").unwrap();
    assert_eq!(redact_url(&plain), "https://h.example/a/b");
}

#[test]
fn the_values_of_credentials_in_use_are_removed_while_they_are_held() {
    let secret: std::sync::Arc<str> = "Hunter2-client-secret!".into();
    let echo = "invalid_client (client_secret 'Hunter2-client-secret!' does not match)";
    assert!(redact(echo).contains("Hunter2"), "not yet known");
    remember_secret(&secret);
    let shown = redact(&format!(
        "{echo} client_secret=Hunter2-client-secret%21&x=1"
    ));
    assert!(!shown.contains("Hunter2"), "{shown}");
    assert!(
        shown.contains("client_secret 'REDACTED' does not match"),
        "{shown}"
    );
    // Forgotten with its last holder.
    drop(secret);
    assert!(redact(echo).contains("Hunter2"));
}

#[test]
fn values_too_short_to_be_credentials_are_not_removed() {
    let short: std::sync::Arc<str> = "a1".into();
    remember_secret(&short);
    assert_eq!(redact("a1 b2 a1"), "a1 b2 a1");
}

#[test]
fn quotes_are_redacted_then_capped() {
    let data_uri = format!(
        "data:application/octet-stream;base64,{}",
        "A".repeat(4 << 20)
    );
    let shown = quote(&data_uri);
    assert!(shown.len() < QUOTE_CHARS + 64, "{} bytes", shown.len());
    assert!(shown.ends_with(&format!(
        "... ({} more characters)",
        data_uri.len() - QUOTE_CHARS
    )));
    let template = "s/{level}/{x}/{y}/{w}.subtree?sv=1&sig=SECRET9";
    assert_eq!(
        quote(template),
        "s/{level}/{x}/{y}/{w}.subtree?sv=1&sig=REDACTED"
    );
    // A signature straddling the cut is redacted before the cut, never half shown.
    let long = format!("{}sig=SECRETSECRETSECRET", "x".repeat(QUOTE_CHARS - 6));
    assert!(!quote(&long).contains("SECRET"), "{}", quote(&long));
}

#[test]
fn quoted_text_cannot_drive_the_terminal() {
    let shown = quote("access_denied \u{1b}]0;title\u{7}\u{1b}[31mred\r\u{9b}2J\nline\ttab");
    assert!(
        !shown
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{shown:?}"
    );
    assert_eq!(
        shown,
        "access_denied \\u{1b}]0;title\\u{7}\\u{1b}[31mred\\r\\u{9b}2J\nline\ttab"
    );
}

#[test]
fn a_link_of_a_megabyte_is_shown_capped() {
    let href = format!(
        "https://elsewhere.example/{}?sig=SECRET6",
        "p/".repeat(1 << 19)
    );
    let shown = redact_link(&href);
    assert!(shown.len() < QUOTE_CHARS + 64, "{} bytes", shown.len());
    assert!(
        shown.starts_with("https://elsewhere.example/p/p/"),
        "{shown}"
    );
}

#[test]
fn a_credential_echoed_json_escaped_is_removed_too() {
    let secret: std::sync::Arc<str> = r#"Hunter2"quoted\slash/"#.into();
    remember_secret(&secret);
    let body = r#"{"message":"client_secret \"Hunter2\"quoted\\slash\/\" rejected"} also Hunter2\"quoted\\slash/"#;
    let shown = redact(body);
    assert!(!shown.contains("Hunter2"), "{shown}");
    drop(secret);
}

#[test]
fn credentials_in_the_authority_of_a_url_in_free_text_are_removed() {
    for text in [
        "refused `https://user:AAB6password@h.example/x.glb` named in tileset.json",
        "see http://AAB6password@h.example/",
        r#"{"u":"https:\/\/user:AAB6password@h.example\/x"}"#,
    ] {
        let shown = redact(text);
        assert!(!shown.contains("AAB6password"), "{text} -> {shown}");
        assert!(shown.contains("REDACTED@h.example"), "{text} -> {shown}");
    }
    // An `@` past the authority is part of the path or the query, not a credential.
    assert_eq!(
        redact("https://h.example/a@b/c.glb"),
        "https://h.example/a@b/c.glb"
    );
}

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

#[test]
fn every_credential_remembered_is_removed_however_many_and_from_the_minimum_length() {
    let first: std::sync::Arc<str> = "first-credential-Q7".into();
    let second: std::sync::Arc<str> = "second-credential-Z4".into();
    let shortest: std::sync::Arc<str> = "k".repeat(MIN_SECRET_CHARS).into();
    remember_secret(&first);
    remember_secret(&second);
    remember_secret(&shortest);
    let shown = redact(&format!("{first} {second} ({shortest})"));
    assert_eq!(shown, "REDACTED REDACTED (REDACTED)");
}
