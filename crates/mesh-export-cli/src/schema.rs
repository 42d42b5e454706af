//! `mesh-export schema [COMMAND]`: the JSON Schemas (draft 2020-12) of the `--json` documents.
//!
//! The CLI's own documents derive theirs with `schemars` from the types in `output.rs`. The
//! API's `Export` comes from the generated client, which does not derive `JsonSchema` yet, so
//! [`ApiExport`] describes it from the spec's `Export` component, embedded at build time.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::Write;

use clap::ValueEnum;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::commands::CliError;
use crate::output::{DownloadReport, ErrorDocument, Login, SignedTilesetUrl};

/// The definition the generated client is made from.
const SPEC: &str = include_str!("../../../spec/openapi.yaml");

/// `mesh-export schema [COMMAND]`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// The command whose `--json` output to describe (`error`: the error document on stderr);
    /// without it, every document in one schema.
    #[arg(value_enum, value_name = "COMMAND")]
    pub command: Option<Document>,
}

/// Prints the schema `args` asks for on standard output.
pub fn print(args: &SchemaArgs) -> Result<(), CliError> {
    let schema = match args.command {
        Some(document) => schema(document),
        None => all(),
    };
    let text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    match writeln!(std::io::stdout().lock(), "{text}") {
        // A reader that stopped early (`| head`) wanted no more.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Other(format!(
            "cannot write the schema to standard output: {e}"
        ))),
        _ => Ok(()),
    }
}

/// A `--json` document that has a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Document {
    /// `login`'s output.
    Login,
    /// `list`'s output: an array of the API's `Export` objects.
    List,
    /// `get`'s output: the API's `Export`.
    Get,
    /// `start`'s output: the API's `Export`.
    Start,
    /// `wait`'s output: the API's `Export`.
    Wait,
    /// `delete`'s output.
    Delete,
    /// `url`'s output.
    Url,
    /// `download`'s output.
    Download,
    /// `demo`'s output (the same as `download`'s).
    Demo,
    /// What any command prints on standard error when it fails.
    Error,
}

impl Document {
    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }

    fn description(self) -> String {
        match self {
            Document::Error => {
                "What `mesh-export --json` prints on standard error when a command fails.".into()
            }
            other => format!(
                "What `mesh-export --json {}` prints on standard output.",
                other.name()
            ),
        }
    }

    /// This document's schema in `generator`: a `$ref` into its definitions, or an array of one.
    fn subschema(self, generator: &mut SchemaGenerator) -> Schema {
        match self {
            Document::Login => generator.subschema_for::<Login>(),
            Document::List => generator.subschema_for::<Vec<ApiExport>>(),
            Document::Get | Document::Start | Document::Wait => {
                generator.subschema_for::<ApiExport>()
            }
            Document::Delete => generator.subschema_for::<crate::output::Deleted>(),
            Document::Url => generator.subschema_for::<SignedTilesetUrl>(),
            Document::Download | Document::Demo => generator.subschema_for::<DownloadReport>(),
            Document::Error => generator.subschema_for::<ErrorDocument>(),
        }
    }
}

fn generator() -> SchemaGenerator {
    // The documents are only ever serialised: a field skipped when empty is not required.
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
}

fn meta_schema(generator: &SchemaGenerator) -> Value {
    generator
        .settings()
        .meta_schema
        .as_deref()
        .map_or(Value::Null, |m| Value::String(m.to_owned()))
}

/// The schema of one document, standing alone.
pub fn schema(document: Document) -> Value {
    let mut generator = generator();
    let subschema = document.subschema(&mut generator).to_value();
    let mut root = Map::new();
    root.insert("$schema".into(), meta_schema(&generator));
    root.insert(
        "title".into(),
        format!("mesh-export {} --json", document.name()).into(),
    );
    root.insert("description".into(), document.description().into());
    if let Value::Object(subschema) = subschema {
        root.extend(subschema);
    }
    root.insert(
        "$defs".into(),
        Value::Object(generator.take_definitions(true)),
    );
    Value::Object(root)
}

/// Every document's schema in one: `properties` maps each command (and `error`) to its
/// document's schema, with shared definitions under `$defs`.
pub fn all() -> Value {
    let mut generator = generator();
    let mut properties = Map::new();
    for document in Document::value_variants() {
        let mut subschema = document.subschema(&mut generator).to_value();
        if let Value::Object(map) = &mut subschema {
            map.insert("description".into(), document.description().into());
        }
        properties.insert(document.name(), subschema);
    }
    json!({
        "$schema": meta_schema(&generator),
        "title": "mesh-export --json documents",
        "description": "The schema of each command's --json output, by command name; `error` is what a failing command prints on standard error.",
        "type": "object",
        "properties": properties,
        "$defs": generator.take_definitions(true),
    })
}

/// The API's `Export` as `spec/openapi.yaml` defines it, for as long as the generated type does
/// not derive `JsonSchema` itself (then `mesh_export::Export` replaces this type).
///
/// OpenAPI 3.0 schemas become JSON Schema 2020-12: `nullable` becomes a `null` type,
/// `$ref`s point into `$defs`, and every enum is open (any string, the known values listed),
/// because the generated client keeps unknown values of response enums in `Unknown(String)`
/// and prints them as they came.
pub struct ApiExport;

impl JsonSchema for ApiExport {
    fn schema_name() -> Cow<'static, str> {
        "Export".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let components = spec_components();
        let prefix = format!("#{}/", generator.settings().definitions_path);
        let mut wanted = Vec::new();
        let root = convert(component(&components, "Export"), &prefix, &mut wanted);
        let mut done = BTreeSet::from(["Export".to_owned()]);
        while let Some(name) = wanted.pop() {
            if !done.insert(name.clone()) {
                continue;
            }
            let converted = convert(component(&components, &name), &prefix, &mut wanted);
            generator.definitions_mut().insert(name, converted);
        }
        Schema::try_from(root).expect("the spec's Export component is an object")
    }
}

/// `components.schemas` of the embedded spec.
fn spec_components() -> Map<String, Value> {
    let spec: Value = serde_norway::from_str(SPEC).expect("spec/openapi.yaml is valid YAML");
    spec.pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .expect("spec/openapi.yaml has components.schemas")
}

fn component<'a>(components: &'a Map<String, Value>, name: &str) -> &'a Value {
    components
        .get(name)
        .unwrap_or_else(|| panic!("spec/openapi.yaml has no component schema {name}"))
}

/// An OpenAPI 3.0 schema as JSON Schema 2020-12; collects the components it references.
fn convert(schema: &Value, prefix: &str, wanted: &mut Vec<String>) -> Value {
    let Value::Object(source) = schema else {
        return schema.clone();
    };
    if let Some(reference) = source.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or(reference);
        wanted.push(name.to_owned());
        return json!({ "$ref": format!("{prefix}{name}") });
    }
    let mut out = Map::new();
    for (key, value) in source {
        match key.as_str() {
            "properties" => {
                let properties = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, schema)| (name.clone(), convert(schema, prefix, wanted)))
                    .collect();
                out.insert(key.clone(), Value::Object(properties));
            }
            "items" | "not" => {
                out.insert(key.clone(), convert(value, prefix, wanted));
            }
            "additionalProperties" => {
                out.insert(key.clone(), convert(value, prefix, wanted));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let branches = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|schema| convert(schema, prefix, wanted))
                    .collect();
                out.insert(key.clone(), Value::Array(branches));
            }
            "example" => {
                out.insert("examples".into(), json!([value]));
            }
            // OpenAPI-only keywords, and what `nullable` and `enum` become below.
            "nullable" | "enum" | "discriminator" | "xml" | "externalDocs" => {}
            _ if key.starts_with("x-") => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    let nullable = source.get("nullable") == Some(&Value::Bool(true));
    if let Some(values) = source.get("enum") {
        // Open: the known values, or any other string (or null, when nullable).
        let mut branches = vec![json!({ "enum": values }), json!({ "type": "string" })];
        if nullable {
            branches.push(json!({ "type": "null" }));
        }
        out.insert("anyOf".into(), Value::Array(branches));
    }
    if nullable {
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), json!([t, "null"]));
            }
            _ => {
                return json!({ "anyOf": [Value::Object(out), { "type": "null" }] });
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_becomes_a_null_type_and_enums_are_open() {
        let schema = json!({"type": "string", "nullable": true, "enum": ["A", "B"], "x-foo": 1});
        let converted = convert(&schema, "#/$defs/", &mut Vec::new());
        assert_eq!(
            converted,
            json!({
                "type": ["string", "null"],
                "anyOf": [{"enum": ["A", "B"]}, {"type": "string"}, {"type": "null"}]
            })
        );
        let closed = json!({"type": "integer", "nullable": true});
        assert_eq!(
            convert(&closed, "#/$defs/", &mut Vec::new()),
            json!({"type": ["integer", "null"]})
        );
    }

    #[test]
    fn refs_point_into_defs_and_are_collected() {
        let schema =
            json!({"type": "object", "properties": {"a": {"$ref": "#/components/schemas/A"}}});
        let mut wanted = Vec::new();
        let converted = convert(&schema, "#/$defs/", &mut wanted);
        assert_eq!(converted["properties"]["a"], json!({"$ref": "#/$defs/A"}));
        assert_eq!(wanted, ["A"]);
    }

    #[test]
    fn the_export_schema_carries_every_component_it_references() {
        let schema = schema(Document::Get);
        let defs = schema["$defs"].as_object().unwrap();
        for name in [
            "ExportStatus",
            "ExportRequest",
            "ExportType",
            "ExportLinks",
            "Link",
        ] {
            assert!(defs.contains_key(name), "{name} missing from {schema:#}");
        }
        assert_eq!(schema["$ref"], "#/$defs/Export");
    }
}
