//! Open enums: a closed enum typify generated, replaced by one that keeps values the spec does
//! not list in `Unknown(String)`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Attribute, Fields, Item, ItemEnum, LitStr};

use super::{is_type, module_items};

/// Replaces typify's closed enum `name` (and every impl on it) in `mod types` with one that keeps
/// unlisted values in `Unknown(String)`, reusing typify's variant names and wire values.
pub(super) fn open_enum(file: &mut syn::File, name: &str) -> Result<(), String> {
    let types = module_items(file, "types")?;
    let position = types
        .iter()
        .position(|item| matches!(item, Item::Enum(e) if e.ident == name))
        .ok_or_else(|| format!("types::{name} is not a generated enum"))?;
    let Item::Enum(closed) = &types[position] else {
        unreachable!("position matched an enum")
    };
    let replacement = OpenEnum::read(closed)?.tokens();
    types.retain(|item| !matches!(item, Item::Enum(e) if e.ident == name));
    types.retain(|item| !matches!(item, Item::Impl(i) if is_type(&i.self_ty, name)));
    let new_items: syn::File = syn::parse2(replacement).map_err(|e| e.to_string())?;
    let at = position.min(types.len());
    types.splice(at..at, new_items.items);
    Ok(())
}

/// What the open enum keeps of the closed one: its name, docs, variant names and wire values.
struct OpenEnum<'a> {
    name: &'a syn::Ident,
    docs: Vec<&'a Attribute>,
    variants: Vec<syn::Ident>,
    values: Vec<String>,
}

impl<'a> OpenEnum<'a> {
    /// Reads typify's enum; every variant must be a unit variant, its wire value the
    /// `#[serde(rename)]` when there is one.
    fn read(closed: &'a ItemEnum) -> Result<Self, String> {
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
        Ok(OpenEnum {
            name,
            docs,
            variants,
            values,
        })
    }

    /// The enum, its methods and its trait impls, in the order they are emitted.
    fn tokens(&self) -> TokenStream {
        let definition = self.definition();
        let conversions = self.conversions();
        let serde = self.serde();
        quote! {
            #definition
            #conversions
            #serde
        }
    }

    /// The enum and its inherent methods.
    fn definition(&self) -> TokenStream {
        let OpenEnum {
            name,
            docs,
            variants,
            values,
        } = self;
        let variant_docs = values.iter().map(|v| format!("`{v}`"));
        let unknown = format_ident!("Unknown");
        quote! {
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
        }
    }

    /// Conversions from and to text: `From<&str>`, `From<String>`, `FromStr`, `Display`.
    fn conversions(&self) -> TokenStream {
        let OpenEnum {
            name,
            variants,
            values,
            ..
        } = self;
        let unknown = format_ident!("Unknown");
        quote! {
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
        }
    }

    /// `Serialize`, `Deserialize` and `JsonSchema`: any string is accepted.
    fn serde(&self) -> TokenStream {
        let OpenEnum { name, values, .. } = self;
        let expecting = format!("a {name} string");
        let schema_name = name.to_string();
        let schema_description = self.description();
        quote! {
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
        }
    }

    /// The enum's doc text on one line, for its JSON Schema.
    fn description(&self) -> String {
        self.docs
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
            .join(" ")
    }
}
