//! The walk over two definitions that finds each change and decides whether it breaks.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use openapiv3::{
    MediaType, OpenAPI, Operation, Parameter, ParameterSchemaOrContent, PathItem, ReferenceOr,
    Schema, SchemaKind, SecurityRequirement, SecurityScheme, StatusCode, Type,
    VariantOrUnknownOrEmpty,
};

use super::resolve::{self, SchemaRef, Usage};
use super::{Change, Report};

/// Compares `old` with `new`. Fails on what cannot be compared (an unresolvable `$ref`).
pub fn diff(old: &OpenAPI, new: &OpenAPI) -> Result<Report, String> {
    let mut usage = BTreeMap::new();
    resolve::collect_usage(old, &mut usage)?;
    resolve::collect_usage(new, &mut usage)?;
    let mut walker = Walker {
        old,
        new,
        usage,
        pending: BTreeSet::new(),
        done: BTreeSet::new(),
        active: Vec::new(),
        changes: Vec::new(),
    };
    walker.operations()?;
    walker.components()?;
    walker.security()?;
    walker.servers();
    Ok(Report {
        changes: walker.changes,
    })
}

struct Walker<'a> {
    old: &'a OpenAPI,
    new: &'a OpenAPI,
    /// Where each component schema is used, in either definition.
    usage: BTreeMap<String, Usage>,
    /// Components referenced under the same name on both sides: compared once, in a group of
    /// their own, rather than under every operation that uses them.
    pending: BTreeSet<String>,
    done: BTreeSet<String>,
    /// Pairs of differently named schemas being compared, so recursive schemas terminate.
    active: Vec<(String, String)>,
    changes: Vec<Change>,
}

/// What a schema comparison is about: names the change in messages and in rule ids.
#[derive(Clone)]
struct Place {
    kind: PlaceKind,
    /// Shown before the property path, e.g. "query parameter `top`" or "response 200".
    label: String,
    /// The property path below the place, e.g. `stats.rawSize` or `exports[].id`.
    path: String,
}

#[derive(Clone, Copy, PartialEq)]
enum PlaceKind {
    Parameter,
    Body,
    Component,
}

impl Place {
    fn child(&self, segment: &str) -> Place {
        let path = if self.path.is_empty() {
            segment.to_owned()
        } else if segment.starts_with('[') || segment.starts_with('<') {
            format!("{}{segment}", self.path)
        } else {
            format!("{}.{segment}", self.path)
        };
        Place {
            path,
            ..self.clone()
        }
    }

    /// The rule id prefix for a change to the schema itself at this place.
    fn prefix(&self, direction: &str) -> String {
        match (self.kind, self.path.is_empty()) {
            (PlaceKind::Parameter, _) => "request-parameter".to_owned(),
            (PlaceKind::Body, true) => format!("{direction}-body"),
            // A component (an enum, say) is what some property or parameter holds: its changes
            // are named as property changes, the way oasdiff reports them at each use.
            (PlaceKind::Body | PlaceKind::Component, _) => format!("{direction}-property"),
        }
    }

    /// `text` about this place: `query parameter `x`: text`, or `text` alone at the top of a
    /// component schema, whose group already names it.
    fn say(&self, text: &str) -> String {
        let at = self.describe();
        if at.is_empty() {
            text.to_owned()
        } else {
            format!("{at}: {text}")
        }
    }

    fn describe(&self) -> String {
        match (self.label.is_empty(), self.path.is_empty()) {
            (true, true) => String::new(),
            (true, false) => format!("property `{}`", self.path),
            (false, true) => self.label.clone(),
            (false, false) => format!("{}, property `{}`", self.label, self.path),
        }
    }
}

/// A rule for each direction a schema may be used in: (rule id, breaking).
struct Rules {
    request: (String, bool),
    response: (String, bool),
}

impl Rules {
    fn same(
        prefix_request: String,
        prefix_response: String,
        what: &str,
        request_breaks: bool,
        response_breaks: bool,
    ) -> Rules {
        Rules {
            request: (format!("{prefix_request}-{what}"), request_breaks),
            response: (format!("{prefix_response}-{what}"), response_breaks),
        }
    }
}

/// One HTTP operation of a definition.
struct Op<'a> {
    method: &'static str,
    path: &'a str,
    item: &'a PathItem,
    operation: &'a Operation,
}

impl Op<'_> {
    fn group(&self) -> String {
        match &self.operation.operation_id {
            Some(id) => format!("{} {} ({id})", self.method.to_uppercase(), self.path),
            None => format!("{} {}", self.method.to_uppercase(), self.path),
        }
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn operations(spec: &OpenAPI) -> Result<BTreeMap<(String, usize), Op<'_>>, String> {
    let mut out = BTreeMap::new();
    for (path, item) in spec.paths.iter() {
        let ReferenceOr::Item(item) = item else {
            return Err(format!(
                "path `{path}` is a $ref; path item refs are not supported"
            ));
        };
        for (method, operation) in item.iter() {
            let rank = METHODS
                .iter()
                .position(|m| *m == method)
                .unwrap_or(METHODS.len());
            let op = Op {
                method: METHODS.get(rank).copied().unwrap_or("unknown"),
                path,
                item,
                operation,
            };
            out.insert((template(path), rank), op);
        }
    }
    Ok(out)
}

/// A path with its parameter names blanked: `/{id}` and `/{exportId}` are one endpoint.
fn template(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push('{');
            }
            '}' => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

fn is_success(status: &str) -> bool {
    status.starts_with('2')
}

fn status_key(code: &StatusCode) -> String {
    code.to_string()
}

impl<'a> Walker<'a> {
    fn push(
        &mut self,
        group: &str,
        rule: impl Into<String>,
        breaking: bool,
        message: impl Into<String>,
    ) {
        self.changes.push(Change {
            group: group.to_owned(),
            rule: rule.into(),
            breaking,
            message: message.into(),
        });
    }

    /// Records a change to a schema used as `usage` says: the rule of a direction in which it
    /// breaks wins, so a schema used both ways is judged by its strictest use.
    fn push_schema(&mut self, group: &str, usage: Usage, rules: Rules, message: String) {
        let mut candidates = Vec::new();
        if usage.request {
            candidates.push(rules.request);
        }
        if usage.response {
            candidates.push(rules.response);
        }
        let chosen = candidates
            .iter()
            .find(|(_, breaking)| *breaking)
            .or(candidates.first())
            .cloned();
        if let Some((rule, breaking)) = chosen {
            self.push(group, rule, breaking, message);
        }
    }

    // ---- operations -------------------------------------------------------------------------

    fn operations(&mut self) -> Result<(), String> {
        let old_ops = operations(self.old)?;
        let new_ops = operations(self.new)?;
        let mut unmatched_old = Vec::new();
        for (key, old) in &old_ops {
            match new_ops.get(key) {
                Some(new) => self.operation(old, new)?,
                None => unmatched_old.push(old),
            }
        }
        let mut unmatched_new: Vec<&Op<'_>> = new_ops
            .iter()
            .filter(|(k, _)| !old_ops.contains_key(*k))
            .map(|(_, op)| op)
            .collect();
        for old in unmatched_old {
            let moved = old.operation.operation_id.as_ref().and_then(|id| {
                unmatched_new
                    .iter()
                    .position(|new| new.operation.operation_id.as_ref() == Some(id))
            });
            match moved {
                Some(index) => {
                    let new = unmatched_new.remove(index);
                    self.push(
                        &new.group(),
                        "api-operation-moved",
                        true,
                        format!(
                            "the operation moved from {} {} to {} {}",
                            old.method.to_uppercase(),
                            old.path,
                            new.method.to_uppercase(),
                            new.path
                        ),
                    );
                    self.operation(old, new)?;
                }
                None => self.push(
                    &old.group(),
                    "api-removed",
                    true,
                    "the operation was removed",
                ),
            }
        }
        for new in unmatched_new {
            self.push(
                &new.group(),
                "endpoint-added",
                false,
                "the operation was added",
            );
        }
        Ok(())
    }

    fn operation(&mut self, old: &Op<'a>, new: &Op<'a>) -> Result<(), String> {
        let group = new.group();
        let (o, n) = (old.operation, new.operation);
        if o.operation_id != n.operation_id {
            self.push(
                &group,
                "api-operation-id-changed",
                true,
                format!(
                    "operationId {} -> {} (the generated method is renamed)",
                    shown(o.operation_id.as_deref()),
                    shown(n.operation_id.as_deref())
                ),
            );
        }
        match (o.deprecated, n.deprecated) {
            (false, true) => self.push(
                &group,
                "api-deprecated",
                false,
                "the operation is now deprecated",
            ),
            (true, false) => self.push(
                &group,
                "api-reactivated",
                false,
                "the operation is no longer deprecated",
            ),
            _ => {}
        }
        self.parameters(&group, old, new)?;
        self.request_body(&group, o, n)?;
        self.responses(&group, o, n)?;
        if o.security.is_some() || n.security.is_some() {
            let global_old = self.old.security.as_deref().unwrap_or_default();
            let global_new = self.new.security.as_deref().unwrap_or_default();
            let old_req = o.security.as_deref().unwrap_or(global_old);
            let new_req = n.security.as_deref().unwrap_or(global_new);
            self.requirements(&group, old_req, new_req);
        }
        Ok(())
    }

    /// An operation's parameters (path-level ones included, operation-level ones winning), by
    /// location and name; header names are case-insensitive.
    fn collect_parameters(
        spec: &'a OpenAPI,
        op: &Op<'a>,
    ) -> Result<IndexMap<(String, String), &'a Parameter>, String> {
        let mut out = IndexMap::new();
        for item in op.item.parameters.iter().chain(&op.operation.parameters) {
            let parameter = resolve::parameter(spec, item)?;
            let (location, name) = parameter_key(parameter);
            out.insert((location.to_owned(), name), parameter);
        }
        Ok(out)
    }

    fn parameters(&mut self, group: &str, old: &Op<'a>, new: &Op<'a>) -> Result<(), String> {
        let old_params = Self::collect_parameters(self.old, old)?;
        let new_params = Self::collect_parameters(self.new, new)?;
        let mut relocated = BTreeSet::new();
        for ((location, name), old_param) in &old_params {
            let label = format!(
                "{location} parameter `{}`",
                old_param.parameter_data_ref().name
            );
            let Some(new_param) = new_params.get(&(location.clone(), name.clone())) else {
                let elsewhere = new_params.keys().find(|(l, n)| {
                    n == name && l != location && !old_params.contains_key(&(l.clone(), n.clone()))
                });
                match elsewhere {
                    Some((new_location, _)) => {
                        relocated.insert((new_location.clone(), name.clone()));
                        self.push(
                            group,
                            "request-parameter-location-changed",
                            true,
                            format!("{label} moved to the {new_location}"),
                        );
                    }
                    None => self.push(
                        group,
                        "request-parameter-removed",
                        true,
                        format!("{label} was removed"),
                    ),
                }
                continue;
            };
            let (o, n) = (
                old_param.parameter_data_ref(),
                new_param.parameter_data_ref(),
            );
            match (o.required, n.required) {
                (false, true) => self.push(
                    group,
                    "request-parameter-became-required",
                    true,
                    format!("{label} became required"),
                ),
                (true, false) => self.push(
                    group,
                    "request-parameter-became-optional",
                    false,
                    format!("{label} became optional"),
                ),
                _ => {}
            }
            let place = Place {
                kind: PlaceKind::Parameter,
                label,
                path: String::new(),
            };
            match (parameter_schema(o), parameter_schema(n)) {
                (Some(os), Some(ns)) => self.schema(group, Usage::REQUEST, &place, os, ns)?,
                (Some(_), None) | (None, Some(_)) => self.push(
                    group,
                    "request-parameter-schema-changed",
                    true,
                    format!(
                        "{}: the schema was replaced by content or the reverse",
                        place.label
                    ),
                ),
                (None, None) => {}
            }
        }
        for (key, new_param) in &new_params {
            if old_params.contains_key(key) || relocated.contains(key) {
                continue;
            }
            let data = new_param.parameter_data_ref();
            let label = format!("{} parameter `{}`", key.0, data.name);
            if data.required {
                self.push(
                    group,
                    "new-required-request-parameter",
                    true,
                    format!("{label} was added, required"),
                );
            } else {
                self.push(
                    group,
                    "new-optional-request-parameter",
                    false,
                    format!("{label} was added, optional"),
                );
            }
        }
        Ok(())
    }

    fn request_body(
        &mut self,
        group: &str,
        o: &'a Operation,
        n: &'a Operation,
    ) -> Result<(), String> {
        let old_body = o
            .request_body
            .as_ref()
            .map(|b| resolve::request_body(self.old, b))
            .transpose()?;
        let new_body = n
            .request_body
            .as_ref()
            .map(|b| resolve::request_body(self.new, b))
            .transpose()?;
        match (old_body, new_body) {
            (None, None) => Ok(()),
            (Some(_), None) => {
                self.push(
                    group,
                    "request-body-removed",
                    true,
                    "the request body was removed",
                );
                Ok(())
            }
            (None, Some(body)) => {
                if body.required {
                    self.push(
                        group,
                        "new-required-request-body",
                        true,
                        "a required request body was added",
                    );
                } else {
                    self.push(
                        group,
                        "new-optional-request-body",
                        false,
                        "an optional request body was added",
                    );
                }
                Ok(())
            }
            (Some(ob), Some(nb)) => {
                match (ob.required, nb.required) {
                    (false, true) => self.push(
                        group,
                        "request-body-became-required",
                        true,
                        "the request body became required",
                    ),
                    (true, false) => self.push(
                        group,
                        "request-body-became-optional",
                        false,
                        "the request body became optional",
                    ),
                    _ => {}
                }
                self.content(
                    group,
                    Usage::REQUEST,
                    "request body",
                    &ob.content,
                    &nb.content,
                    true,
                )
            }
        }
    }

    fn responses(&mut self, group: &str, o: &'a Operation, n: &'a Operation) -> Result<(), String> {
        let list = |op: &'a Operation| -> Vec<(String, &'a ReferenceOr<openapiv3::Response>)> {
            let mut out: Vec<_> = op
                .responses
                .responses
                .iter()
                .map(|(k, v)| (status_key(k), v))
                .collect();
            out.extend(
                op.responses
                    .default
                    .as_ref()
                    .map(|d| ("default".to_owned(), d)),
            );
            out
        };
        let old_list = list(o);
        let new_list = list(n);
        for (status, old_item) in &old_list {
            let Some((_, new_item)) = new_list.iter().find(|(s, _)| s == status) else {
                if is_success(status) {
                    self.push(
                        group,
                        "response-success-status-removed",
                        true,
                        format!("response {status} was removed"),
                    );
                } else {
                    self.push(
                        group,
                        "response-non-success-status-removed",
                        false,
                        format!("response {status} was removed"),
                    );
                }
                continue;
            };
            let old_response = resolve::response(self.old, old_item)?;
            let new_response = resolve::response(self.new, new_item)?;
            let label = format!("response {status}");
            self.content(
                group,
                Usage::RESPONSE,
                &label,
                &old_response.content,
                &new_response.content,
                is_success(status),
            )?;
        }
        for (status, _) in &new_list {
            if old_list.iter().any(|(s, _)| s == status) {
                continue;
            }
            if is_success(status) {
                self.push(
                    group,
                    "response-success-status-added",
                    false,
                    format!("response {status} was added"),
                );
            } else {
                self.push(
                    group,
                    "response-non-success-status-added",
                    false,
                    format!("response {status} was added"),
                );
            }
        }
        Ok(())
    }

    /// The media types of a request body or a response. `vital` says whether losing a media
    /// type breaks a caller (a request body, a success response).
    fn content(
        &mut self,
        group: &str,
        usage: Usage,
        label: &str,
        old: &'a IndexMap<String, MediaType>,
        new: &'a IndexMap<String, MediaType>,
        vital: bool,
    ) -> Result<(), String> {
        let direction = if usage.request { "request" } else { "response" };
        for (media_type, old_media) in old {
            let label = if media_type == "application/json" {
                label.to_owned()
            } else {
                format!("{label} ({media_type})")
            };
            let Some(new_media) = new.get(media_type) else {
                self.push(
                    group,
                    format!("{direction}-media-type-removed"),
                    vital,
                    format!("{label}: media type {media_type} was removed"),
                );
                continue;
            };
            match (&old_media.schema, &new_media.schema) {
                (Some(os), Some(ns)) => {
                    let place = Place {
                        kind: PlaceKind::Body,
                        label,
                        path: String::new(),
                    };
                    self.schema(group, usage, &place, os.into(), ns.into())?;
                }
                (Some(_), None) => self.push(
                    group,
                    format!("{direction}-body-schema-removed"),
                    true,
                    format!("{label}: the schema was removed"),
                ),
                (None, Some(_)) => self.push(
                    group,
                    format!("{direction}-body-schema-added"),
                    usage.request,
                    format!("{label}: a schema was added"),
                ),
                (None, None) => {}
            }
        }
        for media_type in new.keys() {
            if !old.contains_key(media_type) {
                self.push(
                    group,
                    format!("{direction}-media-type-added"),
                    false,
                    format!("{label}: media type {media_type} was added"),
                );
            }
        }
        Ok(())
    }

    // ---- schemas ----------------------------------------------------------------------------

    fn schema(
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

    fn resolved(
        &mut self,
        group: &str,
        usage: Usage,
        place: &Place,
        old: &'a Schema,
        new: &'a Schema,
    ) -> Result<(), String> {
        let (o, n) = (Shape::of(old), Shape::of(new));
        let prefix = |d: &str| place.prefix(d);
        if o.kind != n.kind {
            let rules = Rules::same(
                prefix("request"),
                prefix("response"),
                "type-changed",
                true,
                true,
            );
            self.push_schema(
                group,
                usage,
                rules,
                place.say(&format!("type {} -> {}", o.type_text(), n.type_text())),
            );
            return Ok(());
        }
        if o.format != n.format {
            let rules = Rules::same(
                prefix("request"),
                prefix("response"),
                "format-changed",
                true,
                true,
            );
            self.push_schema(
                group,
                usage,
                rules,
                place.say(&format!("type {} -> {}", o.type_text(), n.type_text())),
            );
        }
        match (old.schema_data.nullable, new.schema_data.nullable) {
            (false, true) => {
                let rules = Rules::same(
                    prefix("request"),
                    prefix("response"),
                    "became-nullable",
                    false,
                    true,
                );
                self.push_schema(group, usage, rules, place.say("became nullable"));
            }
            (true, false) => {
                let rules = Rules::same(
                    prefix("request"),
                    prefix("response"),
                    "became-not-nullable",
                    true,
                    false,
                );
                self.push_schema(group, usage, rules, place.say("is no longer nullable"));
            }
            _ => {}
        }
        self.enumeration(group, usage, place, &o, &n);
        match (o.items, n.items) {
            (Some(oi), Some(ni)) => {
                self.schema(group, usage, &place.child("[]"), oi.into(), ni.into())?
            }
            (Some(_), None) | (None, Some(_)) => {
                let rules = Rules::same(
                    prefix("request"),
                    prefix("response"),
                    "items-changed",
                    true,
                    true,
                );
                self.push_schema(
                    group,
                    usage,
                    rules,
                    place.say("the item schema was added or removed"),
                );
            }
            (None, None) => {}
        }
        if o.branches.len() != n.branches.len() {
            let rules = Rules::same(
                prefix("request"),
                prefix("response"),
                "composition-changed",
                true,
                true,
            );
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
        self.properties(group, usage, place, &o, &n)
    }

    fn enumeration(
        &mut self,
        group: &str,
        usage: Usage,
        place: &Place,
        o: &Shape<'_>,
        n: &Shape<'_>,
    ) {
        let prefix = |d: &str| place.prefix(d);
        match (&o.enumeration, &n.enumeration) {
            (None, Some(values)) => {
                let rules = Rules::same(
                    prefix("request"),
                    prefix("response"),
                    "became-enum",
                    true,
                    true,
                );
                self.push_schema(
                    group,
                    usage,
                    rules,
                    place.say(&format!("restricted to the values {}", list(values))),
                );
            }
            (Some(_), None) => {
                let rules = Rules::same(
                    prefix("request"),
                    prefix("response"),
                    "enum-dropped",
                    true,
                    true,
                );
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
                    let rules = Rules::same(
                        prefix("request"),
                        prefix("response"),
                        "enum-value-removed",
                        true,
                        false,
                    );
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
                    let rules = Rules::same(
                        prefix("request"),
                        prefix("response"),
                        "enum-value-added",
                        false,
                        false,
                    );
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

    /// Compares the component schemas referenced under the same name on both sides, each once
    /// and in its own group, judged by every use it has in either definition.
    fn components(&mut self) -> Result<(), String> {
        while let Some(name) = self.pending.pop_first() {
            self.done.insert(name.clone());
            let usage = self.usage.get(&name).copied().unwrap_or_default();
            let uses = match (usage.request, usage.response) {
                (true, true) => "requests and responses",
                (true, false) => "requests",
                _ => "responses",
            };
            let group = format!("schema {name} (in {uses})");
            let os = resolve::named_schema(self.old, &name)?;
            let ns = resolve::named_schema(self.new, &name)?;
            let place = Place {
                kind: PlaceKind::Component,
                label: String::new(),
                path: String::new(),
            };
            self.resolved(&group, usage, &place, os, ns)?;
        }
        Ok(())
    }

    // ---- security and servers ---------------------------------------------------------------

    fn security(&mut self) -> Result<(), String> {
        let group = "security";
        let schemes = |spec: &'a OpenAPI| spec.components.as_ref().map(|c| &c.security_schemes);
        let empty = IndexMap::new();
        let old_schemes = schemes(self.old).unwrap_or(&empty);
        let new_schemes = schemes(self.new).unwrap_or(&empty);
        for (name, old_item) in old_schemes {
            let label = format!("security scheme `{name}`");
            let Some(new_item) = new_schemes.get(name) else {
                self.push(
                    group,
                    "security-scheme-removed",
                    true,
                    format!("{label} was removed"),
                );
                continue;
            };
            let old_scheme = resolve::resolve(Some(old_schemes), "securitySchemes", old_item)?;
            let new_scheme = resolve::resolve(Some(new_schemes), "securitySchemes", new_item)?;
            self.scheme(group, &label, old_scheme, new_scheme);
        }
        for name in new_schemes.keys() {
            if !old_schemes.contains_key(name) {
                self.push(
                    group,
                    "security-scheme-added",
                    false,
                    format!("security scheme `{name}` was added"),
                );
            }
        }
        let old_req = self.old.security.as_deref().unwrap_or_default();
        let new_req = self.new.security.as_deref().unwrap_or_default();
        self.requirements(group, old_req, new_req);
        Ok(())
    }

    fn scheme(&mut self, group: &str, label: &str, old: &SecurityScheme, new: &SecurityScheme) {
        use SecurityScheme as S;
        match (old, new) {
            (
                S::APIKey {
                    location: ol,
                    name: on,
                    ..
                },
                S::APIKey {
                    location: nl,
                    name: nn,
                    ..
                },
            ) => {
                if ol != nl || on != nn {
                    self.push(
                        group,
                        "security-scheme-api-key-changed",
                        true,
                        format!("{label}: the key moved from {ol:?} `{on}` to {nl:?} `{nn}`"),
                    );
                }
            }
            (S::HTTP { scheme: os, .. }, S::HTTP { scheme: ns, .. }) => {
                if !os.eq_ignore_ascii_case(ns) {
                    self.push(
                        group,
                        "security-scheme-http-scheme-changed",
                        true,
                        format!("{label}: HTTP scheme {os} -> {ns}"),
                    );
                }
            }
            (S::OAuth2 { flows: of, .. }, S::OAuth2 { flows: nf, .. }) => {
                let old_flows = oauth_flows(of);
                let new_flows = oauth_flows(nf);
                for (flow, old_flow) in &old_flows {
                    let Some(new_flow) = new_flows.get(flow) else {
                        self.push(
                            group,
                            "security-scheme-oauth-flow-removed",
                            true,
                            format!("{label}: the {flow} flow was removed"),
                        );
                        continue;
                    };
                    for (what, ou, nu) in [
                        ("token URL", &old_flow.token_url, &new_flow.token_url),
                        (
                            "authorization URL",
                            &old_flow.authorization_url,
                            &new_flow.authorization_url,
                        ),
                    ] {
                        if ou != nu {
                            self.push(
                                group,
                                "security-scheme-oauth-url-changed",
                                true,
                                format!(
                                    "{label}: the {flow} flow's {what} {} -> {}",
                                    shown(ou.as_deref()),
                                    shown(nu.as_deref())
                                ),
                            );
                        }
                    }
                    for scope in old_flow.scopes.difference(&new_flow.scopes) {
                        self.push(
                            group,
                            "security-scheme-scope-removed",
                            true,
                            format!("{label}: the {flow} flow lost the scope `{scope}`"),
                        );
                    }
                    for scope in new_flow.scopes.difference(&old_flow.scopes) {
                        self.push(
                            group,
                            "security-scheme-scope-added",
                            false,
                            format!("{label}: the {flow} flow has a new scope `{scope}`"),
                        );
                    }
                }
                for flow in new_flows.keys() {
                    if !old_flows.contains_key(flow) {
                        self.push(
                            group,
                            "security-scheme-oauth-flow-added",
                            false,
                            format!("{label}: a {flow} flow was added"),
                        );
                    }
                }
            }
            (
                S::OpenIDConnect {
                    open_id_connect_url: ou,
                    ..
                },
                S::OpenIDConnect {
                    open_id_connect_url: nu,
                    ..
                },
            ) => {
                if ou != nu {
                    self.push(
                        group,
                        "security-scheme-openid-url-changed",
                        true,
                        format!("{label}: OpenID Connect URL {ou} -> {nu}"),
                    );
                }
            }
            _ => self.push(
                group,
                "security-scheme-type-changed",
                true,
                format!("{label}: type {} -> {}", scheme_type(old), scheme_type(new)),
            ),
        }
    }

    /// Security requirements are alternatives: a caller satisfies one of them.
    fn requirements(
        &mut self,
        group: &str,
        old: &[SecurityRequirement],
        new: &[SecurityRequirement],
    ) {
        let old = requirement_sets(old);
        let new = requirement_sets(new);
        if old.is_empty() && !new.is_empty() {
            self.push(
                group,
                "api-security-added",
                true,
                format!("authentication is now required: {}", alternatives(&new)),
            );
            return;
        }
        if new.is_empty() && !old.is_empty() {
            self.push(
                group,
                "api-security-removed",
                false,
                "authentication is no longer required",
            );
            return;
        }
        for (schemes, old_scopes) in &old {
            let Some(new_scopes) = new.get(schemes) else {
                self.push(
                    group,
                    "api-security-removed",
                    true,
                    format!("the requirement {} was removed", requirement(schemes)),
                );
                continue;
            };
            // Same keys, both sorted by scheme name: the pairs line up.
            for ((scheme, was), (_, is)) in old_scopes.iter().zip(new_scopes) {
                for scope in is.difference(was) {
                    self.push(
                        group,
                        "api-security-scope-added",
                        true,
                        format!(
                            "the requirement {} now needs the scope `{scope}` of `{scheme}`",
                            requirement(schemes)
                        ),
                    );
                }
                for scope in was.difference(is) {
                    self.push(
                        group,
                        "api-security-scope-removed",
                        false,
                        format!(
                            "the requirement {} no longer needs the scope `{scope}` of `{scheme}`",
                            requirement(schemes)
                        ),
                    );
                }
            }
        }
        for schemes in new.keys() {
            if !old.contains_key(schemes) {
                self.push(
                    group,
                    "api-security-alternative-added",
                    false,
                    format!(
                        "the requirement {} was added as an alternative",
                        requirement(schemes)
                    ),
                );
            }
        }
    }

    fn servers(&mut self) {
        let urls = |spec: &OpenAPI| -> Vec<String> {
            spec.servers
                .iter()
                .map(|s| s.url.trim_end_matches('/').to_owned())
                .collect()
        };
        let old = urls(self.old);
        let new = urls(self.new);
        for url in old.iter().filter(|u| !new.contains(u)) {
            self.push(
                "servers",
                "server-removed",
                true,
                format!("the server {url} was removed"),
            );
        }
        for url in new.iter().filter(|u| !old.contains(u)) {
            self.push(
                "servers",
                "server-added",
                false,
                format!("the server {url} was added"),
            );
        }
    }
}

fn parameter_key(parameter: &Parameter) -> (&'static str, String) {
    let name = parameter.parameter_data_ref().name.clone();
    match parameter {
        Parameter::Query { .. } => ("query", name),
        Parameter::Header { .. } => ("header", name.to_ascii_lowercase()),
        Parameter::Path { .. } => ("path", name),
        Parameter::Cookie { .. } => ("cookie", name),
    }
}

fn parameter_schema(data: &openapiv3::ParameterData) -> Option<SchemaRef<'_>> {
    match &data.format {
        ParameterSchemaOrContent::Schema(schema) => Some(schema.into()),
        ParameterSchemaOrContent::Content(content) => content
            .values()
            .next()
            .and_then(|m| m.schema.as_ref())
            .map(SchemaRef::from),
    }
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| format!("`{v}`"))
}

fn list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What of a schema the comparison looks at, whichever way the document spelled it.
struct Shape<'a> {
    kind: String,
    format: Option<String>,
    enumeration: Option<Vec<String>>,
    properties: Option<&'a IndexMap<String, ReferenceOr<Box<Schema>>>>,
    required: &'a [String],
    items: Option<&'a ReferenceOr<Box<Schema>>>,
    branches: &'a [ReferenceOr<Schema>],
}

fn format_of<T: serde::Serialize>(format: &VariantOrUnknownOrEmpty<T>) -> Option<String> {
    match format {
        VariantOrUnknownOrEmpty::Item(item) => {
            serde_json::to_value(item).ok()?.as_str().map(str::to_owned)
        }
        VariantOrUnknownOrEmpty::Unknown(text) => Some(text.clone()),
        VariantOrUnknownOrEmpty::Empty => None,
    }
}

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
    fn of(schema: &'a Schema) -> Shape<'a> {
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

    fn type_text(&self) -> String {
        match &self.format {
            Some(format) => format!("{} ({format})", self.kind),
            None => self.kind.clone(),
        }
    }
}

/// An OAuth2 flow's parts that matter to a caller.
struct Flow {
    token_url: Option<String>,
    authorization_url: Option<String>,
    scopes: BTreeSet<String>,
}

fn oauth_flows(flows: &openapiv3::OAuth2Flows) -> BTreeMap<&'static str, Flow> {
    let scopes = |s: &IndexMap<String, String>| s.keys().cloned().collect::<BTreeSet<_>>();
    let mut out = BTreeMap::new();
    if let Some(f) = &flows.implicit {
        out.insert(
            "implicit",
            Flow {
                token_url: None,
                authorization_url: Some(f.authorization_url.clone()),
                scopes: scopes(&f.scopes),
            },
        );
    }
    if let Some(f) = &flows.password {
        out.insert(
            "password",
            Flow {
                token_url: Some(f.token_url.clone()),
                authorization_url: None,
                scopes: scopes(&f.scopes),
            },
        );
    }
    if let Some(f) = &flows.client_credentials {
        out.insert(
            "clientCredentials",
            Flow {
                token_url: Some(f.token_url.clone()),
                authorization_url: None,
                scopes: scopes(&f.scopes),
            },
        );
    }
    if let Some(f) = &flows.authorization_code {
        out.insert(
            "authorizationCode",
            Flow {
                token_url: Some(f.token_url.clone()),
                authorization_url: Some(f.authorization_url.clone()),
                scopes: scopes(&f.scopes),
            },
        );
    }
    out
}

fn scheme_type(scheme: &SecurityScheme) -> &'static str {
    match scheme {
        SecurityScheme::APIKey { .. } => "apiKey",
        SecurityScheme::HTTP { .. } => "http",
        SecurityScheme::OAuth2 { .. } => "oauth2",
        SecurityScheme::OpenIDConnect { .. } => "openIdConnect",
    }
}

/// One alternative: its schemes (sorted) with their scopes.
type Alternative = Vec<(String, BTreeSet<String>)>;

/// Alternatives keyed by their sorted scheme names.
fn requirement_sets(requirements: &[SecurityRequirement]) -> BTreeMap<Vec<String>, Alternative> {
    requirements
        .iter()
        .map(|r| {
            let mut alternative: Alternative = r
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
                .collect();
            alternative.sort();
            (
                alternative.iter().map(|(k, _)| k.clone()).collect(),
                alternative,
            )
        })
        .collect()
}

fn requirement(schemes: &[String]) -> String {
    if schemes.is_empty() {
        "{} (anonymous)".to_owned()
    } else {
        schemes
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

fn alternatives(set: &BTreeMap<Vec<String>, Alternative>) -> String {
    set.keys()
        .map(|k| requirement(k))
        .collect::<Vec<_>>()
        .join(" or ")
}
