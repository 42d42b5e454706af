//! Edits of progenitor's syntax tree where its output falls short of the spec.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use syn::{Attribute, Fields, ImplItem, Item, ItemEnum, LitStr, Stmt, Type};

use super::normalize::{DeprecatedOperation, Findings};

/// Applies every rewrite the findings call for; returns one log line per rewrite made.
pub fn rewrite(file: &mut syn::File, findings: &Findings) -> Result<Vec<String>, String> {
    let mut log = Vec::new();
    for name in &findings.open_enums {
        open_enum(file, name)?;
        log.push(format!(
            "types::{name}: closed enum -> open enum (a response may carry values the spec does not list; they are kept in Unknown(String))"
        ));
    }
    for op in &findings.deprecated {
        let method = rust_name(&op.operation_id);
        mark_deprecated(file, &method, &op.note)?;
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
    base_url_parsed_once(file)?;
    log.push(
        "Client: base URL parsed once (crate::base_url::BaseUrl); each request's path is appended to it"
            .to_owned(),
    );
    let builders = request_builders(file, findings.accept.is_some())?;
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
    file.items.push(deprecation_table(&findings.deprecated));
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

fn mark_deprecated(file: &mut syn::File, method: &str, note: &str) -> Result<(), String> {
    let attr: Attribute = syn::parse_quote!(#[deprecated(note = #note)]);
    let mut found = false;
    for item in &mut file.items {
        let Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() || !is_type(&imp.self_ty, "Client") {
            continue;
        }
        for entry in &mut imp.items {
            if let ImplItem::Fn(f) = entry
                && f.sig.ident == method
            {
                f.attrs.push(attr.clone());
                found = true;
            }
        }
    }
    found
        .then_some(())
        .ok_or_else(|| format!("deprecated operation has no method Client::{method}"))
}

/// Splits each builder's `send` in `mod builder` in two: `into_request`, which builds the
/// request and stops there (so a caller can send it its own way, and build it again for a
/// retry instead of copying it), and `send`, which runs the hooks on it as before. The request
/// is built the way the service wants it: progenitor's `api-version` header (from `info.version`,
/// which the service does not know) is dropped, and with `accept` its `Accept:
/// application/json` becomes `ITWIN_ACCEPT`. Returns the builders' names.
fn request_builders(file: &mut syn::File, accept: bool) -> Result<Vec<String>, String> {
    let builders = module_items(file, "builder")?;
    let mut names = Vec::new();
    for item in builders.iter_mut() {
        let Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        let Type::Path(self_ty) = &*imp.self_ty else {
            continue;
        };
        let name = self_ty.path.segments.last().map(|s| s.ident.to_string());
        let Some(position) = imp
            .items
            .iter()
            .position(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == "send"))
        else {
            continue;
        };
        let name = name.ok_or("a builder without a name")?;
        let ImplItem::Fn(send) = &mut imp.items[position] else {
            unreachable!("position matched a fn")
        };
        let (operation_id, into_request) =
            split_send(send, accept).map_err(|e| format!("builder::{name}: {e}"))?;
        imp.items.insert(position, into_request);
        imp.items.insert(
            0,
            syn::parse_quote! {
                /// The operation id the hooks see in `OperationInfo` for this builder's requests.
                pub const OPERATION_ID: &'static str = #operation_id;
            },
        );
        names.push(name);
    }
    if names.is_empty() {
        return Err("`mod builder` has no builder with a `send` method".into());
    }
    Ok(names)
}

/// Moves the statements of `send` that build the request (everything before `let info = ..`)
/// into a new `into_request`, and has `send` call it. Returns the operation id `send` hands
/// its hooks, and `into_request`.
fn split_send(send: &mut syn::ImplItemFn, accept: bool) -> Result<(LitStr, ImplItem), String> {
    let syn::ReturnType::Type(_, returned) = &send.sig.output else {
        return Err("send returns nothing".into());
    };
    let error = result_error_type(returned).ok_or("send does not return a Result")?;
    let stmts = &mut send.block.stmts;
    let split = stmts
        .iter()
        .position(|s| binds(s, "info"))
        .ok_or("no `let info` statement after the request is built")?;
    let rest = stmts.split_off(split);
    let operation_id = operation_id(&rest[0]).ok_or("`let info` names no operation_id")?;
    let mut build: Vec<Stmt> = std::mem::take(stmts);
    let before = build.len();
    build.retain(|s| !quote!(#s).to_string().contains("\"api-version\""));
    if build.len() != before - 1 {
        return Err(format!(
            "expected one api-version header, found {}",
            before - build.len()
        ));
    }
    if accept {
        let mut fix = AcceptFix { replaced: 0 };
        for stmt in &mut build {
            fix.visit_stmt_mut(stmt);
        }
        if fix.replaced != 1 {
            return Err(format!(
                "expected one `Accept: application/json`, found {}",
                fix.replaced
            ));
        }
    }
    url_from_parsed_base(&mut build)?;
    query_in_one_pass(&mut build)?;
    // progenitor names the builder's client field `_client` when the operation has a
    // parameter `client`; the hooks after the split use that name.
    let hooks = quote!(#(#rest)*).to_string();
    let receiver = if hooks.contains("_client .") {
        quote!(_client)
    } else {
        quote!(client)
    };
    *stmts = syn::parse_quote! {
        let #receiver = self.#receiver;
        #[allow(unused_mut)]
        let mut request = self.into_request()?;
    };
    stmts.extend(rest);
    let into_request = syn::parse_quote! {
        /// Builds the request [`send`](Self::send) would send, without sending it (no hooks
        /// run).
        pub fn into_request(self) -> Result<::reqwest::Request, #error> {
            #(#build)*
            Ok(request)
        }
    };
    Ok((operation_id, into_request))
}

/// Gives the generated `Client` a `base: BaseUrl`, its base URL parsed once when it is made.
fn base_url_parsed_once(file: &mut syn::File) -> Result<(), String> {
    let client = file
        .items
        .iter_mut()
        .find_map(|item| match item {
            Item::Struct(s) if s.ident == "Client" => Some(s),
            _ => None,
        })
        .ok_or("generated code has no `struct Client`")?;
    let Fields::Named(fields) = &mut client.fields else {
        return Err("`struct Client` has no named fields".into());
    };
    fields
        .named
        .push(syn::parse_quote!(pub(crate) base: crate::base_url::BaseUrl));
    let constructor = file
        .items
        .iter_mut()
        .filter_map(|item| match item {
            Item::Impl(imp) if imp.trait_.is_none() && is_type(&imp.self_ty, "Client") => Some(imp),
            _ => None,
        })
        .flat_map(|imp| imp.items.iter_mut())
        .find_map(|item| match item {
            ImplItem::Fn(f) if f.sig.ident == "new_with_client" => Some(f),
            _ => None,
        })
        .ok_or("generated code has no `Client::new_with_client`")?;
    let Some(Stmt::Expr(syn::Expr::Struct(init), None)) = constructor.block.stmts.last_mut() else {
        return Err("`Client::new_with_client` does not end with `Self { .. }`".into());
    };
    // `base` is parsed from the constructor's argument, so the field must be that argument as
    // it is: a constructor that changed it first would leave the two disagreeing.
    let expected = quote!(baseurl: baseurl.to_string()).to_string();
    if !init
        .fields
        .iter()
        .any(|f| quote!(#f).to_string() == expected)
    {
        return Err("`Client::new_with_client` does not set `baseurl: baseurl.to_string()`".into());
    }
    init.fields
        .push(syn::parse_quote!(base: crate::base_url::BaseUrl::new(baseurl)));
    Ok(())
}

/// Replaces `let url = format!("{}<path>", client.baseurl, <path args>..)` with
/// `client.base.join(..)` of the same path, so the base is not parsed again for each request.
fn url_from_parsed_base(build: &mut [Stmt]) -> Result<(), String> {
    let mut found = 0;
    for stmt in build.iter_mut() {
        let Stmt::Local(local) = stmt else { continue };
        if !names(local, "url") {
            continue;
        }
        let Some(init) = local.init.as_mut() else {
            continue;
        };
        let syn::Expr::Macro(format) = &*init.expr else {
            return Err("`let url` is not a `format!`".into());
        };
        if !format.mac.path.is_ident("format") {
            return Err("`let url` is not a `format!`".into());
        }
        let args = format
            .mac
            .parse_body_with(
                syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
            )
            .map_err(|e| format!("`let url = format!(..)`: {e}"))?;
        let mut args = args.into_iter();
        let template = match args.next() {
            Some(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(template),
                ..
            })) => template,
            _ => return Err("`let url = format!(..)` has no template".into()),
        };
        let path_template = template
            .value()
            .strip_prefix("{}")
            .ok_or("the url template does not start with the base URL")?
            .to_owned();
        let base = args.next().ok_or("the url template names no base URL")?;
        // progenitor names the client `_client` when an operation has a parameter `client`.
        let receiver = match quote!(#base).to_string().as_str() {
            "client . baseurl" => quote!(client),
            "_client . baseurl" => quote!(_client),
            other => {
                return Err(format!(
                    "the url template starts with `{other}`, not `client.baseurl`"
                ));
            }
        };
        let path_args: Vec<syn::Expr> = args.collect();
        // Only `{}` placeholders, one per argument: anything else (an inline `{name}`, an
        // escaped brace, a format spec) would reach the URL as literal text.
        let without_placeholders = path_template.replace("{}", "");
        if without_placeholders.contains(['{', '}'])
            || path_template.matches("{}").count() != path_args.len()
        {
            return Err(format!(
                "the url template {:?} is not a path with one `{{}}` per argument",
                template.value()
            ));
        }
        let path = if path_args.is_empty() {
            quote!(#path_template)
        } else {
            quote!(&format!(#path_template, #(#path_args),*))
        };
        *init.expr = syn::parse_quote!(#receiver.base.join(#path)?);
        found += 1;
    }
    if found != 1 {
        return Err(format!(
            "expected one `let url = format!(..)`, found {found}"
        ));
    }
    Ok(())
}

/// Takes progenitor's `.query(&QueryParam::new(name, &value))` calls, one per query parameter,
/// out of the chain that builds `request`, and writes the same parameters in the same order
/// with one `write_query` after it: each `query` call moves the whole builder and opens the
/// URL's query again, which was a measurable part of a call's cost.
fn query_in_one_pass(build: &mut Vec<Stmt>) -> Result<(), String> {
    let position = build
        .iter()
        .position(|s| binds(s, "request"))
        .ok_or("no `let request` statement")?;
    let Stmt::Local(local) = &mut build[position] else {
        unreachable!("position matched a let")
    };
    let init = local.init.as_mut().ok_or("`let request` has no value")?;
    let mut take = TakeQueryParams::default();
    take.visit_expr_mut(&mut init.expr);
    if let Some(unexpected) = take.unexpected {
        return Err(format!(
            "a query call that is not `&progenitor_client::QueryParam::new(name, &value)`: {unexpected}"
        ));
    }
    if take.params.is_empty() {
        return Ok(());
    }
    // The chain is visited from its last call inwards.
    take.params.reverse();
    let pushes = take
        .params
        .iter()
        .map(|(name, value)| quote!(query.push(#name, #value)?;));
    build.insert(
        position + 1,
        syn::parse_quote! {
            crate::query::write_query(request.url_mut(), |query| {
                #(#pushes)*
                Ok(())
            })?;
        },
    );
    Ok(())
}

/// Removes `.query(&progenitor_client::QueryParam::new(name, value))` calls from a method
/// chain, keeping each `(name, value)`; any other `query` call is reported.
#[derive(Default)]
struct TakeQueryParams {
    params: Vec<(syn::Expr, syn::Expr)>,
    unexpected: Option<String>,
}

impl VisitMut for TakeQueryParams {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        while let syn::Expr::MethodCall(call) = expr
            && call.method == "query"
        {
            match query_param(call) {
                Some(param) => {
                    self.params.push(param);
                    *expr = (*call.receiver).clone();
                }
                None => {
                    self.unexpected
                        .get_or_insert_with(|| quote!(#call).to_string());
                    break;
                }
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}

/// `(name, value)` of `.query(&progenitor_client::QueryParam::new(name, value))`.
fn query_param(call: &syn::ExprMethodCall) -> Option<(syn::Expr, syn::Expr)> {
    let [syn::Expr::Reference(arg)] = call.args.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let syn::Expr::Call(new) = &*arg.expr else {
        return None;
    };
    let syn::Expr::Path(function) = &*new.func else {
        return None;
    };
    let names: Vec<String> = function
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if names != ["progenitor_client", "QueryParam", "new"] || new.args.len() != 2 {
        return None;
    }
    Some((new.args[0].clone(), new.args[1].clone()))
}

/// Whether `stmt` is `let name = ..` (or `let mut name`).
fn binds(stmt: &Stmt, name: &str) -> bool {
    matches!(stmt, Stmt::Local(local) if names(local, name))
}

/// Whether the `let` binds `name`.
fn names(local: &syn::Local, name: &str) -> bool {
    matches!(&local.pat, syn::Pat::Ident(p) if p.ident == name)
}

/// The string in `let info = OperationInfo { operation_id: "..." };`.
fn operation_id(stmt: &Stmt) -> Option<LitStr> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    let syn::Expr::Struct(info) = &*local.init.as_ref()?.expr else {
        return None;
    };
    info.fields
        .iter()
        .find_map(|field| match (&field.member, &field.expr) {
            (syn::Member::Named(name), syn::Expr::Lit(lit)) if name == "operation_id" => {
                match &lit.lit {
                    syn::Lit::Str(id) => Some(id.clone()),
                    _ => None,
                }
            }
            _ => None,
        })
}

/// `E` of a `Result<T, E>`.
fn result_error_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().nth(1)? {
        syn::GenericArgument::Type(error) => Some(error),
        _ => None,
    }
}

/// Replaces the value of `.header(ACCEPT, HeaderValue::from_static("application/json"))` with
/// the spec's media type.
struct AcceptFix {
    replaced: usize,
}

impl VisitMut for AcceptFix {
    fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
        syn::visit_mut::visit_expr_method_call_mut(self, call);
        if call.method != "header" || call.args.len() != 2 {
            return;
        }
        let name = &call.args[0];
        let value = &call.args[1];
        let names_accept = quote!(#name).to_string().ends_with("ACCEPT");
        let is_json = quote!(#value).to_string().contains("\"application/json\"");
        if names_accept && is_json {
            call.args[1] = syn::parse_quote!(::reqwest::header::HeaderValue::from_static(
                super::ITWIN_ACCEPT
            ));
            self.replaced += 1;
        }
    }
}

fn deprecation_table(ops: &[DeprecatedOperation]) -> Item {
    let entries = ops.iter().map(|op| {
        let (id, rust, method, path, note) = (
            &op.operation_id,
            rust_name(&op.operation_id),
            &op.method,
            &op.path,
            &op.note,
        );
        let replacement = match &op.replacement {
            Some(r) => quote!(Some(#r)),
            None => quote!(None),
        };
        quote! {
            crate::DeprecatedOperation {
                operation_id: #id,
                method_name: #rust,
                http_method: #method,
                path: #path,
                note: #note,
                replacement: #replacement,
            }
        }
    });
    syn::parse_quote! {
        /// Operations the spec marks `deprecated: true`, with the reason it gives.
        pub const DEPRECATED_OPERATIONS: &[crate::DeprecatedOperation] = &[#(#entries),*];
    }
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

fn is_type(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

/// Replaces typify's closed enum `name` (and every impl on it) in `mod types` with one that keeps
/// unlisted values in `Unknown(String)`, reusing typify's variant names and wire values.
fn open_enum(file: &mut syn::File, name: &str) -> Result<(), String> {
    let types = module_items(file, "types")?;
    let position = types
        .iter()
        .position(|item| matches!(item, Item::Enum(e) if e.ident == name))
        .ok_or_else(|| format!("types::{name} is not a generated enum"))?;
    let Item::Enum(closed) = &types[position] else {
        unreachable!("position matched an enum")
    };
    let replacement = open_enum_tokens(closed)?;
    types.retain(|item| !matches!(item, Item::Enum(e) if e.ident == name));
    types.retain(|item| !matches!(item, Item::Impl(i) if is_type(&i.self_ty, name)));
    let new_items: syn::File = syn::parse2(replacement).map_err(|e| e.to_string())?;
    let at = position.min(types.len());
    types.splice(at..at, new_items.items);
    Ok(())
}

fn open_enum_tokens(closed: &ItemEnum) -> Result<TokenStream, String> {
    let name = &closed.ident;
    let docs: Vec<&Attribute> = closed
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let mut variants = Vec::new();
    let mut values = Vec::new();
    for variant in &closed.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(format!("{name}::{} is not a unit variant", variant.ident));
        }
        let mut wire = variant.ident.to_string();
        for attr in variant.attrs.iter().filter(|a| a.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    wire = meta.value()?.parse::<LitStr>()?.value();
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        }
        variants.push(variant.ident.clone());
        values.push(wire);
    }
    let variant_docs = values.iter().map(|v| format!("`{v}`"));
    let unknown = format_ident!("Unknown");
    let expecting = format!("a {name} string");
    let schema_name = name.to_string();
    let schema_description = docs
        .iter()
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ");
    Ok(quote! {
        #(#docs)*
        ///
        /// Open: a value this client does not list is kept in `Unknown` instead of failing the
        /// whole response.
        #[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
        pub enum #name {
            #(#[doc = #variant_docs] #variants,)*
            /// A value this version of the client does not know, kept verbatim.
            #unknown(::std::string::String),
        }

        impl #name {
            /// The value as the service spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#variants => #values,)*
                    Self::#unknown(value) => value.as_str(),
                }
            }

            /// Whether the value is one this client does not list.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::#unknown(_))
            }

            /// Whether two values are the same ignoring ASCII case: the service echoes some
            /// values in another case than it was sent.
            pub fn eq_ignore_ascii_case(&self, other: &Self) -> bool {
                self.as_str().eq_ignore_ascii_case(other.as_str())
            }
        }

        impl ::std::convert::From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #(#values => Self::#variants,)*
                    other => Self::#unknown(other.to_owned()),
                }
            }
        }

        impl ::std::convert::From<::std::string::String> for #name {
            fn from(value: ::std::string::String) -> Self {
                match Self::from(value.as_str()) {
                    Self::#unknown(_) => Self::#unknown(value),
                    known => known,
                }
            }
        }

        impl ::std::convert::From<&#name> for #name {
            fn from(value: &#name) -> Self {
                value.clone()
            }
        }

        impl ::std::str::FromStr for #name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(Self::from(value))
            }
        }

        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        /// Any string: the values the spec lists, or one it does not (kept in `Unknown`).
        impl ::schemars::JsonSchema for #name {
            fn schema_name() -> ::std::string::String {
                #schema_name.to_owned()
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::schema::Schema {
                ::serde_json::from_value(::serde_json::json!({
                    "type": "string",
                    "description": #schema_description,
                    "anyOf": [{ "enum": [#(#values),*] }, { "type": "string" }],
                }))
                .expect("an open enum's schema is a valid JSON Schema")
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                struct Visitor;
                impl ::serde::de::Visitor<'_> for Visitor {
                    type Value = #name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#expecting)
                    }
                    fn visit_str<E: ::serde::de::Error>(self, value: &str) -> ::std::result::Result<#name, E> {
                        Ok(#name::from(value))
                    }
                    fn visit_string<E: ::serde::de::Error>(self, value: ::std::string::String) -> ::std::result::Result<#name, E> {
                        Ok(#name::from(value))
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten_url(statement: syn::Stmt) -> Result<String, String> {
        let mut build = vec![statement];
        url_from_parsed_base(&mut build)?;
        let stmt = &build[0];
        Ok(quote!(#stmt).to_string())
    }

    #[test]
    fn a_url_template_with_positional_arguments_becomes_a_join() {
        let rewritten = rewritten_url(syn::parse_quote! {
            let url = format!("{}/things/{}", client.baseurl, encode_path(&id.to_string()),);
        })
        .unwrap();
        assert_eq!(
            rewritten,
            quote!(let url = client.base.join(&format!("/things/{}", encode_path(&id.to_string())))?;)
                .to_string()
        );
    }

    #[test]
    fn a_client_renamed_for_a_client_parameter_keeps_its_name() {
        let rewritten = rewritten_url(syn::parse_quote! {
            let url = format!("{}/", _client.baseurl,);
        })
        .unwrap();
        assert_eq!(
            rewritten,
            quote!(let url = _client.base.join("/")?;).to_string()
        );
    }

    #[test]
    fn a_url_template_the_rewrite_cannot_read_is_an_error() {
        for statement in [
            // Inline named arguments: `{id}` would reach the URL as text.
            syn::parse_quote!(let url = format!("{}/things/{id}", client.baseurl);),
            // An escaped brace: the literal path would keep both.
            syn::parse_quote!(let url = format!("{}/things/{{x}}", client.baseurl);),
            // More placeholders than arguments, or fewer.
            syn::parse_quote!(let url = format!("{}/a/{}", client.baseurl);),
            syn::parse_quote!(let url = format!("{}/a", client.baseurl, id);),
            syn::parse_quote!(let url = format!("{}/a/{:?}", client.baseurl, id);),
        ] {
            let shown = quote!(#statement).to_string();
            assert!(rewritten_url(statement).is_err(), "accepted {shown}");
        }
    }

    #[test]
    fn a_constructor_that_changes_the_base_url_is_an_error() {
        let mut file: syn::File = syn::parse_quote! {
            pub struct Client { pub(crate) baseurl: String, pub(crate) client: reqwest::Client }
            impl Client {
                pub fn new_with_client(baseurl: &str, client: reqwest::Client) -> Self {
                    Self { baseurl: baseurl.trim_end_matches('/').to_string(), client }
                }
            }
        };
        let error = base_url_parsed_once(&mut file).unwrap_err();
        assert!(error.contains("baseurl.to_string()"), "{error}");
    }
}
