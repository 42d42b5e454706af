//! `cargo xtask spec-diff OLD NEW`: what changed between two OpenAPI 3.0 definitions, in API
//! terms, and whether each change breaks users of the generated client.
//!
//! The rules follow oasdiff's checker (its rule ids are reused where one exists) and
//! openapi-diff, judged for the generated Rust client:
//!
//! - a removed operation, parameter or response property breaks; so does a new required
//!   parameter or request property, a parameter or request property that became required, a
//!   response property that became optional, a type or format change (the generated Rust type
//!   changes), an enum constraint added or dropped, a removed success status, and a removed
//!   security scheme, flow, scope or server;
//! - an added operation, optional parameter, optional request property, response property,
//!   status code or security alternative does not;
//! - an enum value added anywhere does not break: the generated enums are open
//!   (`Unknown(String)`), so a new value in a response still decodes. An enum value removed from
//!   a request breaks (a client may still send it); removed from a response it does not.
//!
//! Component schemas referenced under the same name in both definitions are compared once, in a
//! group of their own, and judged by every use they have (a schema used in requests and in
//! responses breaks when a change breaks either). Changes that only alter how Rust code
//! constructs a request struct (a new optional field in a struct literal) are not counted: the
//! snapshots of the generated surface show those.

mod compare;
pub mod load;
mod resolve;

use std::fmt::Write as _;

use openapiv3::OpenAPI;
use serde::Serialize;

pub use load::load;

/// One change between two definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// What the change belongs to: `GET /path (operationId)`, `schema Name (in responses)`,
    /// `security` or `servers`.
    pub group: String,
    /// The rule that found it, named after oasdiff's checker ids where one exists.
    pub rule: String,
    /// Whether it breaks users of the generated client.
    pub breaking: bool,
    /// What changed, in words.
    pub message: String,
}

/// Every change between two definitions, in a stable order: operations present in both (by path
/// and method), removed and added ones, then component schemas by name, then security and
/// servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The changes.
    pub changes: Vec<Change>,
}

impl Report {
    /// Whether any change breaks.
    pub fn is_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.breaking)
    }

    /// The number of breaking changes.
    pub fn breaking_count(&self) -> usize {
        self.changes.iter().filter(|c| c.breaking).count()
    }

    /// The report for people: a summary line, then the changes grouped by operation or schema.
    pub fn text(&self) -> String {
        if self.changes.is_empty() {
            return "no changes\n".to_owned();
        }
        let mut out = format!(
            "{} change(s), {} breaking\n",
            self.changes.len(),
            self.breaking_count()
        );
        let mut group: Option<&str> = None;
        for change in &self.changes {
            if group != Some(change.group.as_str()) {
                group = Some(&change.group);
                let _ = write!(out, "\n{}\n", change.group);
            }
            let mark = if change.breaking {
                "BREAKING    "
            } else {
                "non-breaking"
            };
            let _ = writeln!(out, "  {mark}  {}: {}", change.rule, change.message);
        }
        out
    }

    /// The report for programs: `{"breaking": bool, "breaking_changes": n, "changes": [...]}`.
    pub fn json(&self) -> String {
        let document = serde_json::json!({
            "breaking": self.is_breaking(),
            "breaking_changes": self.breaking_count(),
            "changes": self.changes,
        });
        serde_json::to_string_pretty(&document).expect("a report serialises") + "\n"
    }
}

/// Compares two definitions. Fails when they cannot be compared (an unresolvable or external
/// `$ref`).
pub fn diff(old: &OpenAPI, new: &OpenAPI) -> Result<Report, String> {
    let mut report = compare::diff(old, new)?;
    // Changes of one group are reported together, groups in the order they were first found.
    let mut order: Vec<String> = Vec::new();
    for change in &report.changes {
        if !order.contains(&change.group) {
            order.push(change.group.clone());
        }
    }
    report
        .changes
        .sort_by_key(|c| order.iter().position(|g| *g == c.group));
    Ok(report)
}
