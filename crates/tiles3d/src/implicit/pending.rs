//! The state a subtree carries while its availability waits in external buffers.

use std::sync::Arc;

use super::document::Parsed;
use super::tiling::SubtreeContext;
use crate::TilePath;

/// A subtree whose availability lies (partly) in external buffers, waiting for them: each is
/// fetched in turn, carrying this along, and the last one yields the subtree's files.
#[derive(Debug)]
pub struct PendingSubtree {
    pub(super) context: Arc<SubtreeContext>,
    /// The subtree file, which buffer URIs are relative to.
    pub(super) subtree: Arc<TilePath>,
    pub(super) parsed: Arc<Parsed>,
    /// The availability bytes read so far, by buffer view.
    pub(super) views: Vec<Option<Arc<[u8]>>>,
    /// The external buffers still to read, the first one being fetched now.
    pub(super) waiting: Vec<ExternalBuffer>,
}

impl PartialEq for PendingSubtree {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for PendingSubtree {}

/// One external buffer file and the buffers (by index) that name it.
#[derive(Debug, Clone)]
pub(super) struct ExternalBuffer {
    pub(super) uri: String,
    pub(super) buffers: Vec<usize>,
}
