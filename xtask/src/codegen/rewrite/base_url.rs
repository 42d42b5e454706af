//! The base URL parsed once: the generated `Client` keeps a parsed `BaseUrl`, and each request
//! joins its path to it instead of formatting and parsing the whole URL again.

use quote::quote;
use syn::{Fields, ImplItem, Item, Stmt};

use super::{is_type, names};

/// Gives the generated `Client` a `base: BaseUrl`, its base URL parsed once when it is made.
pub(super) fn base_url_parsed_once(file: &mut syn::File) -> Result<(), String> {
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
pub(super) fn url_from_parsed_base(build: &mut [Stmt]) -> Result<(), String> {
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
