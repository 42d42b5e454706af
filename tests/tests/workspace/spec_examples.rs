//! Every example in the spec validates against the schema it illustrates.
//!
//! Objects are checked as closed (`additionalProperties: false`), so an example that carries a
//! property the spec does not define fails too: examples are documentation, and a misspelled
//! property in one is a bug in the spec.

use std::path::Path;

use serde_json::{Value, json};

fn spec() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/openapi.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Resolves a local `$ref` to the object it points at.
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => spec
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {reference}")),
        None => value,
    }
}

/// Marks every object schema closed, so examples cannot carry undocumented properties.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

fn validator(spec: &Value, schema: &Value) -> jsonschema::Validator {
    let mut components = spec["components"].clone();
    close_objects(&mut components);
    let mut schema = schema.clone();
    close_objects(&mut schema);
    let root = json!({ "allOf": [schema], "components": components });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&root)
        .unwrap()
}

/// `(where, schema, example value)` for every example of every media type in the spec.
fn examples(spec: &Value) -> Vec<(String, Value, Value)> {
    let mut found = Vec::new();
    let mut media_types: Vec<(String, &Value)> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(operation) = operation.as_object() else {
                continue;
            };
            if let Some(body) = operation.get("requestBody") {
                for (media, content) in resolve(spec, body)["content"].as_object().unwrap() {
                    media_types.push((format!("{method} {path} request {media}"), content));
                }
            }
            for (status, response) in operation
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let response = resolve(spec, response);
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    media_types.push((format!("{method} {path} {status} {media}"), content));
                }
            }
        }
    }
    for (place, content) in media_types {
        let schema = content["schema"].clone();
        for (name, example) in content["examples"].as_object().into_iter().flatten() {
            let value = resolve(spec, example)["value"].clone();
            found.push((format!("{place} example {name}"), schema.clone(), value));
        }
        if let Some(value) = content.get("example") {
            found.push((format!("{place} example"), schema.clone(), value.clone()));
        }
    }
    found
}

#[test]
fn every_operation_has_examples_and_each_one_is_valid() {
    let spec = spec();
    let examples = examples(&spec);
    for operation in ["post /", "get /", "get /{id}", "delete /{id}"] {
        assert!(
            examples
                .iter()
                .any(|(place, _, _)| place.starts_with(operation)),
            "no example for {operation}"
        );
    }
    let mut failures = Vec::new();
    for (place, schema, value) in &examples {
        let validator = validator(&spec, schema);
        for error in validator.iter_errors(value) {
            failures.push(format!("{place}: {error} at {}", error.instance_path()));
        }
    }
    assert!(
        failures.is_empty(),
        "invalid examples:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_example_check_rejects_an_example_that_breaks_its_schema() {
    let spec = spec();
    let schema = json!({ "$ref": "#/components/schemas/ExportResponse" });
    let validator = validator(&spec, &schema);
    let missing_status = json!({ "export": { "id": "x", "displayName": "y" } });
    let misspelled = json!({ "export": { "id": "x", "displayName": "y", "status": "Complete", "lastModifed": "2024-08-22T03:18:43Z" } });
    // `lastModified` is a plain string (the portal's type); `stats.startTime` is a date-time.
    let bad_time = json!({ "export": { "id": "x", "displayName": "y", "status": "Complete", "stats": { "startTime": "yesterday" } } });
    let text_size = json!({ "export": { "id": "x", "displayName": "y", "status": "Complete", "stats": { "rawSize": "3 MB" } } });
    for value in [missing_status, misspelled, bad_time, text_size] {
        assert!(!validator.is_valid(&value), "accepted {value}");
    }
}
