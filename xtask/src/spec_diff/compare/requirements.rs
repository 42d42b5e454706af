//! Security requirements, global or per operation: alternatives a caller satisfies one of, each
//! a set of schemes with scopes.

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::SecurityRequirement;

use super::Walker;

impl<'a> Walker<'a> {
    /// Security requirements are alternatives: a caller satisfies one of them.
    pub(super) fn requirements(
        &mut self,
        group: &str,
        old: &[SecurityRequirement],
        new: &[SecurityRequirement],
    ) {
        let old = requirement_sets(old);
        let new = requirement_sets(new);
        if old.is_empty() && !new.is_empty() {
            self.push(
                group,
                "api-security-added",
                true,
                format!("authentication is now required: {}", alternatives(&new)),
            );
            return;
        }
        if new.is_empty() && !old.is_empty() {
            self.push(
                group,
                "api-security-removed",
                false,
                "authentication is no longer required",
            );
            return;
        }
        for (schemes, old_scopes) in &old {
            let Some(new_scopes) = new.get(schemes) else {
                self.push(
                    group,
                    "api-security-removed",
                    true,
                    format!("the requirement {} was removed", requirement(schemes)),
                );
                continue;
            };
            // Same keys, both sorted by scheme name: the pairs line up.
            for ((scheme, was), (_, is)) in old_scopes.iter().zip(new_scopes) {
                for scope in is.difference(was) {
                    self.push(
                        group,
                        "api-security-scope-added",
                        true,
                        format!(
                            "the requirement {} now needs the scope `{scope}` of `{scheme}`",
                            requirement(schemes)
                        ),
                    );
                }
                for scope in was.difference(is) {
                    self.push(
                        group,
                        "api-security-scope-removed",
                        false,
                        format!(
                            "the requirement {} no longer needs the scope `{scope}` of `{scheme}`",
                            requirement(schemes)
                        ),
                    );
                }
            }
        }
        for schemes in new.keys() {
            if !old.contains_key(schemes) {
                self.push(
                    group,
                    "api-security-alternative-added",
                    false,
                    format!(
                        "the requirement {} was added as an alternative",
                        requirement(schemes)
                    ),
                );
            }
        }
    }
}

/// One alternative: its schemes (sorted) with their scopes.
type Alternative = Vec<(String, BTreeSet<String>)>;

/// Alternatives keyed by their sorted scheme names.
fn requirement_sets(requirements: &[SecurityRequirement]) -> BTreeMap<Vec<String>, Alternative> {
    requirements
        .iter()
        .map(|r| {
            let mut alternative: Alternative = r
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
                .collect();
            alternative.sort();
            (
                alternative.iter().map(|(k, _)| k.clone()).collect(),
                alternative,
            )
        })
        .collect()
}

/// One alternative in words: its schemes joined by `+`.
fn requirement(schemes: &[String]) -> String {
    if schemes.is_empty() {
        "{} (anonymous)".to_owned()
    } else {
        schemes
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// Every alternative in words, joined by `or`.
fn alternatives(set: &BTreeMap<Vec<String>, Alternative>) -> String {
    set.keys()
        .map(|k| requirement(k))
        .collect::<Vec<_>>()
        .join(" or ")
}
