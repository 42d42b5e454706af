//! Media types of a request body or a response, and the schema each one carries.

use indexmap::IndexMap;
use openapiv3::MediaType;

use super::Walker;
use super::place::{Place, PlaceKind};
use crate::spec_diff::resolve::Usage;

impl<'a> Walker<'a> {
    /// The media types of a request body or a response. `vital` says whether losing a media
    /// type breaks a caller (a request body, a success response).
    pub(super) fn content(
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
}
