//! Local `$ref` resolution and the usage (request, response) of each component schema.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use openapiv3::{
    AdditionalProperties, OpenAPI, Operation, Parameter, ReferenceOr, RequestBody, Response,
    Schema, SchemaKind, Type,
};

/// How many `$ref` hops a chain may take before it counts as a cycle.
const MAX_HOPS: usize = 32;

/// A schema position: a `$ref` to a component, or an inline schema.
#[derive(Clone, Copy)]
pub enum SchemaRef<'a> {
    /// `#/components/schemas/{name}`.
    Ref(&'a str),
    /// An inline schema.
    Item(&'a Schema),
}

impl<'a> From<&'a ReferenceOr<Schema>> for SchemaRef<'a> {
    fn from(value: &'a ReferenceOr<Schema>) -> Self {
        match value {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(schema) => SchemaRef::Item(schema),
        }
    }
}

impl<'a> From<&'a ReferenceOr<Box<Schema>>> for SchemaRef<'a> {
    fn from(value: &'a ReferenceOr<Box<Schema>>) -> Self {
        match value {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(schema) => SchemaRef::Item(schema),
        }
    }
}

/// Where a component schema is used: what decides whether a change to it breaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// The client sends it (parameters, request bodies).
    pub request: bool,
    /// The client reads it (responses).
    pub response: bool,
}

impl Usage {
    /// Used in requests only.
    pub const REQUEST: Usage = Usage {
        request: true,
        response: false,
    };
    /// Used in responses only.
    pub const RESPONSE: Usage = Usage {
        request: false,
        response: true,
    };

    fn union(self, other: Usage) -> Usage {
        Usage {
            request: self.request || other.request,
            response: self.response || other.response,
        }
    }

    fn covers(self, other: Usage) -> bool {
        self.union(other) == self
    }
}

/// The component name of a local `$ref` of the given kind (`schemas`, `parameters`, ...).
pub fn ref_name<'r>(reference: &'r str, kind: &str) -> Result<&'r str, String> {
    reference
        .strip_prefix("#/components/")
        .and_then(|rest| rest.strip_prefix(kind))
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .ok_or_else(|| {
            format!("unsupported $ref `{reference}`: only local #/components/{kind}/NAME refs are resolved")
        })
}

/// Follows `item`'s `$ref` chain in `components` to the item it names.
pub fn resolve<'a, T>(
    components: Option<&'a IndexMap<String, ReferenceOr<T>>>,
    kind: &str,
    item: &'a ReferenceOr<T>,
) -> Result<&'a T, String> {
    let mut current = item;
    for _ in 0..MAX_HOPS {
        match current {
            ReferenceOr::Item(item) => return Ok(item),
            ReferenceOr::Reference { reference } => {
                let name = unescape(ref_name(reference, kind)?);
                current = components
                    .and_then(|map| map.get(&name))
                    .ok_or_else(|| format!("unresolvable $ref `{reference}`"))?;
            }
        }
    }
    Err(format!("a $ref cycle in components/{kind}"))
}

/// Resolves a schema position; also returns the component name it came from, if any.
pub fn resolve_schema<'a>(
    spec: &'a OpenAPI,
    schema: SchemaRef<'a>,
) -> Result<(&'a Schema, Option<String>), String> {
    match schema {
        SchemaRef::Item(schema) => Ok((schema, None)),
        SchemaRef::Ref(reference) => {
            let name = unescape(ref_name(reference, "schemas")?);
            Ok((named_schema(spec, &name)?, Some(name)))
        }
    }
}

/// The component schema `name`, resolved.
pub fn named_schema<'a>(spec: &'a OpenAPI, name: &str) -> Result<&'a Schema, String> {
    let item = component_schema(spec, name)
        .ok_or_else(|| format!("unresolvable $ref `#/components/schemas/{name}`"))?;
    resolve(
        spec.components.as_ref().map(|c| &c.schemas),
        "schemas",
        item,
    )
}

/// The component schema `name`, unresolved.
pub fn component_schema<'a>(spec: &'a OpenAPI, name: &str) -> Option<&'a ReferenceOr<Schema>> {
    spec.components.as_ref()?.schemas.get(name)
}

/// Resolves a parameter.
pub fn parameter<'a>(
    spec: &'a OpenAPI,
    item: &'a ReferenceOr<Parameter>,
) -> Result<&'a Parameter, String> {
    resolve(
        spec.components.as_ref().map(|c| &c.parameters),
        "parameters",
        item,
    )
}

/// Resolves a request body.
pub fn request_body<'a>(
    spec: &'a OpenAPI,
    item: &'a ReferenceOr<RequestBody>,
) -> Result<&'a RequestBody, String> {
    resolve(
        spec.components.as_ref().map(|c| &c.request_bodies),
        "requestBodies",
        item,
    )
}

/// Resolves a response.
pub fn response<'a>(
    spec: &'a OpenAPI,
    item: &'a ReferenceOr<Response>,
) -> Result<&'a Response, String> {
    resolve(
        spec.components.as_ref().map(|c| &c.responses),
        "responses",
        item,
    )
}

/// JSON pointer unescaping of one reference token (`~1` is `/`, `~0` is `~`).
pub fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The schemas nested directly in `schema`: properties, items, additional properties and the
/// branches of a composition.
pub fn children(schema: &Schema) -> Vec<SchemaRef<'_>> {
    let mut out: Vec<SchemaRef<'_>> = Vec::new();
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => {
            out.extend(object.properties.values().map(SchemaRef::from));
            out.extend(additional(&object.additional_properties));
        }
        SchemaKind::Type(Type::Array(array)) => {
            out.extend(array.items.as_ref().map(SchemaRef::from))
        }
        SchemaKind::Type(_) => {}
        SchemaKind::OneOf { one_of: all }
        | SchemaKind::AllOf { all_of: all }
        | SchemaKind::AnyOf { any_of: all } => out.extend(all.iter().map(SchemaRef::from)),
        SchemaKind::Not { not } => out.push(SchemaRef::from(not.as_ref())),
        SchemaKind::Any(any) => {
            out.extend(any.properties.values().map(SchemaRef::from));
            out.extend(additional(&any.additional_properties));
            out.extend(any.items.as_ref().map(SchemaRef::from));
            for all in [&any.one_of, &any.all_of, &any.any_of] {
                out.extend(all.iter().map(SchemaRef::from));
            }
            out.extend(any.not.as_deref().map(SchemaRef::from));
        }
    }
    out
}

fn additional(properties: &Option<AdditionalProperties>) -> Option<SchemaRef<'_>> {
    match properties {
        Some(AdditionalProperties::Schema(schema)) => Some(SchemaRef::from(schema.as_ref())),
        _ => None,
    }
}

/// Records, for every component schema reachable from an operation of `spec`, whether requests
/// or responses use it.
pub fn collect_usage(spec: &OpenAPI, usage: &mut BTreeMap<String, Usage>) -> Result<(), String> {
    for (_, item) in spec.paths.iter() {
        let ReferenceOr::Item(path_item) = item else {
            continue;
        };
        for parameter in &path_item.parameters {
            mark_parameter(spec, parameter, usage)?;
        }
        for (_, operation) in path_item.iter() {
            mark_operation(spec, operation, usage)?;
        }
    }
    Ok(())
}

fn mark_operation(
    spec: &OpenAPI,
    operation: &Operation,
    usage: &mut BTreeMap<String, Usage>,
) -> Result<(), String> {
    for parameter in &operation.parameters {
        mark_parameter(spec, parameter, usage)?;
    }
    if let Some(body) = &operation.request_body {
        for media in request_body(spec, body)?.content.values() {
            if let Some(schema) = &media.schema {
                mark(spec, schema.into(), Usage::REQUEST, usage)?;
            }
        }
    }
    let responses = operation
        .responses
        .default
        .iter()
        .chain(operation.responses.responses.values());
    for item in responses {
        for media in response(spec, item)?.content.values() {
            if let Some(schema) = &media.schema {
                mark(spec, schema.into(), Usage::RESPONSE, usage)?;
            }
        }
    }
    Ok(())
}

fn mark_parameter(
    spec: &OpenAPI,
    item: &ReferenceOr<Parameter>,
    usage: &mut BTreeMap<String, Usage>,
) -> Result<(), String> {
    let data = parameter(spec, item)?.parameter_data_ref();
    match &data.format {
        openapiv3::ParameterSchemaOrContent::Schema(schema) => {
            mark(spec, schema.into(), Usage::REQUEST, usage)
        }
        openapiv3::ParameterSchemaOrContent::Content(content) => {
            for media in content.values() {
                if let Some(schema) = &media.schema {
                    mark(spec, schema.into(), Usage::REQUEST, usage)?;
                }
            }
            Ok(())
        }
    }
}

fn mark(
    spec: &OpenAPI,
    schema: SchemaRef<'_>,
    how: Usage,
    usage: &mut BTreeMap<String, Usage>,
) -> Result<(), String> {
    let (resolved, name) = resolve_schema(spec, schema)?;
    if let Some(name) = name {
        let seen = usage.entry(name).or_default();
        if seen.covers(how) {
            return Ok(());
        }
        *seen = seen.union(how);
    }
    for child in children(resolved) {
        mark(spec, child, how, usage)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(components: &str) -> OpenAPI {
        let text = format!(
            "openapi: 3.0.3\ninfo: {{title: t, version: v}}\npaths: {{}}\ncomponents:\n{components}"
        );
        serde_norway::from_str(&text).unwrap()
    }

    #[test]
    fn a_chain_of_refs_resolves_to_its_schema() {
        let spec =
            spec("  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {type: integer}\n");
        let schema = named_schema(&spec, "A").unwrap();
        assert!(matches!(
            schema.schema_kind,
            SchemaKind::Type(Type::Integer(_))
        ));
    }

    #[test]
    fn a_ref_cycle_is_an_error_not_a_hang() {
        let spec = spec(
            "  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n",
        );
        assert!(named_schema(&spec, "A").unwrap_err().contains("cycle"));
    }

    #[test]
    fn external_and_foreign_refs_are_refused_by_name() {
        assert!(ref_name("other.yaml#/components/schemas/A", "schemas").is_err());
        assert!(ref_name("#/components/parameters/A", "schemas").is_err());
        assert!(ref_name("#/components/schemas/A/properties/b", "schemas").is_err());
        assert_eq!(ref_name("#/components/schemas/A", "schemas"), Ok("A"));
    }

    #[test]
    fn parameters_resolve_through_components() {
        let spec =
            spec("  parameters:\n    Top: {name: $top, in: query, schema: {type: integer}}\n");
        let item = ReferenceOr::ref_("#/components/parameters/Top");
        assert_eq!(
            parameter(&spec, &item).unwrap().parameter_data_ref().name,
            "$top"
        );
    }
}
