//! The request builders of `mod builder`: each `send` split into `into_request` and `send`, the
//! request built the way the service wants it.

use quote::quote;
use syn::visit_mut::VisitMut;
use syn::{ImplItem, Item, LitStr, Stmt, Type};

use super::base_url::url_from_parsed_base;
use super::query::query_in_one_pass;
use super::{binds, module_items};

/// Splits each builder's `send` in `mod builder` in two: `into_request`, which builds the
/// request and stops there (so a caller can send it its own way, and build it again for a
/// retry instead of copying it), and `send`, which runs the hooks on it as before. The request
/// is built the way the service wants it: progenitor's `api-version` header (from `info.version`,
/// which the service does not know) is dropped, and with `accept` its `Accept:
/// application/json` becomes `ITWIN_ACCEPT`. Returns the builders' names.
pub(super) fn request_builders(file: &mut syn::File, accept: bool) -> Result<Vec<String>, String> {
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
