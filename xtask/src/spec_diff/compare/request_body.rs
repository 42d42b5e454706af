//! The request body: added, removed, required or not, and its content.

use openapiv3::Operation;

use super::Walker;
use crate::spec_diff::resolve::{self, Usage};

impl<'a> Walker<'a> {
    /// The request body of one operation: added, removed, required or not, and its content.
    pub(super) fn request_body(
        &mut self,
        group: &str,
        o: &'a Operation,
        n: &'a Operation,
    ) -> Result<(), String> {
        let old_body = o
            .request_body
            .as_ref()
            .map(|b| resolve::request_body(self.old, b))
            .transpose()?;
        let new_body = n
            .request_body
            .as_ref()
            .map(|b| resolve::request_body(self.new, b))
            .transpose()?;
        match (old_body, new_body) {
            (None, None) => Ok(()),
            (Some(_), None) => {
                self.push(
                    group,
                    "request-body-removed",
                    true,
                    "the request body was removed",
                );
                Ok(())
            }
            (None, Some(body)) => {
                if body.required {
                    self.push(
                        group,
                        "new-required-request-body",
                        true,
                        "a required request body was added",
                    );
                } else {
                    self.push(
                        group,
                        "new-optional-request-body",
                        false,
                        "an optional request body was added",
                    );
                }
                Ok(())
            }
            (Some(ob), Some(nb)) => {
                match (ob.required, nb.required) {
                    (false, true) => self.push(
                        group,
                        "request-body-became-required",
                        true,
                        "the request body became required",
                    ),
                    (true, false) => self.push(
                        group,
                        "request-body-became-optional",
                        false,
                        "the request body became optional",
                    ),
                    _ => {}
                }
                self.content(
                    group,
                    Usage::REQUEST,
                    "request body",
                    &ob.content,
                    &nb.content,
                    true,
                )
            }
        }
    }
}
