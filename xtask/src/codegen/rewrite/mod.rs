//! Edits of progenitor's syntax tree where its output falls short of the spec, one concern per
//! file: open enums, deprecation marks, the base URL parsed once, request builders that can
//! build without sending, and query parameters written in one pass.

mod base_url;
mod builders;
mod deprecated;
mod open_enum;
mod query;

use syn::{Item, Stmt, Type};

use super::normalize::Findings;

/// Applies every rewrite the findings call for; returns one log line per rewrite made.
pub fn rewrite(file: &mut syn::File, findings: &Findings) -> Result<Vec<String>, String> {
    let mut log = Vec::new();
    for name in &findings.open_enums {
        open_enum::open_enum(file, name)?;
        log.push(format!(
            "types::{name}: closed enum -> open enum (a response may carry values the spec does not list; they are kept in Unknown(String))"
        ));
    }
    for op in &findings.deprecated {
        let method = rust_name(&op.operation_id);
        deprecated::mark_deprecated(file, &method, &op.note)?;
        log.push(format!(
            "Client::{method}: #[deprecated] ({} {} is `deprecated: true` in the spec)",
            op.method, op.path
        ));
    }
    if let Some(accept) = &findings.accept {
        file.items.push(syn::parse_quote! {
            /// The media type every request sends in `Accept` (the spec's `info.x-itwin-accept`):
            /// the API version lives in it.
            pub const ITWIN_ACCEPT: &str = #accept;
        });
        log.push(format!(
            "ITWIN_ACCEPT: {accept:?} (info.{}; sent in place of application/json)",
            super::normalize::ACCEPT_EXTENSION
        ));
    }
    base_url::base_url_parsed_once(file)?;
    log.push(
        "Client: base URL parsed once (crate::base_url::BaseUrl); each request's path is appended to it"
            .to_owned(),
    );
    let builders = builders::request_builders(file, findings.accept.is_some())?;
    log.push(format!(
        "builder::{{{}}}: into_request() (the request send() would send, built without sending it); \
         query parameters written in one pass; no api-version header{}",
        builders.join(", "),
        if findings.accept.is_some() {
            "; Accept: ITWIN_ACCEPT"
        } else {
            ""
        }
    ));
    file.items
        .push(deprecated::deprecation_table(&findings.deprecated));
    log.push(format!(
        "DEPRECATED_OPERATIONS: [{}]",
        findings
            .deprecated
            .iter()
            .map(|op| op.operation_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(log)
}

/// The method name progenitor gives an operation id (and what `OperationInfo` carries).
pub fn rust_name(operation_id: &str) -> String {
    operation_id.replace(['-', '.', ' '], "_").to_lowercase()
}

/// The items of the generated top-level `mod name`.
fn module_items<'a>(file: &'a mut syn::File, name: &str) -> Result<&'a mut Vec<Item>, String> {
    file.items
        .iter_mut()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == name => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        })
        .ok_or_else(|| format!("generated code has no `mod {name}`"))
}

/// Whether `ty` is a path ending in `name`.
fn is_type(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

/// Whether `stmt` is `let name = ..` (or `let mut name`).
fn binds(stmt: &Stmt, name: &str) -> bool {
    matches!(stmt, Stmt::Local(local) if names(local, name))
}

/// Whether the `let` binds `name`.
fn names(local: &syn::Local, name: &str) -> bool {
    matches!(&local.pat, syn::Pat::Ident(p) if p.ident == name)
}
