//! Responses: status codes added or removed (a lost success status breaks), and each kept one's
//! content.

use openapiv3::{Operation, ReferenceOr, StatusCode};

use super::Walker;
use crate::spec_diff::resolve::{self, Usage};

impl<'a> Walker<'a> {
    /// The responses of one operation by status (and `default`): a removed success status
    /// breaks, a removed error status does not; kept ones compare their content.
    pub(super) fn responses(
        &mut self,
        group: &str,
        o: &'a Operation,
        n: &'a Operation,
    ) -> Result<(), String> {
        let list = |op: &'a Operation| -> Vec<(String, &'a ReferenceOr<openapiv3::Response>)> {
            let mut out: Vec<_> = op
                .responses
                .responses
                .iter()
                .map(|(k, v)| (status_key(k), v))
                .collect();
            out.extend(
                op.responses
                    .default
                    .as_ref()
                    .map(|d| ("default".to_owned(), d)),
            );
            out
        };
        let old_list = list(o);
        let new_list = list(n);
        for (status, old_item) in &old_list {
            let Some((_, new_item)) = new_list.iter().find(|(s, _)| s == status) else {
                if is_success(status) {
                    self.push(
                        group,
                        "response-success-status-removed",
                        true,
                        format!("response {status} was removed"),
                    );
                } else {
                    self.push(
                        group,
                        "response-non-success-status-removed",
                        false,
                        format!("response {status} was removed"),
                    );
                }
                continue;
            };
            let old_response = resolve::response(self.old, old_item)?;
            let new_response = resolve::response(self.new, new_item)?;
            let label = format!("response {status}");
            self.content(
                group,
                Usage::RESPONSE,
                &label,
                &old_response.content,
                &new_response.content,
                is_success(status),
            )?;
        }
        for (status, _) in &new_list {
            if old_list.iter().any(|(s, _)| s == status) {
                continue;
            }
            if is_success(status) {
                self.push(
                    group,
                    "response-success-status-added",
                    false,
                    format!("response {status} was added"),
                );
            } else {
                self.push(
                    group,
                    "response-non-success-status-added",
                    false,
                    format!("response {status} was added"),
                );
            }
        }
        Ok(())
    }
}

/// Whether `status` is a 2xx code.
fn is_success(status: &str) -> bool {
    status.starts_with('2')
}

/// A status code as the document writes it (`200`, `4XX`).
fn status_key(code: &StatusCode) -> String {
    code.to_string()
}
