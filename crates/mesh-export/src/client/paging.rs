//! Listing exports: one page, the next page, or a `Stream` over all of them.

use std::collections::HashSet;
use std::num::NonZeroU32;

use futures::{Stream, StreamExt, TryStreamExt, stream};
use mesh_export_client::ITWIN_ACCEPT;
use mesh_export_client::types::{Export, ExportOrderBy, ExportType, ExportsPage, PreferReturn};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderValue};

use super::Client;
use crate::error::Error;
use crate::policy;
use mesh_export_client::builder;

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
    /// Only exports of this type (`exportType`). Sent to the service, which the portal
    /// recommends ("it will also help the system improve auto-generation"), and matched here
    /// too, case-insensitively, because the service echoes some types in another case
    /// (`3DTILES` for `3DTiles`).
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
    /// The application named to the service's statistics as `client` and `clientVersion`,
    /// as CesiumJS and the Unreal plugin name themselves; `None` names this crate,
    /// [`DEFAULT_CLIENT`] and its version.
    pub client: Option<(String, String)>,
}

/// The `client` a filter names when none is set.
pub const DEFAULT_CLIENT: &str = "mesh-export";

impl ExportFilter {
    /// A filter that matches every export.
    pub fn new() -> Self {
        Self::default()
    }

    /// `builder` asking for the first page of what this filter matches, in full
    /// (`Prefer: return=representation`, so items carry `request` and `_links.mesh`).
    fn request<'a>(&self, builder: builder::GetExports<'a>) -> builder::GetExports<'a> {
        let mut builder = builder.prefer(PreferReturn::ReturnRepresentation);
        if let Some(id) = &self.i_model_id {
            builder = builder.i_model_id(id.as_str());
        }
        if let Some(id) = &self.changeset_id {
            builder = builder.changeset_id(id.as_str());
        }
        if let Some(order) = self.order_by {
            builder = builder.order_by(order);
        }
        if let Some(size) = self.page_size {
            builder = builder.top(size);
        }
        if self.cdn {
            builder = builder.cdn(1);
        }
        if let Some(major) = self.tile_version {
            // The spec's int32; a version above i32::MAX fails the call with a clear message.
            builder = builder.tile_version(major);
        }
        if let Some(version) = &self.itwinjs {
            builder = builder.i_twin_js(version.as_str());
        }
        if let Some(export_type) = &self.export_type {
            builder = builder.export_type(export_type.clone());
        }
        let (client, version) = self
            .client
            .as_ref()
            .map_or((DEFAULT_CLIENT, env!("CARGO_PKG_VERSION")), |(c, v)| {
                (c.as_str(), v.as_str())
            });
        builder.client(client).client_version(version)
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

    /// Names the calling application to the service (`client`, `clientVersion`) in place of
    /// this crate.
    pub fn client(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.client = Some((name.into(), version.into()));
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
                .is_some_and(|t| t.eq_ignore_ascii_case(wanted)),
        }
    }
}

impl Client {
    /// The first page of exports matching `filter`, in full (`Prefer: return=representation`,
    /// so items carry `request` and `_links.mesh`).
    ///
    /// # Errors
    ///
    /// [`Error::Service`], [`Error::RateLimited`], [`Error::Auth`], [`Error::Transport`], or
    /// [`Error::Decode`] for a page that is not the documented JSON.
    pub async fn list_page(&self, filter: &ExportFilter) -> Result<ExportsPage, Error> {
        let build = || {
            policy::built(
                filter
                    .request(self.inner.generated.get_exports())
                    .into_request(),
            )
        };
        let mut page: ExportsPage = self
            .send(&build, builder::GetExports::OPERATION_ID)
            .await?
            .decode(StatusCode::OK)?;
        page.exports.retain(|e| filter.matches(e));
        Ok(page)
    }

    /// The page after `page`, or `None` on the last one. Type filters are not carried by the
    /// link; apply [`ExportFilter::matches`] to its items when you used one.
    ///
    /// # Errors
    ///
    /// Those of [`list_page`](Self::list_page), and [`Error::UntrustedLink`] for a link that
    /// leaves the service (the token is not sent there).
    pub async fn next_page(&self, page: &ExportsPage) -> Result<Option<ExportsPage>, Error> {
        match &page.links.next {
            Some(link) => self.page_at(&link.href).await.map(Some),
            None => Ok(None),
        }
    }

    /// Every export matching `filter`, page after page, following `_links.next`.
    ///
    /// A `next` link back to a page already read (directly or through other pages) ends the
    /// stream with [`Error::PageLoop`]: following it would never end, and stopping quietly
    /// could leave exports out.
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
        struct Walk {
            next: Next,
            /// Every page link read so far (their `self` links and the `next` links followed).
            visited: HashSet<String>,
        }
        let client = self.clone();
        let start = Walk {
            next: Next::First,
            visited: HashSet::new(),
        };
        stream::try_unfold(start, move |mut walk| {
            let client = client.clone();
            let filter = filter.clone();
            async move {
                let mut page = match std::mem::replace(&mut walk.next, Next::Done) {
                    Next::First => client.list_page(&filter).await?,
                    Next::At(href) => client.page_at(&href).await?,
                    Next::Done => return Ok::<_, Error>(None),
                };
                page.exports.retain(|e| filter.matches(e));
                walk.visited.insert(page.links.self_.href.clone());
                if let Some(link) = page.links.next.take() {
                    if !walk.visited.insert(link.href.clone()) {
                        return Err(Error::PageLoop {
                            href: http_policy::redact::redact_link(&link.href),
                        });
                    }
                    walk.next = Next::At(link.href);
                }
                Ok(Some((page.exports, walk)))
            }
        })
        .map_ok(|exports| stream::iter(exports.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// Fetches a page by its link, down the same request path (auth, retries) as other calls.
    async fn page_at(&self, href: &str) -> Result<ExportsPage, Error> {
        let url = self.service_link(href)?;
        let build = || {
            self.http()
                .get(url.clone())
                .header(ACCEPT, HeaderValue::from_static(ITWIN_ACCEPT))
                .header("prefer", PreferReturn::ReturnRepresentation.to_string())
                .build()
                .map_err(|e| Error::InvalidRequest(e.without_url().to_string()))
        };
        self.send(&build, builder::GetExports::OPERATION_ID)
            .await?
            .decode(StatusCode::OK)
    }

    /// Parses a link from the service and checks it points back at the service (same scheme,
    /// host, port and path prefix) before the token is sent to it.
    fn service_link(&self, href: &str) -> Result<url::Url, Error> {
        let untrusted = |href: &str| Error::UntrustedLink {
            href: http_policy::redact::redact_link(href),
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
            tracing::warn!(link = %http_policy::redact::redact_url(&url), "next-page link points outside the service; not followed");
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
        assert!(ExportType::X3dTiles.eq_ignore_ascii_case(&ExportType::X3dtiles));
        assert!(ExportType::X3dTiles.eq_ignore_ascii_case(&ExportType::Unknown("3dtiles".into())));
        assert!(!ExportType::X3dTiles.eq_ignore_ascii_case(&ExportType::Cesium));
    }
}
