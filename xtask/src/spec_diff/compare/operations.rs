//! Paths and operations: which operations both definitions have (matched by path template and
//! method, or by operation id when one moved), which were added or removed, and what changed in
//! each one's id, deprecation and security.

use std::collections::BTreeMap;

use openapiv3::{OpenAPI, Operation, PathItem, ReferenceOr};

use super::{Walker, shown};

/// One HTTP operation of a definition.
pub(super) struct Op<'a> {
    method: &'static str,
    path: &'a str,
    pub(super) item: &'a PathItem,
    pub(super) operation: &'a Operation,
}

impl Op<'_> {
    /// The group its changes are reported under: `GET /path (operationId)`.
    fn group(&self) -> String {
        match &self.operation.operation_id {
            Some(id) => format!("{} {} ({id})", self.method.to_uppercase(), self.path),
            None => format!("{} {}", self.method.to_uppercase(), self.path),
        }
    }
}

/// The methods of a path item, in the order operations of one path are reported.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The operations of `spec`, keyed by path template and method rank.
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

impl<'a> Walker<'a> {
    /// Every operation: matched ones compared, moved ones (same id, other path or method)
    /// reported and compared, the rest removed or added.
    pub(super) fn operations(&mut self) -> Result<(), String> {
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

    /// One operation present in both definitions.
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
}
