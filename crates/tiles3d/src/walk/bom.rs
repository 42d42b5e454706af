//! The UTF-8 byte order mark some writers put before JSON, which its readers skip.

use std::io::Read;

/// The UTF-8 byte order mark, which JSON parsers may ignore and some writers put first.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `reader` without a leading [`BOM`].
pub(crate) fn skip<R: Read>(mut reader: R) -> std::io::Result<impl Read> {
    let mut head = Vec::with_capacity(BOM.len());
    (&mut reader)
        .take(BOM.len() as u64)
        .read_to_end(&mut head)?;
    if head == BOM {
        head.clear();
    }
    Ok(std::io::Cursor::new(head).chain(reader))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    #[test]
    fn a_leading_byte_order_mark_is_skipped_and_nothing_else() {
        let read = |bytes: &[u8]| {
            let mut out = Vec::new();
            super::skip(bytes).unwrap().read_to_end(&mut out).unwrap();
            out
        };
        assert_eq!(read(b"\xEF\xBB\xBF{}"), b"{}");
        assert_eq!(read(b"{}"), b"{}");
        assert_eq!(read(b"\xEF\xBB"), b"\xEF\xBB");
        assert_eq!(read(b""), b"");
    }
}
