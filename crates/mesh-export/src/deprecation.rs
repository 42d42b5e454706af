//! Run-time warnings for operations the spec marks deprecated.
//!
//! The table comes from the spec ([`mesh_export_client::DEPRECATED_OPERATIONS`]); nothing here
//! names an operation. The first call of each deprecated operation in a process is reported
//! once, as a `tracing` warning by default.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

pub use mesh_export_client::DeprecatedOperation;

/// What to do the first time a process calls a deprecated operation.
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

/// Operations already reported in this process.
static REPORTED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// Reports `operation_id` (a generated method name or spec operation id) if the spec marks it
/// deprecated and this process has not reported it yet.
pub(crate) fn notice(operation_id: &str, warnings: &DeprecationWarnings) {
    if matches!(warnings, DeprecationWarnings::Silent) {
        return;
    }
    let Some(op) = mesh_export_client::deprecated_operation(operation_id) else {
        return;
    };
    {
        let mut reported = REPORTED.lock().unwrap_or_else(|p| p.into_inner());
        if !reported
            .get_or_insert_with(HashSet::new)
            .insert(op.operation_id)
        {
            return;
        }
    }
    match warnings {
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
