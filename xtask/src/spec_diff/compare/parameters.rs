//! Parameters: matched by location and name, compared for presence, requiredness and schema.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use openapiv3::{OpenAPI, Parameter, ParameterSchemaOrContent};

use super::Walker;
use super::operations::Op;
use super::place::{Place, PlaceKind};
use crate::spec_diff::resolve::{self, SchemaRef, Usage};

impl<'a> Walker<'a> {
    /// An operation's parameters (path-level ones included, operation-level ones winning), by
    /// location and name; header names are case-insensitive.
    fn collect_parameters(
        spec: &'a OpenAPI,
        op: &Op<'a>,
    ) -> Result<IndexMap<(String, String), &'a Parameter>, String> {
        let mut out = IndexMap::new();
        for item in op.item.parameters.iter().chain(&op.operation.parameters) {
            let parameter = resolve::parameter(spec, item)?;
            let (location, name) = parameter_key(parameter);
            out.insert((location.to_owned(), name), parameter);
        }
        Ok(out)
    }

    /// The parameters of one operation in both definitions: removed, moved to another
    /// location, added, or changed in requiredness or schema.
    pub(super) fn parameters(
        &mut self,
        group: &str,
        old: &Op<'a>,
        new: &Op<'a>,
    ) -> Result<(), String> {
        let old_params = Self::collect_parameters(self.old, old)?;
        let new_params = Self::collect_parameters(self.new, new)?;
        let mut relocated = BTreeSet::new();
        for ((location, name), old_param) in &old_params {
            let label = format!(
                "{location} parameter `{}`",
                old_param.parameter_data_ref().name
            );
            let Some(new_param) = new_params.get(&(location.clone(), name.clone())) else {
                let elsewhere = new_params.keys().find(|(l, n)| {
                    n == name && l != location && !old_params.contains_key(&(l.clone(), n.clone()))
                });
                match elsewhere {
                    Some((new_location, _)) => {
                        relocated.insert((new_location.clone(), name.clone()));
                        self.push(
                            group,
                            "request-parameter-location-changed",
                            true,
                            format!("{label} moved to the {new_location}"),
                        );
                    }
                    None => self.push(
                        group,
                        "request-parameter-removed",
                        true,
                        format!("{label} was removed"),
                    ),
                }
                continue;
            };
            self.parameter(group, label, old_param, new_param)?;
        }
        for (key, new_param) in &new_params {
            if old_params.contains_key(key) || relocated.contains(key) {
                continue;
            }
            let data = new_param.parameter_data_ref();
            let label = format!("{} parameter `{}`", key.0, data.name);
            if data.required {
                self.push(
                    group,
                    "new-required-request-parameter",
                    true,
                    format!("{label} was added, required"),
                );
            } else {
                self.push(
                    group,
                    "new-optional-request-parameter",
                    false,
                    format!("{label} was added, optional"),
                );
            }
        }
        Ok(())
    }

    /// One parameter present at the same location in both: its requiredness and its schema.
    fn parameter(
        &mut self,
        group: &str,
        label: String,
        old: &'a Parameter,
        new: &'a Parameter,
    ) -> Result<(), String> {
        let (o, n) = (old.parameter_data_ref(), new.parameter_data_ref());
        match (o.required, n.required) {
            (false, true) => self.push(
                group,
                "request-parameter-became-required",
                true,
                format!("{label} became required"),
            ),
            (true, false) => self.push(
                group,
                "request-parameter-became-optional",
                false,
                format!("{label} became optional"),
            ),
            _ => {}
        }
        let place = Place {
            kind: PlaceKind::Parameter,
            label,
            path: String::new(),
        };
        match (parameter_schema(o), parameter_schema(n)) {
            (Some(os), Some(ns)) => self.schema(group, Usage::REQUEST, &place, os, ns)?,
            (Some(_), None) | (None, Some(_)) => self.push(
                group,
                "request-parameter-schema-changed",
                true,
                format!(
                    "{}: the schema was replaced by content or the reverse",
                    place.label
                ),
            ),
            (None, None) => {}
        }
        Ok(())
    }
}

/// The key a parameter is matched by: its location and name (header names in lower case).
fn parameter_key(parameter: &Parameter) -> (&'static str, String) {
    let name = parameter.parameter_data_ref().name.clone();
    match parameter {
        Parameter::Query { .. } => ("query", name),
        Parameter::Header { .. } => ("header", name.to_ascii_lowercase()),
        Parameter::Path { .. } => ("path", name),
        Parameter::Cookie { .. } => ("cookie", name),
    }
}

/// The schema of a parameter, whether given directly or as the first media type's.
fn parameter_schema(data: &openapiv3::ParameterData) -> Option<SchemaRef<'_>> {
    match &data.format {
        ParameterSchemaOrContent::Schema(schema) => Some(schema.into()),
        ParameterSchemaOrContent::Content(content) => content
            .values()
            .next()
            .and_then(|m| m.schema.as_ref())
            .map(SchemaRef::from),
    }
}
