//! Reads an OpenAPI 3.0 definition from a file or an http(s) URL.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use openapiv3::OpenAPI;

/// The largest definition accepted, so a hostile or broken server cannot exhaust memory.
pub const MAX_SPEC_BYTES: u64 = 16 * 1024 * 1024;

/// How long a download of a definition may take in all.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads `source` (a file path or an `http://` / `https://` URL) and parses it as OpenAPI 3.0.
///
/// The error names the source without any user info, query or fragment of a URL, which may
/// carry credentials.
pub fn load(source: &str) -> Result<OpenAPI, String> {
    let shown = display_name(source);
    let text = if is_http_url(source) {
        fetch(source, &shown)?
    } else if let Some((scheme, _)) = source.split_once("://") {
        return Err(format!(
            "{shown}: unsupported URL scheme `{scheme}`; give a file path or an http(s) URL"
        ));
    } else {
        read_file(Path::new(source))?
    };
    parse(&text, &shown)
}

/// Parses YAML or JSON text as an OpenAPI 3.0.x document.
pub fn parse(text: &str, shown: &str) -> Result<OpenAPI, String> {
    let value: serde_json::Value = serde_norway::from_str(text)
        .map_err(|e| format!("{shown} is neither YAML nor JSON: {e}"))?;
    let Some(document) = value.as_object() else {
        return Err(format!(
            "{shown} is not an OpenAPI document (not a mapping)"
        ));
    };
    match document.get("openapi").and_then(|v| v.as_str()) {
        Some(version) if version.starts_with("3.0.") => {}
        Some(version) => {
            return Err(format!(
                "{shown} is OpenAPI {version}; only OpenAPI 3.0.x is supported"
            ));
        }
        None if document.contains_key("swagger") => {
            return Err(format!(
                "{shown} is a Swagger 2.0 document; only OpenAPI 3.0.x is supported"
            ));
        }
        None => {
            return Err(format!(
                "{shown} is not an OpenAPI document (no `openapi` version field)"
            ));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| format!("{shown} is not a valid OpenAPI 3.0 document: {e}"))
}

fn is_http_url(source: &str) -> bool {
    let lower = source.get(..8).unwrap_or(source).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// `source` as it may appear in messages: a URL loses its user info, query and fragment.
pub fn display_name(source: &str) -> String {
    if !is_http_url(source) {
        return source.to_owned();
    }
    match url::Url::parse(source) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        // An unparsable URL is shown only up to its first character that may start secrets.
        Err(_) => source
            .split(['?', '#', '@'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

fn read_file(path: &Path) -> Result<String, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    read_limited(file, &path.display().to_string())
}

fn fetch(source: &str, shown: &str) -> Result<String, String> {
    let url = url::Url::parse(source).map_err(|e| format!("{shown} is not a valid URL: {e}"))?;
    let client = reqwest::blocking::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("mesh-export-xtask/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let response = client
        .get(url)
        .send()
        .map_err(|e| format!("cannot fetch {shown}: {}", e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("cannot fetch {shown}: HTTP {status}"));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_SPEC_BYTES)
    {
        return Err(format!(
            "{shown} is larger than {MAX_SPEC_BYTES} bytes; not a definition"
        ));
    }
    read_limited(response, shown)
}

fn read_limited(reader: impl Read, shown: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(format!(
            "{shown} is larger than {MAX_SPEC_BYTES} bytes; not a definition"
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials_query_or_fragment() {
        assert_eq!(
            display_name("https://user:secret@example.com/spec.yaml?sig=abc#x"),
            "https://example.com/spec.yaml"
        );
        assert_eq!(display_name("spec/openapi.yaml"), "spec/openapi.yaml");
    }
}
