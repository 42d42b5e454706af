//! Single byte ranges of a `Range` header.

use axum::http::{HeaderMap, header};

/// A single byte range from a `Range` header, or `None` to serve the whole file. Headers this
/// does not understand (several ranges, other units, bad syntax) are ignored, as RFC 9110 allows.
pub(crate) enum RangeRequest {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

pub(crate) fn parse_range(headers: &HeaderMap, len: u64) -> RangeRequest {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangeRequest::Whole;
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        // Suffix range: the last N bytes.
        return match end.parse::<u64>() {
            Ok(0) => RangeRequest::Unsatisfiable,
            Ok(_) if len == 0 => RangeRequest::Unsatisfiable,
            Ok(n) => RangeRequest::Part(len.saturating_sub(n), len - 1),
            Err(_) => RangeRequest::Whole,
        };
    }
    let Ok(first) = start.parse::<u64>() else {
        return RangeRequest::Whole;
    };
    let last = if end.is_empty() {
        u64::MAX
    } else {
        match end.parse::<u64>() {
            Ok(last) if last >= first => last,
            _ => return RangeRequest::Whole,
        }
    };
    if first >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part(first, last.min(len - 1))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn range(value: &str, len: u64) -> Option<(u64, u64)> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        match parse_range(&headers, len) {
            RangeRequest::Part(a, b) => Some((a, b)),
            RangeRequest::Whole => None,
            RangeRequest::Unsatisfiable => Some((u64::MAX, u64::MAX)),
        }
    }

    #[test]
    fn parses_single_byte_ranges() {
        assert_eq!(range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(range("bytes=100-", 100), Some((u64::MAX, u64::MAX)));
        assert_eq!(range("bytes=0-1,5-6", 100), None);
        assert_eq!(range("items=0-1", 100), None);
        assert_eq!(range("bytes=9-1", 100), None);
    }
}
