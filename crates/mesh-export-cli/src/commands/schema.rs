//! `mesh-export schema [COMMAND]`: the JSON Schemas (draft 2019-09) of the `--json` documents.
//!
//! Every document derives its schema with `schemars`: the CLI's own from the types in
//! `output/documents.rs`, the API's `Export` from the generated client, whose response enums
//! are open (any string, the known values listed) as the client reads them.

use std::io::Write;

use clap::ValueEnum;
use mesh_export::Export;
use schemars::r#gen::{SchemaGenerator, SchemaSettings};
use schemars::schema::Schema;
use serde_json::{Map, Value, json};

use crate::error::CliError;
use crate::output::{DownloadReport, ErrorDocument, Login, SignedTilesetUrl};

/// `mesh-export schema [COMMAND]`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// The command whose `--json` output to describe (`error`: the error document on stderr);
    /// without it, every document in one schema.
    #[arg(value_enum, value_name = "COMMAND")]
    pub command: Option<Document>,
}

/// Prints the schema `args` asks for on standard output.
pub fn run(args: &SchemaArgs) -> Result<(), CliError> {
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
            Document::List => generator.subschema_for::<Vec<Export>>(),
            Document::Get | Document::Start | Document::Wait => generator.subschema_for::<Export>(),
            Document::Delete => generator.subschema_for::<crate::output::Deleted>(),
            Document::Url => generator.subschema_for::<SignedTilesetUrl>(),
            Document::Download | Document::Demo => generator.subschema_for::<DownloadReport>(),
            Document::Error => generator.subschema_for::<ErrorDocument>(),
        }
    }
}

fn generator() -> SchemaGenerator {
    // A field skipped when empty (`skip_serializing_if`) is not required. Definitions go
    // under `$defs`, where draft 2019-09 keeps them.
    SchemaSettings::draft2019_09()
        .with(|settings| settings.definitions_path = "#/$defs/".to_owned())
        .into_generator()
}

fn meta_schema(generator: &SchemaGenerator) -> Value {
    generator
        .settings()
        .meta_schema
        .as_deref()
        .map_or(Value::Null, |m| Value::String(m.to_owned()))
}

fn to_value(schema: Schema) -> Value {
    serde_json::to_value(schema).expect("a schema serialises")
}

fn definitions(generator: &mut SchemaGenerator) -> Value {
    let definitions: Map<String, Value> = generator
        .take_definitions()
        .into_iter()
        .map(|(name, schema)| (name, to_value(schema)))
        .collect();
    Value::Object(definitions)
}

/// The schema of one document, standing alone.
pub fn schema(document: Document) -> Value {
    let mut generator = generator();
    let subschema = to_value(document.subschema(&mut generator));
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
    root.insert("$defs".into(), definitions(&mut generator));
    Value::Object(root)
}

/// Every document's schema in one: `properties` maps each command (and `error`) to its
/// document's schema, with shared definitions under `$defs`.
pub fn all() -> Value {
    let mut generator = generator();
    let mut properties = Map::new();
    for document in Document::value_variants() {
        let mut subschema = to_value(document.subschema(&mut generator));
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
        "$defs": definitions(&mut generator),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
