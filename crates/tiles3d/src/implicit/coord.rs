//! Tile coordinates of an implicit tree and the Morton order that lays them out.
//!
//! Availability bitstreams list a subtree's tiles level by level, each level in Morton order
//! (bits of `x`, `y`[, `z`] interleaved); this is where an index in them becomes a tile.

/// How an implicit tree divides a tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubdivisionScheme {
    /// Four children per tile, halving `x` and `y`.
    Quadtree,
    /// Eight children per tile, halving `x`, `y` and `z`.
    Octree,
}

impl SubdivisionScheme {
    /// Coordinates interleaved in a Morton index: 2 or 3.
    pub(super) fn dimensions(self) -> u32 {
        match self {
            Self::Quadtree => 2,
            Self::Octree => 3,
        }
    }

    /// Children per tile: 4 or 8.
    pub(super) fn branching(self) -> u64 {
        1 << self.dimensions()
    }

    /// Tiles at `depth` below one tile: `N^depth`.
    pub(super) fn tiles_at(self, depth: u32) -> u64 {
        1 << (self.dimensions() * depth)
    }

    /// Tiles in a subtree of `levels` levels: `(N^levels - 1) / (N - 1)`.
    pub(super) fn tiles_in(self, levels: u32) -> u64 {
        (self.tiles_at(levels) - 1) / (self.branching() - 1)
    }
}

/// A tile of an implicit tree: its level (0 at the implicit root) and its place in that level.
/// `z` is always 0 in a quadtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileCoord {
    /// Depth below the implicit root.
    pub level: u32,
    /// Column.
    pub x: u64,
    /// Row.
    pub y: u64,
    /// Layer (octrees only).
    pub z: u64,
}

impl TileCoord {
    /// The implicit root tile.
    pub const ROOT: TileCoord = TileCoord {
        level: 0,
        x: 0,
        y: 0,
        z: 0,
    };

    /// The descendant `depth` levels below this tile with the Morton index `morton` relative
    /// to it (bits interleaved `x`, `y`[, `z`] from the least significant).
    pub(super) fn descendant(
        self,
        scheme: SubdivisionScheme,
        depth: u32,
        morton: u64,
    ) -> TileCoord {
        let dims = scheme.dimensions();
        let mut local = [0u64; 3];
        for bit in 0..depth {
            for (axis, coord) in local.iter_mut().enumerate().take(dims as usize) {
                *coord |= ((morton >> (bit * dims + axis as u32)) & 1) << bit;
            }
        }
        TileCoord {
            level: self.level + depth,
            x: (self.x << depth) | local[0],
            y: (self.y << depth) | local[1],
            z: if dims == 3 {
                (self.z << depth) | local[2]
            } else {
                0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::implicit::testing::coord;

    #[test]
    fn morton_indices_interleave_as_the_specification_shows() {
        let q = SubdivisionScheme::Quadtree;
        let o = SubdivisionScheme::Octree;
        // interleaveBits(0b11, 0b00) = 0b0101 and friends, from Appendix A.
        assert_eq!(
            TileCoord::ROOT.descendant(q, 2, 0b0101),
            coord(2, 0b11, 0b00, 0)
        );
        assert_eq!(
            TileCoord::ROOT.descendant(q, 4, 0b0100_1110),
            coord(4, 0b1010, 0b0011, 0)
        );
        assert_eq!(
            TileCoord::ROOT.descendant(q, 4, 0b0011_0110),
            coord(4, 0b0110, 0b0101, 0)
        );
        assert_eq!(
            TileCoord::ROOT.descendant(o, 3, 0b1_0001_0001),
            coord(3, 0b001, 0b010, 0b100)
        );
        assert_eq!(
            TileCoord::ROOT.descendant(o, 3, 0b1_0110_1101),
            coord(3, 0b111, 0b000, 0b111)
        );
        // Below a subtree root, local coordinates append to the root's, on every axis.
        assert_eq!(coord(2, 3, 2, 0).descendant(q, 1, 0b10), coord(3, 6, 5, 0));
        assert_eq!(
            coord(1, 1, 0, 1).descendant(o, 2, 0b10_1101),
            coord(3, 0b111, 0b000, 0b111)
        );
        assert_eq!(q.tiles_in(3), 21);
        assert_eq!(o.tiles_in(2), 9);
    }
}
