//! The URIs of a glTF's lists of objects (`buffers[].uri`, `images[].uri`), streamed; the
//! document around them is read in `document`.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use super::checked::{Checked, drain_map, drain_seq, ignore_other_types, seed_of_visitor};

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum UriKey {
    Uri,
    #[serde(other)]
    Other,
}

/// The `uri` strings of a list of objects (`buffers`, `images`), or of a glTF 1.0 dictionary
/// of them (objects keyed by id), in document order.
pub(super) struct UrisSeed;

seed_of_visitor!(UrisSeed => Vec<String>);

impl<'de> Visitor<'de> for UrisSeed {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of objects with a `uri`")
    }

    ignore_other_types!(Vec::new());

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut uris = Vec::new();
        while let Some((_, uri)) = map.next_entry_seed(CheckedKey, UriOfSeed)? {
            uris.extend(uri);
        }
        Ok(uris)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut uris = Vec::new();
        while let Some(uri) = seq.next_element_seed(UriOfSeed)? {
            uris.extend(uri);
        }
        Ok(uris)
    }
}

/// A key, read and checked as a parsed document reads it, then dropped.
struct CheckedKey;

impl<'de> de::DeserializeSeed<'de> for CheckedKey {
    type Value = Checked;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Checked, D::Error> {
        Checked::deserialize(deserializer)
    }
}

/// The `uri` string of an object; `None` for anything else.
struct UriOfSeed;

seed_of_visitor!(UriOfSeed => Option<String>);

impl<'de> Visitor<'de> for UriOfSeed {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a `uri`")
    }

    ignore_other_types!(None);

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut uri = None;
        while let Some(key) = map.next_key::<UriKey>()? {
            match key {
                UriKey::Uri => uri = map.next_value_seed(StringSeed)?,
                UriKey::Other => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        Ok(uri)
    }
}

/// A JSON string; `None` for any other value.
struct StringSeed;

seed_of_visitor!(StringSeed => Option<String>);

impl<'de> Visitor<'de> for StringSeed {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(text.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq).map(|()| None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|()| None)
    }
}

/// Keeps the first of each URI.
pub(super) fn dedup(uris: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    uris.into_iter()
        .filter(|u| seen.insert(u.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
