//! Security schemes: removed, added, or changed in type, key location, HTTP scheme, OAuth2 flows
//! and scopes, or OpenID Connect URL.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use openapiv3::{OpenAPI, SecurityScheme};

use super::{Walker, shown};
use crate::spec_diff::resolve;

impl<'a> Walker<'a> {
    /// The security schemes of the components, then the global security requirements.
    pub(super) fn security(&mut self) -> Result<(), String> {
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

    /// One security scheme present in both definitions.
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
                self.oauth2(group, label, of, nf)
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

    /// OAuth2 flows by kind: removed, added, or changed in their URLs or scopes.
    fn oauth2(
        &mut self,
        group: &str,
        label: &str,
        old: &openapiv3::OAuth2Flows,
        new: &openapiv3::OAuth2Flows,
    ) {
        let old_flows = oauth_flows(old);
        let new_flows = oauth_flows(new);
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
}

/// An OAuth2 flow's parts that matter to a caller.
struct Flow {
    token_url: Option<String>,
    authorization_url: Option<String>,
    scopes: BTreeSet<String>,
}

/// The flows of an OAuth2 scheme, keyed by their name in the document.
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

/// The `type` of a security scheme as the document spells it.
fn scheme_type(scheme: &SecurityScheme) -> &'static str {
    match scheme {
        SecurityScheme::APIKey { .. } => "apiKey",
        SecurityScheme::HTTP { .. } => "http",
        SecurityScheme::OAuth2 { .. } => "oauth2",
        SecurityScheme::OpenIDConnect { .. } => "openIdConnect",
    }
}
