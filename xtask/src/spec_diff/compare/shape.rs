//! What of a schema the comparison looks at, read the same way whichever way a document
//! spelled it (a typed schema or one of loose keywords).

use indexmap::IndexMap;
use openapiv3::{ReferenceOr, Schema, SchemaKind, Type, VariantOrUnknownOrEmpty};

/// What of a schema the comparison looks at, whichever way the document spelled it.
pub(super) struct Shape<'a> {
    pub(super) kind: String,
    pub(super) format: Option<String>,
    pub(super) enumeration: Option<Vec<String>>,
    pub(super) properties: Option<&'a IndexMap<String, ReferenceOr<Box<Schema>>>>,
    pub(super) required: &'a [String],
    pub(super) items: Option<&'a ReferenceOr<Box<Schema>>>,
    pub(super) branches: &'a [ReferenceOr<Schema>],
}

/// A schema's `format`, as the document spells it.
fn format_of<T: serde::Serialize>(format: &VariantOrUnknownOrEmpty<T>) -> Option<String> {
    match format {
        VariantOrUnknownOrEmpty::Item(item) => {
            serde_json::to_value(item).ok()?.as_str().map(str::to_owned)
        }
        VariantOrUnknownOrEmpty::Unknown(text) => Some(text.clone()),
        VariantOrUnknownOrEmpty::Empty => None,
    }
}

/// A schema's `enum` values as text, or `None` when it has none.
fn enum_of<T: serde::Serialize>(values: &[T]) -> Option<Vec<String>> {
    if values.is_empty() {
        return None;
    }
    Some(
        values
            .iter()
            .map(|v| match serde_json::to_value(v) {
                Ok(serde_json::Value::String(s)) => s,
                Ok(other) => other.to_string(),
                Err(_) => "?".to_owned(),
            })
            .collect(),
    )
}

impl<'a> Shape<'a> {
    /// Reads what the comparison needs from `schema`.
    pub(super) fn of(schema: &'a Schema) -> Shape<'a> {
        let mut shape = Shape {
            kind: String::new(),
            format: None,
            enumeration: None,
            properties: None,
            required: &[],
            items: None,
            branches: &[],
        };
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(t)) => {
                shape.kind = "string".into();
                shape.format = format_of(&t.format);
                shape.enumeration = enum_of(&t.enumeration);
            }
            SchemaKind::Type(Type::Number(t)) => {
                shape.kind = "number".into();
                shape.format = format_of(&t.format);
                shape.enumeration = enum_of(&t.enumeration);
            }
            SchemaKind::Type(Type::Integer(t)) => {
                shape.kind = "integer".into();
                shape.format = format_of(&t.format);
                shape.enumeration = enum_of(&t.enumeration);
            }
            SchemaKind::Type(Type::Boolean(t)) => {
                shape.kind = "boolean".into();
                shape.enumeration = enum_of(&t.enumeration);
            }
            SchemaKind::Type(Type::Object(t)) => {
                shape.kind = "object".into();
                shape.properties = Some(&t.properties);
                shape.required = &t.required;
            }
            SchemaKind::Type(Type::Array(t)) => {
                shape.kind = "array".into();
                shape.items = t.items.as_ref();
            }
            SchemaKind::OneOf { one_of } => {
                shape.kind = "oneOf".into();
                shape.branches = one_of;
            }
            SchemaKind::AllOf { all_of } => {
                shape.kind = "allOf".into();
                shape.branches = all_of;
            }
            SchemaKind::AnyOf { any_of } => {
                shape.kind = "anyOf".into();
                shape.branches = any_of;
            }
            SchemaKind::Not { .. } => shape.kind = "not".into(),
            SchemaKind::Any(any) => {
                // No `type`, or keywords of several kinds: infer what the document means.
                shape.kind = match &any.typ {
                    Some(t) => t.clone(),
                    None if !any.properties.is_empty() || !any.required.is_empty() => {
                        "object".into()
                    }
                    None if any.items.is_some() => "array".into(),
                    None if !any.one_of.is_empty() => "oneOf".into(),
                    None if !any.all_of.is_empty() => "allOf".into(),
                    None if !any.any_of.is_empty() => "anyOf".into(),
                    None => "any".into(),
                };
                shape.format = any.format.clone();
                shape.enumeration = enum_of(&any.enumeration);
                shape.properties = Some(&any.properties);
                shape.required = &any.required;
                shape.items = any.items.as_ref();
                shape.branches = if !any.one_of.is_empty() {
                    &any.one_of
                } else if !any.all_of.is_empty() {
                    &any.all_of
                } else {
                    &any.any_of
                };
            }
        }
        shape
    }

    /// The type in words: `string (date-time)`.
    pub(super) fn type_text(&self) -> String {
        match &self.format {
            Some(format) => format!("{} ({format})", self.kind),
            None => self.kind.clone(),
        }
    }
}
