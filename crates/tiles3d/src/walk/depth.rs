//! How deep JSON nests, counted as the parser reads it: a parser recurses once per array or
//! object, so the count stops a hostile file before its nesting reaches the stack.

use std::io::{self, Read};

/// A reader that fails once the JSON read through it opens more than `max` arrays and
/// objects at once, before the parser sees the one past the bound.
pub(crate) struct DepthGuard<R> {
    inner: R,
    max: u32,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Whether the bound was passed, so the caller can tell this from malformed JSON.
    pub(crate) exceeded: bool,
}

impl<R: Read> DepthGuard<R> {
    pub(crate) fn new(inner: R, max: u32) -> Self {
        DepthGuard {
            inner,
            max,
            depth: 0,
            in_string: false,
            escaped: false,
            exceeded: false,
        }
    }
}

impl<R: Read> Read for DepthGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.exceeded {
            return Err(io::Error::other("JSON nested too deep"));
        }
        let n = self.inner.read(buf)?;
        for (i, &byte) in buf[..n].iter().enumerate() {
            if self.in_string {
                match (self.escaped, byte) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > self.max {
                        self.exceeded = true;
                        // The bytes before this one are handed on; the parser meets the
                        // error on its next read, before it opens this container.
                        return if i > 0 {
                            Ok(i)
                        } else {
                            Err(io::Error::other("JSON nested too deep"))
                        };
                    }
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(json: &[u8], max: u32) -> (io::Result<Vec<u8>>, bool) {
        let mut guard = DepthGuard::new(json, max);
        let mut out = Vec::new();
        let result = guard.read_to_end(&mut out).map(|_| out);
        (result, guard.exceeded)
    }

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        let json = br#"{"a": [{"b": "[[[{{\"[["}]}"#;
        let (read, exceeded) = read_all(json, 3);
        assert_eq!(read.unwrap(), json);
        assert!(!exceeded);
        let (read, exceeded) = read_all(json, 2);
        assert!(read.is_err() && exceeded);
        let (read, exceeded) = read_all(b"[[],[],[[]]]", 3);
        assert!(read.is_ok() && !exceeded);
    }

    #[test]
    fn an_escape_in_a_string_does_not_hide_the_nesting_after_it() {
        // The character after a backslash is taken literally, and only that one: were the
        // escape to last, the string would never end and nesting after it would go uncounted.
        let json = br#"{"a": "x\"y", "b": [[[[]]]]}"#;
        let (read, exceeded) = read_all(json, 3);
        assert!(read.is_err() && exceeded, "{read:?}");
    }
}
