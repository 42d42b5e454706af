//! Servers: base URLs added or removed (a trailing slash does not count as a change).

use openapiv3::OpenAPI;

use super::Walker;

impl<'a> Walker<'a> {
    /// The servers of the definition, by URL.
    pub(super) fn servers(&mut self) {
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
