//! Skipping JSON without trusting it: a value read and checked as a parsed document is, then
//! dropped, and the small macros the streaming visitors share.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

/// A seed that is its own visitor, for any JSON value: `DeserializeSeed` by `deserialize_any`.
macro_rules! seed_of_visitor {
    ($seed:ty => $value:ty) => {
        impl<'de> ::serde::de::DeserializeSeed<'de> for $seed {
            type Value = $value;

            fn deserialize<D: ::serde::de::Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<$value, D::Error> {
                deserializer.deserialize_any(self)
            }
        }
    };
}
pub(super) use seed_of_visitor;

/// Visitor methods for the JSON types a visitor does not look into: they are consumed and
/// yield `$value`, as `Value::get` on them would have found nothing.
macro_rules! ignore_other_types {
    ($value:expr) => {
        fn visit_bool<E: ::serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: ::serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: ::serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: ::serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: ::serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: ::serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}
pub(super) use ignore_other_types;

/// A JSON value read and checked as a parsed document is (UTF-8 and escapes in strings,
/// numbers in range, nesting depth), then dropped. `IgnoredAny` skips a value without those
/// checks, so a corrupt part of a file that is not looked into would pass.
pub(super) struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    ignore_other_types!(Checked);

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Checked, A::Error> {
        drain_seq(seq).map(|()| Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Checked, A::Error> {
        drain_map(map).map(|()| Checked)
    }
}

/// Reads and checks every element of a sequence.
pub(super) fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Checked>()?.is_some() {}
    Ok(())
}

/// Reads and checks every key and value of a map.
pub(super) fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Checked, Checked>()?.is_some() {}
    Ok(())
}
