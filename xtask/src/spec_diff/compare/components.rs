//! Component schemas referenced under the same name in both definitions: compared once each, in
//! a group of their own.

use super::Walker;
use super::place::{Place, PlaceKind};
use crate::spec_diff::resolve;

impl<'a> Walker<'a> {
    /// Compares the component schemas referenced under the same name on both sides, each once
    /// and in its own group, judged by every use it has in either definition.
    pub(super) fn components(&mut self) -> Result<(), String> {
        while let Some(name) = self.pending.pop_first() {
            self.done.insert(name.clone());
            let usage = self.usage.get(&name).copied().unwrap_or_default();
            let uses = match (usage.request, usage.response) {
                (true, true) => "requests and responses",
                (true, false) => "requests",
                _ => "responses",
            };
            let group = format!("schema {name} (in {uses})");
            let os = resolve::named_schema(self.old, &name)?;
            let ns = resolve::named_schema(self.new, &name)?;
            let place = Place {
                kind: PlaceKind::Component,
                label: String::new(),
                path: String::new(),
            };
            self.resolved(&group, usage, &place, os, ns)?;
        }
        Ok(())
    }
}
