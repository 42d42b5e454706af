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
    let generated = codegen::generate(spec(
        r#"
openapi: 3.0.3
info: { title: t, version: v1 }
paths:
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
            "builder::{ListThings}: into_request() (the request send() would send, built without sending it); no api-version header",
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
    let generated = codegen::generate(spec(
        r#"
openapi: 3.0.3
info: { title: t, version: v1 }
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
