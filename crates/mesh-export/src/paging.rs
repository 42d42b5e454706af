//! Listing exports: one page, the next page, or a `Stream` over all of them.

use std::num::NonZeroU32;

use futures::{Stream, StreamExt, TryStreamExt, stream};
use mesh_export_client::types::{Export, ExportOrderBy, ExportType, ExportsPage, PreferReturn};
use mesh_export_client::{ITWIN_ACCEPT, OperationInfo, RequestPolicy};
use reqwest::header::{ACCEPT, HeaderValue};

use crate::client::{Client, from_response};
use crate::error::{self, Error};
use crate::policy;

/// The operation a next-page link belongs to, for the policy's span and deprecation check.
const GET_EXPORTS: OperationInfo = OperationInfo {
    operation_id: "get_exports",
};

/// Which exports to list. Every field is optional; the default lists all exports the
/// credentials can see.
///
/// ```
/// use mesh_export::{ExportFilter, types::ExportType};
///
/// let filter = ExportFilter::new()
///     .i_model_id("b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc")
///     .export_type(ExportType::X3dTiles)
///     .page_size(50);
/// # let _ = filter;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExportFilter {
    /// Only exports of this iModel.
    pub i_model_id: Option<String>,
    /// Only exports of this changeset.
    pub changeset_id: Option<String>,
    /// Only exports of this type. Matched here, case-insensitively, because the service echoes
    /// some types in another case (`3DTILES` for `3DTiles`).
    pub export_type: Option<ExportType>,
    /// Order by `lastModified` (the service's default without a changeset is newest first).
    pub order_by: Option<ExportOrderBy>,
    /// Exports per page (`$top`; the service's default is 100).
    pub page_size: Option<NonZeroU32>,
    /// Ask for CDN URLs in `_links.mesh` (`cdn=1`).
    pub cdn: bool,
    /// Only exports of this major tile format version (`tileVersion`, e.g. `36`).
    pub tile_version: Option<u32>,
    /// Only exports compatible with this iTwin.js version (`iTwinJS`, e.g. `4.10.2`).
    pub itwinjs: Option<String>,
}

impl ExportFilter {
    /// A filter that matches every export.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only exports of this iModel.
    pub fn i_model_id(mut self, id: impl Into<String>) -> Self {
        self.i_model_id = Some(id.into());
        self
    }

    /// Only exports of this changeset.
    pub fn changeset_id(mut self, id: impl Into<String>) -> Self {
        self.changeset_id = Some(id.into());
        self
    }

    /// Only exports of this type.
    pub fn export_type(mut self, export_type: ExportType) -> Self {
        self.export_type = Some(export_type);
        self
    }

    /// Orders by `lastModified`.
    pub fn order_by(mut self, order: ExportOrderBy) -> Self {
        self.order_by = Some(order);
        self
    }

    /// Exports per page; `0` keeps the service's default.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = NonZeroU32::new(size);
        self
    }

    /// Asks for CDN URLs.
    pub fn cdn(mut self, cdn: bool) -> Self {
        self.cdn = cdn;
        self
    }

    /// Only exports of this major tile format version, as iTwin.js asks (`tileVersion`).
    pub fn tile_version(mut self, major: u32) -> Self {
        self.tile_version = Some(major);
        self
    }

    /// Only exports compatible with this iTwin.js version, such as `4.10.2` (`iTwinJS`).
    pub fn itwinjs(mut self, version: impl Into<String>) -> Self {
        self.itwinjs = Some(version.into());
        self
    }

    /// Whether `export` passes the filters applied on this side.
    pub fn matches(&self, export: &Export) -> bool {
        match &self.export_type {
            None => true,
            Some(wanted) => export
                .request
                .as_ref()
                .and_then(|r| r.export_type.as_ref())
                .is_some_and(|t| same_export_type(t, wanted)),
        }
    }
}

/// Whether two export types are the same, ignoring case (`3DTILES` is `3DTiles`).
pub fn same_export_type(a: &ExportType, b: &ExportType) -> bool {
    a.as_str().eq_ignore_ascii_case(b.as_str())
}

impl Client {
    /// The first page of exports matching `filter`, in full (`Prefer: return=representation`,
    /// so items carry `request` and `_links.mesh`).
    pub async fn list_page(&self, filter: &ExportFilter) -> Result<ExportsPage, Error> {
        let mut builder = self
            .generated()
            .get_exports()
            .prefer(PreferReturn::ReturnRepresentation);
        if let Some(id) = &filter.i_model_id {
            builder = builder.i_model_id(id.clone());
        }
        if let Some(id) = &filter.changeset_id {
            builder = builder.changeset_id(id.clone());
        }
        if let Some(order) = filter.order_by {
            builder = builder.order_by(order);
        }
        if let Some(size) = filter.page_size {
            builder = builder.top(size);
        }
        if filter.cdn {
            builder = builder.cdn(1);
        }
        if let Some(major) = filter.tile_version {
            // The spec's int32; a version above i32::MAX fails the call with a clear message.
            builder = builder.tile_version(major);
        }
        if let Some(version) = &filter.itwinjs {
            builder = builder.i_twin_js(version.clone());
        }
        let mut page = self.call(builder.send()).await?.into_inner();
        page.exports.retain(|e| filter.matches(e));
        Ok(page)
    }

    /// The page after `page`, or `None` on the last one. Type filters are not carried by the
    /// link; apply [`ExportFilter::matches`] to its items when you used one.
    pub async fn next_page(&self, page: &ExportsPage) -> Result<Option<ExportsPage>, Error> {
        match &page.links.next {
            Some(link) => self.page_at(&link.href).await.map(Some),
            None => Ok(None),
        }
    }

    /// Every export matching `filter`, page after page, following `_links.next`.
    ///
    /// ```no_run
    /// # async fn demo(client: mesh_export::Client) -> Result<(), mesh_export::Error> {
    /// use futures::TryStreamExt;
    /// use mesh_export::ExportFilter;
    ///
    /// let exports: Vec<_> = client
    ///     .exports(ExportFilter::new().i_model_id("b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc"))
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn exports(
        &self,
        filter: ExportFilter,
    ) -> impl Stream<Item = Result<Export, Error>> + Send + 'static {
        enum Next {
            First,
            At(String),
            Done,
        }
        let client = self.clone();
        stream::try_unfold(Next::First, move |next| {
            let client = client.clone();
            let filter = filter.clone();
            async move {
                let mut page = match next {
                    Next::First => client.list_page(&filter).await?,
                    Next::At(href) => client.page_at(&href).await?,
                    Next::Done => return Ok::<_, Error>(None),
                };
                page.exports.retain(|e| filter.matches(e));
                let next = match page.links.next {
                    // A link back to the same page would loop forever.
                    Some(link) if link.href != page.links.self_.href => Next::At(link.href),
                    _ => Next::Done,
                };
                Ok(Some((page.exports, next)))
            }
        })
        .map_ok(|exports| stream::iter(exports.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// Fetches a page by its link, through the same policy (auth, retries) as other calls.
    async fn page_at(&self, href: &str) -> Result<ExportsPage, Error> {
        let url = self.service_link(href)?;
        let mut request = self
            .http()
            .get(url)
            .header(ACCEPT, HeaderValue::from_static(ITWIN_ACCEPT))
            .header("prefer", PreferReturn::ReturnRepresentation.to_string())
            .build()
            .map_err(|e| Error::InvalidRequest(e.without_url().to_string()))?;
        let policy = self.inner.policy.clone();
        let http = self.http().clone();
        let (result, state) = policy::in_call(async move {
            policy
                .prepare(&mut request, &GET_EXPORTS)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(policy.execute(&http, request, &GET_EXPORTS).await)
        })
        .await;
        if let Some(error) = state.error {
            return Err(error);
        }
        let correlation_id = state.correlation_id;
        let response = match result {
            Err(message) => return Err(Error::InvalidRequest(message)),
            Ok(Err(source)) => {
                return Err(Error::Transport {
                    source: source.without_url(),
                    correlation_id,
                });
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(from_response(response, correlation_id).await);
        }
        let body = response.bytes().await.map_err(|source| Error::Transport {
            source: source.without_url(),
            correlation_id: correlation_id.clone(),
        })?;
        serde_json::from_slice(&body).map_err(|_| Error::Decode {
            status: status.as_u16(),
            body_excerpt: error::body_excerpt(&body),
            correlation_id,
        })
    }

    /// Parses a link from the service and checks it points back at the service (same scheme,
    /// host, port and path prefix) before the token is sent to it.
    fn service_link(&self, href: &str) -> Result<url::Url, Error> {
        let untrusted = |href: &str| Error::UntrustedLink {
            href: href.split('?').next().unwrap_or_default().to_owned(),
        };
        let url = url::Url::parse(href).map_err(|_| untrusted(href))?;
        let base = &self.inner.parsed_base;
        let same_origin = url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default();
        let base_path = base.path().trim_end_matches('/');
        let path = url.path();
        let under_base = path == base_path
            || path
                .strip_prefix(base_path)
                .is_some_and(|rest| rest.starts_with('/'));
        if same_origin && under_base {
            Ok(url)
        } else {
            tracing::warn!(link = %error::redacted_url(&url), "next-page link points outside the service; not followed");
            Err(untrusted(href))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::builder()
            .base_url("https://api.bentley.com/mesh-export/")
            .static_token("t")
            .build()
            .unwrap()
    }

    #[test]
    fn links_must_stay_on_the_service() {
        let c = client();
        assert!(
            c.service_link("https://api.bentley.com/mesh-export/?$skip=100")
                .is_ok()
        );
        assert!(
            c.service_link("https://api.bentley.com:443/mesh-export/?$skip=1")
                .is_ok()
        );
        for bad in [
            "https://evil.example/mesh-export/?$skip=100",
            "http://api.bentley.com/mesh-export/?$skip=100",
            "https://api.bentley.com:8443/mesh-export/",
            "https://api.bentley.com/other-api/",
            "https://api.bentley.com/mesh-exporter/",
            "https://api.bentley.com.evil.example/mesh-export/",
            "not a url",
        ] {
            assert!(
                matches!(c.service_link(bad), Err(Error::UntrustedLink { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn export_types_match_ignoring_case() {
        assert!(same_export_type(
            &ExportType::X3dTiles,
            &ExportType::X3dtiles
        ));
        assert!(same_export_type(
            &ExportType::X3dTiles,
            &ExportType::Unknown("3dtiles".into())
        ));
        assert!(!same_export_type(
            &ExportType::X3dTiles,
            &ExportType::Cesium
        ));
    }
}
