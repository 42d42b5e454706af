//! What the spec says about deprecated operations, for warnings at run time.

/// An operation the spec marks `deprecated: true`. The table of them,
/// [`DEPRECATED_OPERATIONS`](crate::DEPRECATED_OPERATIONS), is generated from the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeprecatedOperation {
    /// The spec's `operationId`, e.g. `get-export`.
    pub operation_id: &'static str,
    /// The name of the generated method, which is also [`OperationInfo::operation_id`](crate::OperationInfo).
    pub method_name: &'static str,
    /// The HTTP method.
    pub http_method: &'static str,
    /// The path, relative to the service root.
    pub path: &'static str,
    /// Why the operation is deprecated.
    pub note: &'static str,
    /// The `operationId` to use instead, when the spec names one.
    pub replacement: Option<&'static str>,
}

/// The deprecation entry for an operation, looked up by its spec `operationId` or by the generated
/// method's name (what [`OperationInfo`](crate::OperationInfo) carries).
///
/// ```
/// let entry = mesh_export_client::deprecated_operation("get_export").unwrap();
/// assert_eq!(entry.operation_id, "get-export");
/// assert!(mesh_export_client::deprecated_operation("get_exports").is_none());
/// ```
pub fn deprecated_operation(id: &str) -> Option<&'static DeprecatedOperation> {
    crate::DEPRECATED_OPERATIONS
        .iter()
        .find(|op| op.operation_id == id || op.method_name == id)
}
