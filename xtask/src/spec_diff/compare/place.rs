//! Where a schema change is, how its message and rule id name it, and which rule applies in
//! each direction the schema is used in.

/// What a schema comparison is about: names the change in messages and in rule ids.
#[derive(Clone)]
pub(super) struct Place {
    pub(super) kind: PlaceKind,
    /// Shown before the property path, e.g. "query parameter `top`" or "response 200".
    pub(super) label: String,
    /// The property path below the place, e.g. `stats.rawSize` or `exports[].id`.
    pub(super) path: String,
}

/// What a place belongs to, which decides how its rule ids are prefixed.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum PlaceKind {
    Parameter,
    Body,
    Component,
}

impl Place {
    /// The place of `segment` (a property name, `[]` for items, `<..>` for a branch) below
    /// this one.
    pub(super) fn child(&self, segment: &str) -> Place {
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
    pub(super) fn prefix(&self, direction: &str) -> String {
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
    pub(super) fn say(&self, text: &str) -> String {
        let at = self.describe();
        if at.is_empty() {
            text.to_owned()
        } else {
            format!("{at}: {text}")
        }
    }

    /// This place in words, empty at the top of a component schema.
    pub(super) fn describe(&self) -> String {
        match (self.label.is_empty(), self.path.is_empty()) {
            (true, true) => String::new(),
            (true, false) => format!("property `{}`", self.path),
            (false, true) => self.label.clone(),
            (false, false) => format!("{}, property `{}`", self.label, self.path),
        }
    }
}

/// A rule for each direction a schema may be used in: (rule id, breaking).
pub(super) struct Rules {
    pub(super) request: (String, bool),
    pub(super) response: (String, bool),
}

impl Rules {
    /// The rules for a change `what` to the schema at `place`: the rule id is the place's
    /// prefix for each direction followed by `what`.
    pub(super) fn at(
        place: &Place,
        what: &str,
        request_breaks: bool,
        response_breaks: bool,
    ) -> Rules {
        Rules {
            request: (
                format!("{}-{what}", place.prefix("request")),
                request_breaks,
            ),
            response: (
                format!("{}-{what}", place.prefix("response")),
                response_breaks,
            ),
        }
    }
}
