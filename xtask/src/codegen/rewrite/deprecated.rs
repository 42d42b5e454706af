//! `deprecated: true` made visible: a `#[deprecated]` on each such `Client` method, and the
//! table of deprecated operations the runtime warning reads.

use quote::quote;
use syn::{Attribute, ImplItem, Item};

use super::{is_type, rust_name};
use crate::codegen::normalize::DeprecatedOperation;

/// Adds `#[deprecated(note)]` to `Client::method`.
pub(super) fn mark_deprecated(
    file: &mut syn::File,
    method: &str,
    note: &str,
) -> Result<(), String> {
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

/// `DEPRECATED_OPERATIONS`: one entry per deprecated operation, in the order the spec lists them.
pub(super) fn deprecation_table(ops: &[DeprecatedOperation]) -> Item {
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
