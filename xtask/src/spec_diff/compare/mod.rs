//! The walk over two definitions that finds each change and decides whether it breaks, one
//! OpenAPI section per file: each adds the comparisons of its section to [`Walker`].

mod components;
mod content;
mod operations;
mod parameters;
mod place;
mod request_body;
mod requirements;
mod responses;
mod schemas;
mod security;
mod servers;
mod shape;

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::OpenAPI;

use super::{Change, Report};
use crate::spec_diff::resolve::{self, Usage};
use place::Rules;

/// Compares `old` with `new`. Fails on what cannot be compared (an unresolvable `$ref`).
pub fn diff(old: &OpenAPI, new: &OpenAPI) -> Result<Report, String> {
    let mut usage = BTreeMap::new();
    resolve::collect_usage(old, &mut usage)?;
    resolve::collect_usage(new, &mut usage)?;
    let mut walker = Walker {
        old,
        new,
        usage,
        pending: BTreeSet::new(),
        done: BTreeSet::new(),
        active: Vec::new(),
        changes: Vec::new(),
    };
    walker.operations()?;
    walker.components()?;
    walker.security()?;
    walker.servers();
    Ok(Report {
        changes: walker.changes,
    })
}

/// Two definitions being compared and the changes found so far.
struct Walker<'a> {
    old: &'a OpenAPI,
    new: &'a OpenAPI,
    /// Where each component schema is used, in either definition.
    usage: BTreeMap<String, Usage>,
    /// Components referenced under the same name on both sides: compared once, in a group of
    /// their own, rather than under every operation that uses them.
    pending: BTreeSet<String>,
    /// Components already compared.
    done: BTreeSet<String>,
    /// Pairs of differently named schemas being compared, so recursive schemas terminate.
    active: Vec<(String, String)>,
    changes: Vec<Change>,
}

impl Walker<'_> {
    /// Records one change.
    fn push(
        &mut self,
        group: &str,
        rule: impl Into<String>,
        breaking: bool,
        message: impl Into<String>,
    ) {
        self.changes.push(Change {
            group: group.to_owned(),
            rule: rule.into(),
            breaking,
            message: message.into(),
        });
    }

    /// Records a change to a schema used as `usage` says: the rule of a direction in which it
    /// breaks wins, so a schema used both ways is judged by its strictest use.
    fn push_schema(&mut self, group: &str, usage: Usage, rules: Rules, message: String) {
        let mut candidates = Vec::new();
        if usage.request {
            candidates.push(rules.request);
        }
        if usage.response {
            candidates.push(rules.response);
        }
        let chosen = candidates
            .iter()
            .find(|(_, breaking)| *breaking)
            .or(candidates.first())
            .cloned();
        if let Some((rule, breaking)) = chosen {
            self.push(group, rule, breaking, message);
        }
    }
}

/// An optional name in backquotes, or `(none)`.
fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| format!("`{v}`"))
}

/// Values in backquotes, comma-separated.
fn list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
