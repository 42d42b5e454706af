//! The checksum a download records for each file: XXH3-128, written as 32 lower-case hex
//! digits in the canonical (big-endian) form, the form `xxhsum -H2` prints.
//!
//! It detects a file cut short, changed or corrupted on disk, which is what the manifest is
//! for. A cryptographic digest would protect nothing more: the manifest sits beside the files it
//! describes, so whoever can change a file can change its entry too. SHA-256 of every byte cost
//! about a third of the downloader's own (user-space) CPU time; XXH3 costs a few percent of
//! that.

use xxhash_rust::xxh3::Xxh3Default;

/// Bytes of a checksum.
pub(crate) const LEN: usize = 16;

/// A checksum being computed over a file's bytes, in order.
#[derive(Clone, Default)]
pub(crate) struct Checksum(Xxh3Default);

impl Checksum {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum of the bytes so far, in its canonical byte order.
    pub(crate) fn finish(&self) -> [u8; LEN] {
        self.0.digest128().to_be_bytes()
    }
}

/// The checksum of `bytes`, as the manifest writes it.
#[cfg(test)]
pub(crate) fn hex_of(bytes: &[u8]) -> String {
    let mut checksum = Checksum::new();
    checksum.update(bytes);
    hex::encode(checksum.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_implementation_in_canonical_form() {
        // Values from the `xxhash` reference implementation (`xxh3_128_hexdigest`).
        assert_eq!(hex_of(b""), "99aa06d3014798d86001c324468d497f");
        assert_eq!(hex_of(b"mesh-export"), "e2dce954d3c45f450531b6af07655cf7");
        let long: Vec<u8> = (0..=255u8).cycle().take(256_000).collect();
        assert_eq!(hex_of(&long), "548512d98989de2d776474c39d20f9aa");
    }

    #[test]
    fn pieces_give_the_checksum_of_the_whole() {
        let long: Vec<u8> = (0..=255u8).cycle().take(256_000).collect();
        let mut checksum = Checksum::new();
        for piece in long.chunks(7_919) {
            checksum.update(piece);
        }
        assert_eq!(hex::encode(checksum.finish()), hex_of(&long));
    }
}
