//! A gzip body decoded on its way to disk, within bounds: a megabyte of gzip can decode to a
//! gigabyte, and a file that claims to be a tile must not fill the disk.

use std::io::{ErrorKind, Write};

use flate2::write::MultiGzDecoder;

use super::WriteFailure;
use super::sink::Sink;
use crate::errors::FileError;

/// Decoded bytes a gzip body may always have before its expansion is judged: small files of
/// repeated values compress far better than large ones.
const RATIO_FREE: u64 = 1024 * 1024;

/// How far a gzip body may decode: [`DownloadOptions::max_decoded_bytes`] and
/// [`DownloadOptions::max_expansion`](crate::DownloadOptions::max_expansion).
///
/// [`DownloadOptions::max_decoded_bytes`]: crate::DownloadOptions::max_decoded_bytes
#[derive(Debug, Clone, Copy)]
pub(crate) struct GzipBound {
    pub(crate) max_decoded_bytes: u64,
    pub(crate) max_expansion: u64,
}

impl GzipBound {
    /// Why `decoded` bytes from `encoded` pass the bound, if they do.
    fn passed(&self, encoded: u64, decoded: u64) -> Option<String> {
        if decoded > self.max_decoded_bytes {
            return Some(format!(
                "decodes to more than {} bytes, the most a file may have; raise \
                 DownloadOptions::max_decoded_bytes if the file is genuine",
                self.max_decoded_bytes
            ));
        }
        if decoded > RATIO_FREE && decoded > encoded.saturating_mul(self.max_expansion) {
            return Some(format!(
                "expands more than {}:1 ({decoded} bytes from {encoded}); raise \
                 DownloadOptions::max_expansion if the file is genuine",
                self.max_expansion
            ));
        }
        None
    }
}

/// A gzip decoder into a [`Sink`] that stops as soon as its output passes the bound: each
/// write hands the decoder only what it takes at once, so output overshoots the bound by at
/// most the decoder's buffer.
pub(super) struct Gunzip {
    decoder: MultiGzDecoder<Sink>,
    encoded: u64,
    bound: GzipBound,
}

impl Gunzip {
    pub(super) fn new(sink: Sink, bound: GzipBound) -> Self {
        Gunzip {
            decoder: MultiGzDecoder::new(sink),
            encoded: 0,
            bound,
        }
    }

    /// Decodes `chunk` of the body into the sink.
    pub(super) fn feed(&mut self, mut chunk: &[u8]) -> Result<(), WriteFailure> {
        while !chunk.is_empty() {
            let taken = match self.decoder.write(chunk) {
                Ok(0) => return Err(WriteFailure::Io(ErrorKind::WriteZero.into())),
                Ok(taken) => taken,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(decoding_failure(e)),
            };
            self.encoded += taken as u64;
            chunk = &chunk[taken..];
            self.check()?;
        }
        Ok(())
    }

    /// Ends a stream whose input is all fed: a stream cut short is corrupt.
    pub(super) fn finish(mut self) -> Result<Sink, WriteFailure> {
        self.decoder.try_finish().map_err(corrupt_gzip)?;
        self.check()?;
        self.decoder.finish().map_err(corrupt_gzip)
    }

    fn check(&self) -> Result<(), WriteFailure> {
        match self.bound.passed(self.encoded, self.decoder.get_ref().size) {
            Some(reason) => Err(WriteFailure::Bound(FileError::GzipBound { reason })),
            None => Ok(()),
        }
    }
}

/// A gzip stream that is not one.
fn corrupt_gzip(error: std::io::Error) -> WriteFailure {
    WriteFailure::Content(FileError::Corrupt {
        kind: "gzip stream",
        reason: error.to_string(),
    })
}

/// A failed write through the decoder (or the plain file behind it): the decoder reports bad
/// input as `InvalidInput`/`InvalidData`, the disk anything else.
fn decoding_failure(error: std::io::Error) -> WriteFailure {
    match error.kind() {
        ErrorKind::InvalidInput | ErrorKind::InvalidData => corrupt_gzip(error),
        _ => WriteFailure::Io(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_body_may_expand_freely_to_a_mebibyte_then_by_the_ratio_and_never_past_the_size() {
        let bound = GzipBound {
            max_decoded_bytes: 10 * RATIO_FREE,
            max_expansion: 100,
        };
        assert_eq!(bound.passed(10, RATIO_FREE), None);
        assert_eq!(bound.passed(RATIO_FREE / 100 + 1, RATIO_FREE + 1), None);
        let ratio = bound.passed(RATIO_FREE / 100, RATIO_FREE + 1).unwrap();
        assert!(ratio.contains("more than 100:1"), "{ratio}");
        assert!(ratio.contains("DownloadOptions::max_expansion"), "{ratio}");
        let size = bound.passed(RATIO_FREE, 10 * RATIO_FREE + 1).unwrap();
        assert!(
            size.contains("DownloadOptions::max_decoded_bytes"),
            "{size}"
        );
    }

    #[test]
    fn a_gzip_body_exactly_at_the_size_or_the_ratio_passes() {
        let bound = GzipBound {
            max_decoded_bytes: 10 * RATIO_FREE,
            max_expansion: 100,
        };
        assert_eq!(bound.passed(RATIO_FREE, 10 * RATIO_FREE), None);
        let encoded = RATIO_FREE / 100 + 1;
        assert_eq!(bound.passed(encoded, encoded * 100), None);
        assert!(bound.passed(encoded, encoded * 100 + 1).is_some());
    }
}
