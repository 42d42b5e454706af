//! Deterministic filler bytes for fixtures: the same seed always gives the same content, so a
//! test can rebuild what a server sent and compare.

/// Deterministic filler bytes (an xorshift stream seeded by `seed`).
pub fn bytes(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}
