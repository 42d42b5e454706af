//! Query parameters written in one pass instead of one `query` call each.

use quote::quote;
use syn::Stmt;
use syn::visit_mut::VisitMut;

use super::binds;

/// Takes progenitor's `.query(&QueryParam::new(name, &value))` calls, one per query parameter,
/// out of the chain that builds `request`, and writes the same parameters in the same order
/// with one `write_query` after it: each `query` call moves the whole builder and opens the
/// URL's query again, which was a measurable part of a call's cost.
pub(super) fn query_in_one_pass(build: &mut Vec<Stmt>) -> Result<(), String> {
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
