//! Run-time warnings for operations the spec marks deprecated.
//!
//! The table comes from the spec ([`mesh_export_client::DEPRECATED_OPERATIONS`]); nothing here
//! names an operation. The first call of each deprecated operation through a client (and its
//! clones) is reported once, as a `tracing` warning by default; each client reports to its own
//! handler.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use mesh_export_client::DeprecatedOperation;

/// What to do the first time a client calls a deprecated operation.
#[derive(Clone, Default)]
pub enum DeprecationWarnings {
    /// Emit one `tracing::warn!` (target `mesh_export::deprecation`) with the spec's note and
    /// replacement.
    #[default]
    Log,
    /// Say nothing.
    Silent,
    /// Call this function instead of logging.
    Handler(Arc<dyn Fn(&DeprecatedOperation) + Send + Sync>),
}

impl DeprecationWarnings {
    /// Routes warnings to `handler`.
    pub fn handler(handler: impl Fn(&DeprecatedOperation) + Send + Sync + 'static) -> Self {
        DeprecationWarnings::Handler(Arc::new(handler))
    }
}

impl fmt::Debug for DeprecationWarnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeprecationWarnings::Log => f.write_str("Log"),
            DeprecationWarnings::Silent => f.write_str("Silent"),
            DeprecationWarnings::Handler(_) => f.write_str("Handler(..)"),
        }
    }
}

/// A client's deprecation notices: what to do, and which operations it already reported.
pub(crate) struct Notices {
    warnings: DeprecationWarnings,
    /// One flag per entry of `DEPRECATED_OPERATIONS`, in its order.
    reported: Box<[AtomicBool]>,
}

impl fmt::Debug for Notices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.warnings.fmt(f)
    }
}

impl Notices {
    /// Nothing reported yet.
    pub(crate) fn new(warnings: DeprecationWarnings) -> Self {
        let reported = mesh_export_client::DEPRECATED_OPERATIONS
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect();
        Notices { warnings, reported }
    }

    /// Reports `operation_id` (a generated method name or spec operation id) if the spec marks
    /// it deprecated and this client has not reported it yet.
    pub(crate) fn notice(&self, operation_id: &str) {
        if matches!(self.warnings, DeprecationWarnings::Silent) {
            return;
        }
        let Some(index) = mesh_export_client::DEPRECATED_OPERATIONS
            .iter()
            .position(|op| op.operation_id == operation_id || op.method_name == operation_id)
        else {
            return;
        };
        if self.reported[index].swap(true, Ordering::Relaxed) {
            return;
        }
        let op = &mesh_export_client::DEPRECATED_OPERATIONS[index];
        match &self.warnings {
            DeprecationWarnings::Log => tracing::warn!(
                target: "mesh_export::deprecation",
                operation = op.operation_id,
                method = op.http_method,
                path = op.path,
                replacement = op.replacement.unwrap_or("none"),
                "deprecated operation called: {}",
                op.note
            ),
            DeprecationWarnings::Handler(handler) => handler(op),
            DeprecationWarnings::Silent => {}
        }
    }
}
