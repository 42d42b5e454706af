//! The per-process locks that keep [`Client::get_or_start_export`](super::Client::get_or_start_export)
//! from starting the same export twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Identifies "the same export" for the per-process start lock.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StartKey {
    pub(super) i_model_id: String,
    pub(super) changeset_id: String,
    pub(super) export_type: String,
}

/// One lock per [`StartKey`], shared by the clones of a client.
#[derive(Default)]
pub(crate) struct StartLocks(Mutex<HashMap<StartKey, Arc<tokio::sync::Mutex<()>>>>);

impl StartLocks {
    /// The lock of `key`, made on first use.
    pub(super) fn lock_for(&self, key: &StartKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(key.clone()).or_default().clone()
    }

    /// Drops the lock's map entry once no other call holds or waits for it, so the map does
    /// not grow with every iModel ever exported.
    pub(super) fn release(&self, key: &StartKey, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Two references: the map's and ours.
        if Arc::strong_count(&lock) == 2 {
            locks.remove(key);
        }
    }
}
