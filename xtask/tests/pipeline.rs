//! Behaviour of the generation pipeline on specs other than the project's own.

use xtask::codegen;

fn spec(yaml: &str) -> openapiv3::OpenAPI {
    serde_norway::from_str(yaml).unwrap()
}

const MIXED_SUCCESS: &str = r#"
openapi: 3.0.3
info: { title: t, version: v1 }
paths:
  /things:
    get:
      operationId: list-things
      responses:
        '200': { description: ok }
  /widgets:
    put:
      operationId: put-widget
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { type: object, properties: { a: { type: string } } }
        '204': { description: nothing }
"#;

#[test]
fn a_progenitor_panic_names_the_operation_instead_of_a_backtrace() {
    let error = codegen::generate(spec(MIXED_SUCCESS)).unwrap_err();
    assert!(error.contains("progenitor panicked"), "{error}");
    assert!(error.contains("PUT /widgets (put-widget)"), "{error}");
    assert!(!error.contains("list-things"), "{error}");
}

#[test]
fn openapi_3_1_is_rejected_before_generation() {
    let error = codegen::generate(spec(
        "openapi: 3.1.0\ninfo: { title: t, version: v1 }\npaths: {}\n",
    ))
    .unwrap_err();
    assert!(error.contains("3.1.0"), "{error}");
}

#[test]
fn vendor_json_media_types_become_application_json_and_are_logged() {
    let generated = codegen::generate(with_paths(
        r#"
  /things:
    get:
      operationId: list-things
      responses:
        '200':
          description: ok
          content:
            application/vnd.bentley.itwin-platform.v1+json:
              schema: { type: object, properties: { a: { type: string } } }
"#,
    ))
    .unwrap();
    assert_eq!(
        generated.log,
        [
            "GET /things (list-things) response 200: application/vnd.bentley.itwin-platform.v1+json -> application/json",
            "Client: base URL parsed once (crate::base_url::BaseUrl); each request's path is appended to it",
            "builder::{ListThings}: into_request() (the request send() would send, built without sending it); query parameters written in one pass; no api-version header",
            "DEPRECATED_OPERATIONS: []",
        ]
    );
    assert!(
        generated
            .source
            .contains("ResponseValue<types::ListThingsResponse>")
    );
}

#[test]
fn default_next_to_a_success_becomes_error_ranges() {
    let generated = codegen::generate(with_paths(
        r#"
  /things:
    get:
      operationId: list-things
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { type: object, properties: { a: { type: string } } }
        default:
          description: error
          content:
            application/json:
              schema: { type: object, properties: { message: { type: string } } }
"#,
    ))
    .unwrap();
    assert!(
        generated.log[0].ends_with("default response -> 4XX/5XX"),
        "{:?}",
        generated.log
    );
}

const ONE_OPERATION: &str = r#"
paths:
  /things:
    get:
      operationId: list-things
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { type: object, properties: { a: { type: string } } }
"#;

/// A spec with a minimal `info` and these `paths` (YAML, indented under `paths:`).
fn with_paths(paths: &str) -> openapiv3::OpenAPI {
    spec(&format!(
        "openapi: 3.0.3\ninfo: {{ title: t, version: v1 }}\npaths:\n{paths}"
    ))
}

fn with_info(info: &str) -> openapiv3::OpenAPI {
    spec(&format!("openapi: 3.0.3\ninfo: {info}\n{ONE_OPERATION}"))
}

#[test]
fn the_accept_extension_becomes_a_generated_constant() {
    let generated = codegen::generate(with_info(
        "{ title: t, version: v2, x-itwin-accept: application/vnd.example.v2+json }",
    ))
    .unwrap();
    assert!(
        generated
            .source
            .contains(r#"pub const ITWIN_ACCEPT: &str = "application/vnd.example.v2+json";"#),
        "no constant in the generated source"
    );
    assert!(
        generated
            .log
            .iter()
            .any(|l| l.starts_with(r#"ITWIN_ACCEPT: "application/vnd.example.v2+json""#)),
        "{:?}",
        generated.log
    );
}

#[test]
fn without_the_accept_extension_no_constant_is_generated() {
    let generated = codegen::generate(with_info("{ title: t, version: v1 }")).unwrap();
    assert!(!generated.source.contains("ITWIN_ACCEPT"));
}

#[test]
fn a_malformed_accept_extension_is_a_clear_error() {
    for (value, expected) in [
        ("42", "must be a string"),
        ("'application/json, text/plain'", "must be one media type"),
        ("vnd.bentley", "must be one media type"),
    ] {
        let error = codegen::generate(with_info(&format!(
            "{{ title: t, version: v1, x-itwin-accept: {value} }}"
        )))
        .unwrap_err();
        assert!(
            error.contains("info.x-itwin-accept") && error.contains(expected),
            "{value}: {error}"
        );
    }
}

#[test]
fn query_parameters_are_written_in_one_pass_in_their_order() {
    let generated = codegen::generate(with_paths(
        r#"
  /things:
    get:
      operationId: list-things
      parameters:
        - { name: zeta, in: query, required: true, schema: { type: string } }
        - { name: tags, in: query, schema: { type: array, items: { type: string } } }
        - { name: alpha, in: query, schema: { type: integer } }
      responses:
        '204': { description: nothing }
"#,
    ))
    .unwrap();
    let source = generated.source.replace(char::is_whitespace, "");
    assert!(!source.contains(".query("), "{}", generated.source);
    let pushes = [
        r#"query.push("alpha",&alpha)?;"#,
        r#"query.push("tags",&tags)?;"#,
        r#"query.push("zeta",&zeta)?;"#,
    ];
    let at: Vec<usize> = pushes
        .iter()
        .map(|push| source.find(push).unwrap_or_else(|| panic!("no {push}")))
        .collect();
    let mut sorted = at.clone();
    sorted.sort();
    assert_eq!(at, sorted, "pushed out of progenitor's order");
    assert!(source.contains("crate::query::write_query(request.url_mut(),|query|{"));
}

#[test]
fn operation_paths_are_appended_to_the_base_parsed_once() {
    let generated = codegen::generate(with_paths(
        r#"
  /things/{id}/parts:
    get:
      operationId: list-parts
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        '204': { description: nothing }
"#,
    ))
    .unwrap();
    let source = generated.source.replace(char::is_whitespace, "");
    assert!(!source.contains("client.baseurl,"), "{}", generated.source);
    assert!(
        source.contains(r#"leturl=client.base.join(&format!("/things/{}/parts",encode_path(&id.to_string())))?;"#),
        "{}",
        generated.source
    );
    assert!(source.contains("base:crate::base_url::BaseUrl::new(baseurl)"));
}
