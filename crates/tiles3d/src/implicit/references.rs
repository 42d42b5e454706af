//! The references implicit tiling yields: the root subtree of an implicit root tile, and the
//! contents and child subtrees a read subtree makes available.

use std::sync::Arc;

use super::availability::{Availability, Bits};
use super::coord::TileCoord;
use super::pending::PendingSubtree;
use super::tiling::{ImplicitTiling, SubtreeContext};
use crate::reference::{FileKind, Reference, WalkError, Walked};

/// The most files one subtree may name. A subtree file of a hundred bytes can claim every
/// tile of twelve levels with constants; past this, it is refused rather than followed.
const MAX_SUBTREE_FILES: u64 = 1 << 20;

impl ImplicitTiling {
    /// The reference to the implicit root's own subtree, the one at level 0.
    pub fn root_subtree(self: &Arc<Self>) -> Reference {
        self.subtree_reference(TileCoord::ROOT)
    }

    /// The reference to the subtree file whose root tile is `root`.
    fn subtree_reference(self: &Arc<Self>, root: TileCoord) -> Reference {
        Reference {
            uri: self.subtrees.expand(root),
            base: Some(self.tileset.clone()),
            kind: Some(FileKind::Subtree(Arc::new(SubtreeContext::new(
                self.clone(),
                root,
            )))),
        }
    }
}

/// Lists the subtree's available contents and child subtrees. A tile counts only when its
/// parent does (a client never reaches it otherwise), and nothing at or beyond
/// `availableLevels` counts. A subtree naming more than `max_files` files is refused after
/// counting them, before any is listed: a hundred bytes can claim a million files.
pub(super) fn available(
    pending: &PendingSubtree,
    walked: &mut Walked,
    max_files: u64,
) -> Result<(), WalkError> {
    let bits = |availability: &Availability| match *availability {
        Availability::Constant(value) => Bits::Constant(value),
        Availability::Bitstream { view, .. } => Bits::Stream(
            pending.views[view]
                .as_deref()
                .expect("every availability view was read"),
        ),
    };
    let found = Found {
        pending,
        tiles: bits(&pending.parsed.tiles),
        contents: pending.parsed.contents.iter().map(bits).collect(),
        children: bits(&pending.parsed.children),
    };
    found.check_claim()?;
    let mut named = 0u64;
    found.each(|_| named += 1);
    if named > max_files {
        return Err(WalkError::TooManyFiles {
            uri: pending.subtree.to_string(),
            named,
            limit: max_files,
        });
    }
    let tiling = &pending.context.tiling;
    walked.references.reserve(named as usize);
    found.each(|file| {
        walked.references.push(match file {
            Available::Content(template, coord) => Reference {
                uri: tiling.contents[template].expand(coord),
                base: Some(tiling.tileset.clone()),
                kind: None,
            },
            Available::Subtree(coord) => tiling.subtree_reference(coord),
        });
    });
    Ok(())
}

/// A file a subtree makes available.
enum Available {
    /// The content of this template index at this tile.
    Content(usize, TileCoord),
    /// The child subtree rooted at this tile.
    Subtree(TileCoord),
}

/// A subtree's availability with its bits at hand.
struct Found<'a> {
    pending: &'a PendingSubtree,
    tiles: Bits<'a>,
    contents: Vec<Bits<'a>>,
    children: Bits<'a>,
}

impl Found<'_> {
    /// Refuses a subtree whose set bits (an upper bound of what it names: unreachable ones
    /// name nothing) claim more than one subtree may, before counting anything.
    fn check_claim(&self) -> Result<(), WalkError> {
        let tiling = &self.pending.context.tiling;
        let scheme = tiling.scheme;
        let (tile_bits, child_bits) = (
            scheme.tiles_in(tiling.subtree_levels),
            scheme.tiles_at(tiling.subtree_levels),
        );
        let tile_count = self.tiles.ones(tile_bits);
        let claimed = self
            .contents
            .iter()
            .map(|c| c.ones(tile_bits).min(tile_count))
            .sum::<u64>()
            + self.children.ones(child_bits);
        if claimed > MAX_SUBTREE_FILES {
            return Err(WalkError::unsupported(
                &self.pending.subtree,
                format!(
                    "names up to {claimed} files, more than the {MAX_SUBTREE_FILES} this \
                     reader follows from one subtree"
                ),
            ));
        }
        Ok(())
    }

    /// Calls `visit` with each available file, in level and Morton order, child subtrees
    /// last.
    fn each(&self, mut visit: impl FnMut(Available)) {
        let context = &self.pending.context;
        let tiling = &context.tiling;
        let scheme = tiling.scheme;
        let dims = scheme.dimensions();
        let root = context.root;
        let levels = tiling
            .subtree_levels
            .min(tiling.available_levels.saturating_sub(root.level));
        let mut parents: Vec<bool> = Vec::new();
        for level in 0..levels {
            let offset = scheme.tiles_in(level);
            let count = scheme.tiles_at(level);
            let mut here = vec![false; count as usize];
            for morton in 0..count {
                let reachable = level == 0 || parents[(morton >> dims) as usize];
                if !reachable || !self.tiles.get(offset + morton) {
                    continue;
                }
                here[morton as usize] = true;
                let coord = root.descendant(scheme, level, morton);
                for (template, content) in self.contents.iter().enumerate() {
                    if content.get(offset + morton) {
                        visit(Available::Content(template, coord));
                    }
                }
            }
            parents = here;
        }
        // Child subtrees start past this subtree's last level; when that is past
        // availableLevels there are none (and when this subtree is cut short by
        // availableLevels, it is).
        let deeper = root.level + tiling.subtree_levels;
        if deeper >= tiling.available_levels {
            return;
        }
        for morton in 0..scheme.tiles_at(tiling.subtree_levels) {
            if parents[(morton >> dims) as usize] && self.children.get(morton) {
                visit(Available::Subtree(root.descendant(
                    scheme,
                    tiling.subtree_levels,
                    morton,
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests;
