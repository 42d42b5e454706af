//! The schemars round trip: each generated type's JSON Schema, as `schemars` renders it from the
//! Rust code, says what the spec's component schema says.
//!
//! insta snapshots show the Rust surface of the generated code; this test checks its meaning
//! after the normalize and rewrite passes: property names, required sets, types, formats, enum
//! values and nullability. Both sides are reduced to "facts" (one line per schema or property)
//! and compared. Every difference the pipeline makes on purpose is in [`INTENDED`], with its
//! reason; any other difference fails with a list of `spec:` / `Rust:` pairs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mesh_export_client::types::{
    ErrorDetail, ErrorResponse, Export, ExportLinks, ExportOrderBy, ExportRequest, ExportResponse,
    ExportStatsDisplay, ExportStatus, ExportType, ExportsPage, GeometryOptions, Link, PageLinks,
    PreferReturn, ServiceError, StartExport, ViewDefinitionFilter,
};
use schemars::JsonSchema;
use schemars::r#gen::{SchemaGenerator, SchemaSettings};
use serde_json::{Value, json};

/// A difference between the spec and the generated types that the pipeline makes on purpose.
struct Intended {
    /// The schema (`ExportStatus`) or property (`Export.lastModified`) it applies to; `*`
    /// for every property the rule can apply to.
    at: &'static str,
    rule: Rule,
    /// Why the generated type differs from the spec here.
    why: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    /// The spec's closed `enum` is an open enum in Rust: the listed values, or any string.
    OpenEnum,
    /// An optional property may read `null` in Rust though the spec does not allow it (an
    /// `Option<T>` does). The other way round, `nullable` in the spec and not in Rust, fails.
    OptionalAdmitsNull,
}

/// THE table of intended differences. Anything not here is a bug in the spec, the normalize
/// pass, the syntax-tree rewrites or progenitor; a row that no longer applies fails too.
/// (The normalize pass rewrites media types and `default` responses today, no component
/// schema; a schema rewrite added there gets its row here.)
const INTENDED: &[Intended] = &[
    Intended {
        at: "ExportStatus",
        rule: Rule::OpenEnum,
        why: "rewrite pass: a response enum is open, so a status the service adds later is kept \
              in Unknown(String) instead of failing a whole page",
    },
    Intended {
        at: "ExportType",
        rule: Rule::OpenEnum,
        why: "rewrite pass: a response enum is open (the service echoes `3DTILES` and may add \
              formats)",
    },
    Intended {
        at: "*",
        rule: Rule::OptionalAdmitsNull,
        why: "progenitor: a property outside `required` is Option<T> (unless it has a default, \
              like an array or a free-form object), and serde reads `null` there as absent: a \
              more lenient reader than the spec asks for, never a stricter one",
    },
];

/// Every component schema of the spec with the generated type that stands for it.
fn rust_schemas() -> BTreeMap<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut out = BTreeMap::new();
    macro_rules! types {
        ($($t:ty),* $(,)?) => {$(
            out.insert(<$t>::schema_name(), render::<$t>(&mut generator));
        )*};
    }
    types!(
        ErrorDetail,
        ErrorResponse,
        Export,
        ExportLinks,
        ExportOrderBy,
        ExportRequest,
        ExportResponse,
        ExportStatsDisplay,
        ExportStatus,
        ExportType,
        ExportsPage,
        GeometryOptions,
        Link,
        PageLinks,
        PreferReturn,
        ServiceError,
        StartExport,
        ViewDefinitionFilter,
    );
    out
}

/// The type's own schema (not a `$ref` to it), as JSON.
fn render<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    let schema = T::json_schema(generator);
    serde_json::to_value(schema).unwrap()
}

fn spec() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/openapi.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn spec_schemas(spec: &Value) -> BTreeMap<String, Value> {
    spec["components"]["schemas"]
        .as_object()
        .expect("the spec has component schemas")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What a schema says, one line per schema-level fact or property, keyed by where it is.
type Facts = BTreeMap<String, String>;

fn facts(schemas: &BTreeMap<String, Value>) -> Facts {
    let mut out = Facts::new();
    for (name, schema) in schemas {
        schema_facts(name, schema, &mut out);
    }
    out
}

fn schema_facts(name: &str, schema: &Value, out: &mut Facts) {
    if let Some(values) = open_enum_values(schema) {
        out.insert(name.to_owned(), format!("enum {values} or any string"));
        return;
    }
    if schema.get("enum").is_some() {
        out.insert(name.to_owned(), describe(schema));
        return;
    }
    out.insert(name.to_owned(), describe_shape(schema));
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    out.insert(format!("{name} required"), format!("{required:?}"));
    for (property, property_schema) in schema["properties"].as_object().into_iter().flatten() {
        let optional = if required.contains(property.as_str()) {
            ""
        } else {
            "optional "
        };
        out.insert(
            format!("{name}.{property}"),
            format!("{optional}{}", describe(property_schema)),
        );
    }
}

/// `anyOf: [{enum: [...]}, {type: string}]`, the open enums' schema: the listed values.
fn open_enum_values(schema: &Value) -> Option<String> {
    let any_of = schema.get("anyOf")?.as_array()?;
    match any_of.as_slice() {
        [listed, other] if other == &json!({"type": "string"}) => {
            Some(enum_text(listed.get("enum")?))
        }
        _ => None,
    }
}

fn enum_text(values: &Value) -> String {
    let values: Vec<&str> = values
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    format!("{values:?}")
}

/// The type of a schema as one line: `string, format date-time, nullable`, `-> Link`,
/// `array of -> Export`, `enum [..]`.
fn describe(schema: &Value) -> String {
    let nullable = schema.get("nullable") == Some(&Value::Bool(true));
    // schemars writes a nullable reference as `allOf: [{$ref}]` with `nullable` beside it.
    let target = match schema.get("allOf").and_then(Value::as_array) {
        Some(all) if all.len() == 1 => &all[0],
        _ => schema,
    };
    let mut text = if let Some(reference) = target.get("$ref").and_then(Value::as_str) {
        format!(
            "-> {}",
            reference.trim_start_matches("#/components/schemas/")
        )
    } else if let Some(values) = open_enum_values(target) {
        format!("enum {values} or any string")
    } else if let Some(values) = target.get("enum") {
        format!("{}, enum {}", describe_shape(target), enum_text(values))
    } else if target.get("type") == Some(&json!("array")) {
        format!("array of {}", describe(&target["items"]))
    } else {
        describe_shape(target)
    };
    if nullable {
        text.push_str(", nullable");
    }
    text
}

/// `type`, `format` and `additionalProperties` of a schema.
fn describe_shape(schema: &Value) -> String {
    let mut text = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("any")
        .to_owned();
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        text.push_str(&format!(", format {format}"));
    }
    if let Some(extra) = schema.get("additionalProperties") {
        text.push_str(&format!(", additionalProperties {extra}"));
    }
    text
}

/// One disagreement, or an intended difference that no longer applies.
#[derive(Debug)]
struct Difference {
    at: String,
    spec: Option<String>,
    rust: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |s: &Option<String>| s.clone().unwrap_or_else(|| "(absent)".to_owned());
        write!(
            f,
            "  {}\n    spec: {}\n    Rust: {}",
            self.at,
            side(&self.spec),
            side(&self.rust)
        )
    }
}

/// What the Rust side may say for each spec fact (the first is the spec's own, after the
/// rewrites), once the intended differences apply. Also returns the rows of [`INTENDED`]
/// that matched nothing.
fn expected(spec: &Facts) -> (BTreeMap<String, Vec<String>>, Vec<&'static Intended>) {
    let mut expected: BTreeMap<String, Vec<String>> = spec
        .iter()
        .map(|(at, fact)| (at.clone(), vec![fact.clone()]))
        .collect();
    let mut unused = Vec::new();
    for row in INTENDED {
        let mut used = false;
        for (at, accepted) in expected.iter_mut() {
            if row.at != "*" && row.at != at {
                continue;
            }
            let fact = accepted[0].clone();
            match row.rule {
                Rule::OpenEnum => {
                    if let Some(values) = fact.strip_prefix("string, enum ") {
                        accepted[0] = format!("enum {values} or any string");
                        used = true;
                    }
                }
                Rule::OptionalAdmitsNull => {
                    if fact.starts_with("optional ") && !fact.ends_with(", nullable") {
                        accepted.push(format!("{fact}, nullable"));
                        used = true;
                    }
                }
            }
        }
        if !used {
            unused.push(row);
        }
    }
    (expected, unused)
}

fn compare(spec: &BTreeMap<String, Value>, rust: &BTreeMap<String, Value>) -> Vec<Difference> {
    let (expected, unused) = expected(&facts(spec));
    let actual = facts(rust);
    let mut differences: Vec<Difference> = unused
        .into_iter()
        .map(|row| Difference {
            at: format!("INTENDED row {:?} at {:?}", row.rule, row.at),
            spec: Some("(no schema or property it applies to)".to_owned()),
            rust: Some(format!("(stale row: {})", row.why)),
        })
        .collect();
    let keys: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for at in keys {
        let (accepted, rust) = (expected.get(at), actual.get(at));
        let agrees = match (accepted, rust) {
            (Some(accepted), Some(rust)) => accepted.contains(rust),
            (None, None) => true,
            _ => false,
        };
        if !agrees {
            differences.push(Difference {
                at: at.clone(),
                spec: accepted.map(|a| a[0].clone()),
                rust: rust.cloned(),
            });
        }
    }
    differences
}

fn report(differences: &[Difference]) -> String {
    format!(
        "the generated types disagree with spec/openapi.yaml ({} difference(s); \"spec\" is \
         after the intended differences in INTENDED):\n{}\n\
         Regenerate with `cargo xtask codegen`; a difference made on purpose belongs in \
         INTENDED in tests/tests/schema_round_trip.rs, with its reason.",
        differences.len(),
        differences
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    )
}

#[test]
fn every_generated_type_means_what_its_spec_schema_says() {
    let spec = spec_schemas(&spec());
    let rust = rust_schemas();
    let spec_names: BTreeSet<&String> = spec.keys().collect();
    let rust_names: BTreeSet<&String> = rust.keys().collect();
    assert_eq!(
        spec_names, rust_names,
        "each component schema needs its generated type in rust_schemas()"
    );
    let differences = compare(&spec, &rust);
    assert!(differences.is_empty(), "{}", report(&differences));
}

#[test]
fn a_property_whose_spec_type_changed_fails_with_both_sides_named() {
    let mut spec = spec_schemas(&spec());
    spec.get_mut("ExportStatsDisplay").unwrap()["properties"]["duration"] =
        json!({"type": "integer", "format": "int64"});
    let differences = compare(&spec, &rust_schemas());
    let text = report(&differences);
    assert_eq!(differences.len(), 1, "{text}");
    assert!(
        text.contains(
            "  ExportStatsDisplay.duration\n    spec: optional integer, format int64\n    Rust: optional number, format double, nullable"
        ),
        "{text}"
    );
}

#[test]
fn a_changed_rust_field_fails_too() {
    let spec = spec_schemas(&spec());
    let mut rust = rust_schemas();
    // As if a rewrite had made `Export.status` optional and `lastModified` a date-time.
    let export = rust.get_mut("Export").unwrap();
    export["required"] = json!(["displayName", "id"]);
    export["properties"]["lastModified"]["format"] = json!("date-time");
    let text = report(&compare(&spec, &rust));
    for expected in [
        "  Export required\n    spec: {\"displayName\", \"id\", \"status\"}\n    Rust: {\"displayName\", \"id\"}",
        "  Export.status\n    spec: -> ExportStatus\n    Rust: optional -> ExportStatus",
        "  Export.lastModified\n    spec: optional string\n    Rust: optional string, format date-time, nullable",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn an_enum_value_or_a_nullability_the_types_lack_fails() {
    let mut spec = spec_schemas(&spec());
    spec.get_mut("ExportStatus").unwrap()["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("Archived"));
    spec.get_mut("Link").unwrap()["properties"]["href"]["nullable"] = json!(true);
    let text = report(&compare(&spec, &rust_schemas()));
    assert!(text.contains("  ExportStatus\n    spec: enum [\"NotStarted\", \"InProgress\", \"Complete\", \"Invalid\", \"Archived\"] or any string"), "{text}");
    assert!(
        text.contains("  Link.href\n    spec: string, nullable\n    Rust: string"),
        "{text}"
    );
}

#[test]
fn an_intended_difference_that_no_longer_applies_fails() {
    let mut spec = spec_schemas(&spec());
    // ExportType no longer an enum: its OpenEnum row matches nothing.
    spec.insert("ExportType".into(), json!({"type": "string"}));
    let text = report(&compare(&spec, &rust_schemas()));
    assert!(
        text.contains("INTENDED row OpenEnum at \"ExportType\""),
        "{text}"
    );
}
