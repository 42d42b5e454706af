//! An independent statement of what a portable file name is: one that means the same single
//! file on Linux, macOS and Windows, so a name from the network cannot become another path.

/// Why `name` is not a portable path component, or `None` when it is.
pub fn problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("empty".to_owned());
    }
    if name == "." || name == ".." {
        return Some("a dot segment".to_owned());
    }
    if name.len() > 255 {
        return Some(format!("{} bytes long", name.len()));
    }
    if let Some(c) = name.chars().find(|c| {
        c.is_control() || matches!(c, '/' | '\\' | ':' | '<' | '>' | '"' | '|' | '?' | '*')
    }) {
        return Some(format!("contains {c:?}"));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("ends in a dot or a space (Windows drops them)".to_owned());
    }
    // Windows opens a device for these names, with any extension, in any case, and with
    // trailing spaces before the extension.
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_uppercase();
    let device = matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || ["COM", "LPT"].iter().any(|prefix| {
        upper.strip_prefix(prefix).is_some_and(|n| {
            matches!(
                n,
                "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
            )
        })
    });
    if device {
        return Some(format!("{stem} is a Windows device name"));
    }
    None
}

/// Panics unless every segment of `path` (a `/`-separated relative path) is portable.
pub fn assert_portable(path: &str, context: &str) {
    assert!(!path.starts_with('/'), "{context}: absolute path {path:?}");
    for segment in path.split('/') {
        if let Some(problem) = problem(segment) {
            panic!("{context}: {path:?} is not portable: {segment:?} {problem}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn the_oracle_knows_windows_rules() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "C:x",
            "x:stream",
            "NUL",
            "nul.glb",
            "COM1.json",
            "lpt9",
            "COM¹",
            "CON .txt",
            "x.",
            "x ",
            "a\u{7}",
            "<",
            "a?b",
            "a*b",
            "a|b",
            "a\"b",
        ] {
            assert!(problem(bad).is_some(), "{bad:?} passed");
        }
        for good in [
            "tileset.json",
            "0.glb",
            "a b.glb",
            "NULL.glb",
            "COM10",
            "con-x",
            ".hidden",
        ] {
            assert_eq!(problem(good), None, "{good:?}");
        }
    }
}
