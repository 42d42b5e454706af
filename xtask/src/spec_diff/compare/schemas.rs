//! Schemas: type, format, nullability, enum values, items, composition branches and
//! properties, compared recursively and judged by the direction each is used in.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use openapiv3::{ReferenceOr, Schema};

use super::place::{Place, Rules};
use super::shape::Shape;
use super::{Walker, list};
use crate::spec_diff::resolve::{self, SchemaRef, Usage};

impl<'a> Walker<'a> {
    /// Two schemas at `place`, either of which may be a `$ref`: the same component on both
    /// sides is queued for its own group; recursion through differently named pairs stops at
    /// a pair already being compared.
    pub(super) fn schema(
        &mut self,
        group: &str,
        usage: Usage,
        place: &Place,
        old: SchemaRef<'a>,
        new: SchemaRef<'a>,
    ) -> Result<(), String> {
        if let (SchemaRef::Ref(o), SchemaRef::Ref(n)) = (old, new)
            && o == n
        {
            // Compared once in its own group, with every use it has.
            let name = resolve::unescape(resolve::ref_name(o, "schemas")?);
            if !self.done.contains(&name) {
                self.pending.insert(name);
            }
            return Ok(());
        }
        let (os, old_name) = resolve::resolve_schema(self.old, old)?;
        let (ns, new_name) = resolve::resolve_schema(self.new, new)?;
        let pair = (
            old_name.unwrap_or_else(|| format!("{:p}", os)),
            new_name.unwrap_or_else(|| format!("{:p}", ns)),
        );
        if self.active.contains(&pair) {
            return Ok(());
        }
        self.active.push(pair);
        let result = self.resolved(group, usage, place, os, ns);
        self.active.pop();
        result
    }

    /// Two resolved schemas at `place`: a change of type stops there (nothing below compares);
    /// otherwise format, nullability, enum values, items, branches and properties, in that
    /// order.
    pub(super) fn resolved(
        &mut self,
        group: &str,
        usage: Usage,
        place: &Place,
        old: &'a Schema,
        new: &'a Schema,
    ) -> Result<(), String> {
        let (o, n) = (Shape::of(old), Shape::of(new));
        if o.kind != n.kind {
            let rules = Rules::at(place, "type-changed", true, true);
            self.push_schema(
                group,
                usage,
                rules,
                place.say(&format!("type {} -> {}", o.type_text(), n.type_text())),
            );
            return Ok(());
        }
        if o.format != n.format {
            let rules = Rules::at(place, "format-changed", true, true);
            self.push_schema(
                group,
                usage,
                rules,
                place.say(&format!("type {} -> {}", o.type_text(), n.type_text())),
            );
        }
        self.nullability(group, usage, place, old, new);
        self.enumeration(group, usage, place, &o, &n);
        self.items(group, usage, place, &o, &n)?;
        self.branches(group, usage, place, &o, &n)?;
        self.properties(group, usage, place, &o, &n)
    }

    /// A schema that became nullable breaks readers of responses; one that no longer is breaks
    /// writers of requests.
    fn nullability(
        &mut self,
        group: &str,
        usage: Usage,
        place: &Place,
        old: &Schema,
        new: &Schema,
    ) {
        match (old.schema_data.nullable, new.schema_data.nullable) {
            (false, true) => {
                let rules = Rules::at(place, "became-nullable", false, true);
                self.push_schema(group, usage, rules, place.say("became nullable"));
            }
            (true, false) => {
                let rules = Rules::at(place, "became-not-nullable", true, false);
                self.push_schema(group, usage, rules, place.say("is no longer nullable"));
            }
            _ => {}
        }
    }

    /// An array's item schema, compared below `[]`.
    fn items(
        &mut self,
        group: &str,
        usage: Usage,
        place: &Place,
        o: &Shape<'a>,
        n: &Shape<'a>,
    ) -> Result<(), String> {
        match (o.items, n.items) {
            (Some(oi), Some(ni)) => {
                self.schema(group, usage, &place.child("[]"), oi.into(), ni.into())?
            }
            (Some(_), None) | (None, Some(_)) => {
                let rules = Rules::at(place, "items-changed", true, true);
                self.push_schema(
                    group,
                    usage,
                    rules,
                    place.say("the item schema was added or removed"),
                );
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// The branches of a `oneOf`, `allOf` or `anyOf`, compared pairwise in order when their
    /// number is unchanged.
    fn branches(
        &mut self,
        group: &str,
        usage: Usage,
        place: &Place,
        o: &Shape<'a>,
        n: &Shape<'a>,
    ) -> Result<(), String> {
        if o.branches.len() != n.branches.len() {
            let rules = Rules::at(place, "composition-changed", true, true);
            self.push_schema(
                group,
                usage,
                rules,
                place.say(&format!(
                    "{} branches -> {} branches",
                    o.branches.len(),
                    n.branches.len()
                )),
            );
        } else {
            for (i, (ob, nb)) in o.branches.iter().zip(n.branches.iter()).enumerate() {
                let child = place.child(&format!("<{} #{}>", o.kind, i + 1));
                self.schema(group, usage, &child, ob.into(), nb.into())?;
            }
        }
        Ok(())
    }

    /// Enum constraints: added or dropped breaks; a value removed breaks requests only; a value
    /// added breaks nothing.
    fn enumeration(
        &mut self,
        group: &str,
        usage: Usage,
        place: &Place,
        o: &Shape<'_>,
        n: &Shape<'_>,
    ) {
        match (&o.enumeration, &n.enumeration) {
            (None, Some(values)) => {
                let rules = Rules::at(place, "became-enum", true, true);
                self.push_schema(
                    group,
                    usage,
                    rules,
                    place.say(&format!("restricted to the values {}", list(values))),
                );
            }
            (Some(_), None) => {
                let rules = Rules::at(place, "enum-dropped", true, true);
                self.push_schema(
                    group,
                    usage,
                    rules,
                    place.say("no longer an enum (any value)"),
                );
            }
            (Some(old), Some(new)) => {
                let removed: Vec<String> =
                    old.iter().filter(|v| !new.contains(v)).cloned().collect();
                let added: Vec<String> = new.iter().filter(|v| !old.contains(v)).cloned().collect();
                if !removed.is_empty() {
                    // A client may still send a removed value; a response never carrying it again
                    // harms no reader.
                    let rules = Rules::at(place, "enum-value-removed", true, false);
                    self.push_schema(
                        group,
                        usage,
                        rules,
                        place.say(&format!("enum value(s) {} removed", list(&removed))),
                    );
                }
                if !added.is_empty() {
                    // The generated response enums are open (`Unknown(String)`), so a new value
                    // in a response decodes; a request may simply not use it.
                    let rules = Rules::at(place, "enum-value-added", false, false);
                    self.push_schema(
                        group,
                        usage,
                        rules,
                        place.say(&format!("enum value(s) {} added", list(&added))),
                    );
                }
            }
            (None, None) => {}
        }
    }

    /// An object's properties: removed, added, or changed in requiredness, each compared below
    /// its name.
    fn properties(
        &mut self,
        group: &str,
        usage: Usage,
        place: &Place,
        o: &Shape<'a>,
        n: &Shape<'a>,
    ) -> Result<(), String> {
        let old_props = o.properties.into_iter().flatten();
        let new_props: IndexMap<&String, &'a ReferenceOr<Box<Schema>>> =
            n.properties.into_iter().flatten().collect();
        let old_names: BTreeSet<&String> =
            o.properties.into_iter().flat_map(|p| p.keys()).collect();
        for (name, old_prop) in old_props {
            let child = place.child(name);
            let at = child.describe();
            let Some(new_prop) = new_props.get(name) else {
                let rules = Rules {
                    request: ("request-property-removed".to_owned(), true),
                    response: ("response-property-removed".to_owned(), true),
                };
                self.push_schema(group, usage, rules, format!("{at} was removed"));
                continue;
            };
            let was = o.required.contains(name);
            let is = n.required.contains(name);
            if !was && is {
                let rules = Rules {
                    request: ("request-property-became-required".to_owned(), true),
                    response: ("response-property-became-required".to_owned(), false),
                };
                self.push_schema(group, usage, rules, format!("{at} became required"));
            } else if was && !is {
                let rules = Rules {
                    request: ("request-property-became-optional".to_owned(), false),
                    response: ("response-property-became-optional".to_owned(), true),
                };
                self.push_schema(group, usage, rules, format!("{at} became optional"));
            }
            self.schema(group, usage, &child, old_prop.into(), (*new_prop).into())?;
        }
        for name in new_props.keys() {
            if old_names.contains(name) {
                continue;
            }
            let at = place.child(name).describe();
            let required = n.required.contains(name);
            let rules = Rules {
                request: if required {
                    ("new-required-request-property".to_owned(), true)
                } else {
                    ("new-optional-request-property".to_owned(), false)
                },
                response: ("response-property-added".to_owned(), false),
            };
            let how = if required { "required" } else { "optional" };
            self.push_schema(group, usage, rules, format!("{at} was added, {how}"));
        }
        Ok(())
    }
}
