//! Availability: whether a tile, a content or a child subtree exists, given as one constant
//! for a whole subtree or as an LSB-first bitstream in Morton order, level by level.

/// Where a subtree keeps one availability.
#[derive(Debug, Clone, Copy)]
pub(super) enum Availability {
    /// The same answer for every tile.
    Constant(bool),
    /// A bitstream in this buffer view, of which the first `bytes` are read.
    Bitstream { view: usize, bytes: u64 },
}

/// Availability with its bytes at hand.
pub(super) enum Bits<'a> {
    /// The same bit at every index.
    Constant(bool),
    /// The bytes of a bitstream, at least as many as are asked about.
    Stream(&'a [u8]),
}

impl Bits<'_> {
    /// How many of the first `len` bits are set.
    pub(super) fn ones(&self, len: u64) -> u64 {
        match self {
            Bits::Constant(true) => len,
            Bits::Constant(false) => 0,
            Bits::Stream(bytes) => {
                let whole = (len / 8) as usize;
                let full: u64 = bytes[..whole]
                    .iter()
                    .map(|b| u64::from(b.count_ones()))
                    .sum();
                let rest = len % 8;
                let tail = if rest == 0 {
                    0
                } else {
                    u64::from((bytes[whole] & ((1u8 << rest) - 1)).count_ones())
                };
                full + tail
            }
        }
    }

    /// Whether bit `index` is set.
    pub(super) fn get(&self, index: u64) -> bool {
        match self {
            Bits::Constant(value) => *value,
            // LSB first: bit i is bit (i mod 8) of byte (i div 8).
            Bits::Stream(bytes) => (bytes[(index / 8) as usize] >> (index % 8)) & 1 == 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_count_and_read_lsb_first() {
        let stream = Bits::Stream(&[0b1010_0101, 0xFF]);
        assert_eq!(stream.ones(5), 2);
        assert_eq!(stream.ones(8), 4);
        assert_eq!(stream.ones(13), 9);
        assert!(stream.get(0) && !stream.get(1) && stream.get(2) && stream.get(7));
        assert_eq!(Bits::Constant(true).ones(21), 21);
        assert_eq!(Bits::Constant(false).ones(21), 0);
    }
}
