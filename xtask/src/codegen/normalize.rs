//! Rewrites of the spec, in memory, that progenitor needs before it can generate the client.
//!
//! Every rewrite adds one line to the log, so a reviewer sees in the snapshot what the generated
//! code does not take verbatim from the spec.

use openapiv3::{OpenAPI, Operation, ReferenceOr, Response, StatusCode};

/// The media type progenitor types; anything else it leaves untyped or rejects.
const JSON: &str = "application/json";

/// What normalization learned about the spec, beyond the rewritten document itself.
#[derive(Debug, Default)]
pub struct Findings {
    /// One line per rewrite, in the order they were made.
    pub log: Vec<String>,
    /// Operations marked `deprecated: true`.
    pub deprecated: Vec<DeprecatedOperation>,
    /// Named string enums that appear in a response body: generated as open enums.
    pub open_enums: Vec<String>,
    /// The media type every request must send in `Accept`: `info.x-itwin-accept`.
    pub accept: Option<String>,
}

/// The `info` extension that carries the versioned `Accept` media type.
pub const ACCEPT_EXTENSION: &str = "x-itwin-accept";

/// An operation the spec marks deprecated.
#[derive(Debug, Clone, PartialEq)]
pub struct DeprecatedOperation {
    /// The spec's `operationId`, e.g. `get-export`.
    pub operation_id: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path template relative to the server URL.
    pub path: String,
    /// Why it is deprecated: `x-deprecation.note`, else the summary.
    pub note: String,
    /// The operation to use instead: `x-deprecation.replacement`.
    pub replacement: Option<String>,
}

/// Checks the spec is one progenitor can read and rewrites what it cannot generate.
pub fn normalize(spec: &mut OpenAPI) -> Result<Findings, String> {
    if !spec.openapi.starts_with("3.0.") {
        return Err(format!(
            "spec is OpenAPI {}; progenitor 0.15 reads 3.0.x only",
            spec.openapi
        ));
    }
    let mut findings = Findings {
        accept: accept(spec)?,
        ..Findings::default()
    };
    for (path, method, operation) in operations_mut(spec) {
        let name = format!(
            "{} {path} ({})",
            method.to_uppercase(),
            operation
                .operation_id
                .as_deref()
                .unwrap_or("no operationId")
        );
        json_media_types(&name, operation, &mut findings.log);
        default_response(&name, operation, &mut findings.log);
        if operation.deprecated {
            findings
                .deprecated
                .push(deprecation(&path, &method, operation)?);
        }
    }
    findings.open_enums = response_enums(spec);
    Ok(findings)
}

/// `info.x-itwin-accept`: the versioned media type the service wants in `Accept`, where
/// progenitor would send `application/json`. It must be a `type/subtype` usable as a header.
fn accept(spec: &OpenAPI) -> Result<Option<String>, String> {
    let Some(value) = spec.info.extensions.get(ACCEPT_EXTENSION) else {
        return Ok(None);
    };
    let text = value
        .as_str()
        .ok_or_else(|| format!("info.{ACCEPT_EXTENSION} must be a string, not {value}"))?;
    let valid = text
        .split_once('/')
        .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty() && !sub.contains('/'))
        && text.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(format!(
            "info.{ACCEPT_EXTENSION} must be one media type such as application/json, not {text:?}"
        ));
    }
    Ok(Some(text.to_owned()))
}

/// Every operation with its path and lower-case method, in spec order.
fn operations_mut(spec: &mut OpenAPI) -> Vec<(String, String, &mut Operation)> {
    let mut out = Vec::new();
    for (path, item) in spec.paths.paths.iter_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        for (method, slot) in method_slots(item) {
            if let Some(operation) = slot.as_mut() {
                out.push((path.clone(), method.to_owned(), operation));
            }
        }
    }
    out
}

/// The operation slot of each HTTP method of a path item, with the method in lower case.
pub(crate) fn method_slots(
    item: &mut openapiv3::PathItem,
) -> [(&'static str, &mut Option<Operation>); 8] {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
}

/// `application/vnd...+json` is JSON to the service but untyped (or rejected) by progenitor; the
/// vendor type belongs in the `Accept` header, which the client's hooks set.
fn json_media_types(name: &str, operation: &mut Operation, log: &mut Vec<String>) {
    if let Some(ReferenceOr::Item(body)) = operation.request_body.as_mut() {
        rewrite_content(&format!("{name} request body"), &mut body.content, log);
    }
    for (status, response) in operation.responses.responses.iter_mut() {
        if let ReferenceOr::Item(response) = response {
            rewrite_content(
                &format!("{name} response {status}"),
                &mut response.content,
                log,
            );
        }
    }
}

fn rewrite_content(what: &str, content: &mut openapiv3::Content, log: &mut Vec<String>) {
    let suffixed: Vec<String> = content
        .keys()
        .filter(|k| *k != JSON && k.ends_with("+json"))
        .cloned()
        .collect();
    for key in suffixed {
        let media = content.shift_remove(&key).expect("key was just listed");
        if content.contains_key(JSON) {
            log.push(format!(
                "{what}: dropped {key} (application/json is also given)"
            ));
        } else {
            log.push(format!("{what}: {key} -> {JSON}"));
            content.insert(JSON.to_owned(), media);
        }
    }
}

/// progenitor counts `default` in both the success and the error group, and panics when the two
/// kinds meet; with explicit 2xx responses, `default` can only mean an error.
fn default_response(name: &str, operation: &mut Operation, log: &mut Vec<String>) {
    let has_success = operation
        .responses
        .responses
        .keys()
        .any(|status| matches!(status, StatusCode::Code(200..=299) | StatusCode::Range(2)));
    if has_success && let Some(default) = operation.responses.default.take() {
        log.push(format!("{name}: default response -> 4XX/5XX"));
        for range in [4, 5] {
            operation
                .responses
                .responses
                .entry(StatusCode::Range(range))
                .or_insert_with(|| default.clone());
        }
    }
}

fn deprecation(
    path: &str,
    method: &str,
    operation: &Operation,
) -> Result<DeprecatedOperation, String> {
    let operation_id = operation
        .operation_id
        .clone()
        .ok_or_else(|| format!("{method} {path}: deprecated operation has no operationId"))?;
    let extension = operation.extensions.get("x-deprecation");
    let text = |key: &str| {
        extension
            .and_then(|e| e.get(key))
            .and_then(|v| v.as_str())
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    let note = text("note")
        .or_else(|| {
            operation
                .summary
                .clone()
                .map(|s| format!("{s} is deprecated"))
        })
        .unwrap_or_else(|| format!("{operation_id} is deprecated"));
    Ok(DeprecatedOperation {
        operation_id,
        method: method.to_uppercase(),
        path: path.to_owned(),
        note,
        replacement: text("replacement"),
    })
}

/// Named string-enum schemas reachable from any response body: a value the service adds later
/// must not fail a whole response, so these become open enums.
fn response_enums(spec: &OpenAPI) -> Vec<String> {
    let mut roots = Vec::new();
    let responses = spec
        .paths
        .paths
        .values()
        .filter_map(|item| item.as_item())
        .flat_map(|item| item.iter().map(|(_, op)| op))
        .flat_map(|op| {
            op.responses
                .responses
                .values()
                .chain(op.responses.default.iter())
        });
    for response in responses {
        let response: Option<&Response> = match response {
            ReferenceOr::Item(r) => Some(r),
            ReferenceOr::Reference { reference } => spec.components.as_ref().and_then(|c| {
                c.responses
                    .get(reference.trim_start_matches("#/components/responses/"))
                    .and_then(|r| r.as_item())
            }),
        };
        for media in response.into_iter().flat_map(|r| r.content.values()) {
            if let Some(schema) = &media.schema {
                collect_refs(
                    &serde_json::to_value(schema).expect("schema serializes"),
                    &mut roots,
                );
            }
        }
    }
    let schemas = spec.components.as_ref().map(|c| &c.schemas);
    let mut seen: Vec<String> = Vec::new();
    let mut enums = Vec::new();
    while let Some(name) = roots.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let Some(schema) = schemas.and_then(|s| s.get(&name)) else {
            continue;
        };
        let value = serde_json::to_value(schema).expect("schema serializes");
        if value.get("type").and_then(|t| t.as_str()) == Some("string")
            && value.get("enum").is_some()
        {
            enums.push(name);
        }
        collect_refs(&value, &mut roots);
    }
    enums.sort();
    enums
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
