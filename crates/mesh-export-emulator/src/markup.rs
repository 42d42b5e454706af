//! Text placed inside the markup the emulator writes: the sign-in page's HTML and the
//! container listing's XML share the same five entities.

/// Text made safe inside an HTML or XML element or a quoted attribute: it can neither close
/// the attribute nor open a tag.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // `&apos;` is XML's, and HTML5 reads it too.
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escaped_text_cannot_close_an_attribute_or_open_a_tag() {
        assert_eq!(
            escape(r#""><script>x</script>&'"#),
            "&quot;&gt;&lt;script&gt;x&lt;/script&gt;&amp;&apos;"
        );
    }
}
