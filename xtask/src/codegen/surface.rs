//! A reviewable summary of the generated client: what a spec change does to users' code.

use syn::{Fields, ImplItem, Item, ItemImpl, Signature, Type, Visibility};

/// Every `Client` method with its deprecation mark, and the setters and `send` of its builder.
pub fn methods(source: &str) -> Result<String, String> {
    let file = syn::parse_file(source).map_err(|e| e.to_string())?;
    let builders = module(&file, "builder");
    let mut out = String::new();
    for imp in impls(&file.items, "Client") {
        for entry in &imp.items {
            let ImplItem::Fn(f) = entry else { continue };
            if !matches!(f.vis, Visibility::Public(_)) {
                continue;
            }
            let deprecated = f.attrs.iter().any(|a| a.path().is_ident("deprecated"));
            out.push_str(&format!(
                "{}{}\n",
                if deprecated { "#[deprecated] " } else { "" },
                signature(&f.sig)
            ));
            let Some(Type::Path(ret)) = return_type(&f.sig) else {
                continue;
            };
            let Some(builder) = ret.path.segments.last() else {
                continue;
            };
            for imp in impls(builders, &builder.ident.to_string()) {
                for entry in &imp.items {
                    if let ImplItem::Fn(setter) = entry
                        && matches!(setter.vis, Visibility::Public(_))
                        && setter.sig.ident != "new"
                    {
                        out.push_str(&format!("    .{}\n", signature(&setter.sig)));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Every generated type with its fields or variants.
pub fn types(source: &str) -> Result<String, String> {
    let file = syn::parse_file(source).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for item in module(&file, "types") {
        match item {
            Item::Struct(s) => {
                out.push_str(&format!("struct {}\n", s.ident));
                if let Fields::Named(fields) = &s.fields {
                    for field in &fields.named {
                        let name = field
                            .ident
                            .as_ref()
                            .map(|i| i.to_string())
                            .unwrap_or_default();
                        out.push_str(&format!("    {name}: {}\n", type_text(&field.ty)));
                    }
                }
            }
            Item::Enum(e) => {
                out.push_str(&format!("enum {}\n", e.ident));
                for variant in &e.variants {
                    let payload = match &variant.fields {
                        Fields::Unnamed(f) => format!(
                            "({})",
                            f.unnamed
                                .iter()
                                .map(|f| type_text(&f.ty))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        _ => String::new(),
                    };
                    out.push_str(&format!("    {}{payload}\n", variant.ident));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn module<'a>(file: &'a syn::File, name: &str) -> &'a [Item] {
    file.items
        .iter()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == name => {
                m.content.as_ref().map(|(_, items)| items.as_slice())
            }
            _ => None,
        })
        .unwrap_or(&[])
}

fn impls<'a>(items: &'a [Item], name: &'a str) -> impl Iterator<Item = &'a ItemImpl> + 'a {
    items.iter().filter_map(move |item| match item {
        Item::Impl(imp)
            if imp.trait_.is_none()
                && matches!(&*imp.self_ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name)) =>
        {
            Some(imp)
        }
        _ => None,
    })
}

fn return_type(sig: &Signature) -> Option<&Type> {
    match &sig.output {
        syn::ReturnType::Type(_, ty) => Some(ty),
        syn::ReturnType::Default => None,
    }
}

/// A signature as one line of ordinary Rust.
fn signature(sig: &Signature) -> String {
    let item: syn::ItemFn = syn::parse_quote!(pub #sig {});
    one_line(&prettyplease::unparse(&syn::parse_quote!(#item)))
        .trim_end_matches("{}")
        .trim_start_matches("pub ")
        .trim()
        .trim_end_matches(',')
        .to_owned()
}

fn type_text(ty: &Type) -> String {
    let item: syn::ItemType = syn::parse_quote!(type T = #ty;);
    let text = one_line(&prettyplease::unparse(&syn::parse_quote!(#item)));
    text.trim_start_matches("type T = ")
        .trim_end_matches(';')
        .to_owned()
}

/// Collapses whitespace and drops the `::std::...::` paths prettyplease prints for prelude types.
fn one_line(text: &str) -> String {
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for (from, to) in [
        ("( ", "("),
        (" )", ")"),
        (",)", ")"),
        ("< ", "<"),
        (" >", ">"),
        ("::std::option::", ""),
        ("::std::string::", ""),
        ("::std::vec::", ""),
        ("::std::result::", ""),
        ("::std::convert::", ""),
    ] {
        line = line.replace(from, to);
    }
    line
}
