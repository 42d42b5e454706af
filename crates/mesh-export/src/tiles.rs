//! The tiles of an export: the [`tiles3d_download`] engine, adapted to Mesh Export.
//!
//! An export's `_links.mesh.href` is the root of a blob container with a SAS signature (valid
//! about an hour) as its query. [`ExportTileset::from_export`] turns it into a [`TilesetUrl`];
//! [`ExportLinks`] is a [`SignedUrlSource`] that, when the store refuses the signature, reads
//! the export again through get-exports (never the deprecated get-export) for a fresh
//! `_links.mesh`; [`DownloadExport::download_export`] downloads an export with it. Everything
//! else a user of the downloader needs is re-exported from [`tiles3d_download`] here, so one
//! dependency on this crate is enough.
//!
//! ```no_run
//! use mesh_export::tiles::{DownloadExport, DownloadError, Downloader};
//!
//! # async fn run(client: &mesh_export::Client, export: &mesh_export::Export) -> Result<(), Box<dyn std::error::Error>> {
//! let i_model_id = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc";
//! match Downloader::new("./tiles").download_export(client, i_model_id, export).await {
//!     Ok(summary) => println!("{} files, {} bytes", summary.files, summary.bytes),
//!     Err(DownloadError::Incomplete { failures, .. }) => {
//!         failures.iter().for_each(|f| eprintln!("failed: {f}"));
//!     }
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(())
//! # }
//! ```

use std::future::Future;

use futures::future::BoxFuture;

pub use tiles3d_download::*;

use crate::{Client, Export};

/// A [`TilesetUrl`] from an export.
pub trait ExportTileset: Sized {
    /// The tileset of a `Complete` export, from its `_links.mesh.href`.
    ///
    /// # Errors
    ///
    /// [`TilesetUrlError::Unavailable`] when the export has no `_links.mesh` (it is not
    /// `Complete`, or was listed with `Prefer: return=minimal`), and the errors of
    /// [`TilesetUrl::from_root_href`].
    fn from_export(export: &Export) -> Result<Self, TilesetUrlError>;
}

impl ExportTileset for TilesetUrl {
    fn from_export(export: &Export) -> Result<Self, TilesetUrlError> {
        let href = export
            .links
            .as_ref()
            .and_then(|links| links.mesh.as_ref())
            .map(|mesh| mesh.href.as_str())
            .ok_or_else(|| {
                TilesetUrlError::Unavailable(format!(
                    "export {} has no mesh link yet: it is not Complete",
                    export.id
                ))
            })?;
        Self::from_root_href(href)
    }
}

/// Downloads an export's tileset with a [`Downloader`].
pub trait DownloadExport {
    /// Downloads the tileset of a `Complete` export of `i_model_id`; when the store refuses
    /// the signature (links last about an hour), reads the export again through get-exports
    /// for a fresh `_links.mesh` and carries on, up to [`DownloadOptions::max_resigns`] times.
    fn download_export(
        &self,
        client: &Client,
        i_model_id: &str,
        export: &Export,
    ) -> impl Future<Output = Result<DownloadSummary, DownloadError>> + Send;
}

impl DownloadExport for Downloader {
    async fn download_export(
        &self,
        client: &Client,
        i_model_id: &str,
        export: &Export,
    ) -> Result<DownloadSummary, DownloadError> {
        let source = ExportLinks::new(client.clone(), i_model_id, export)?;
        self.download_from(&source).await
    }
}

/// The tileset of an export, re-signed by reading the export again through get-exports
/// (`Prefer: return=representation`, which carries `_links.mesh`).
#[derive(Debug, Clone)]
pub struct ExportLinks {
    client: Client,
    i_model_id: String,
    export_id: String,
    first: TilesetUrl,
}

impl ExportLinks {
    /// The tileset of `export`, a `Complete` export of `i_model_id` as get-exports or
    /// get-export returned it.
    pub fn new(
        client: Client,
        i_model_id: impl Into<String>,
        export: &Export,
    ) -> Result<Self, TilesetUrlError> {
        Ok(ExportLinks {
            first: TilesetUrl::from_export(export)?,
            client,
            i_model_id: i_model_id.into(),
            export_id: export.id.clone(),
        })
    }
}

impl SignedUrlSource for ExportLinks {
    fn current(&self) -> TilesetUrl {
        self.first.clone()
    }

    fn refresh(&self) -> BoxFuture<'_, Result<TilesetUrl, RefreshError>> {
        Box::pin(async move {
            let export = self
                .client
                .find_export(&self.i_model_id, &self.export_id)
                .await
                .map_err(|e| RefreshError::Source(Box::new(e)))?;
            let fresh = TilesetUrl::from_export(&export)?;
            if fresh.root_unsigned() != self.first.root_unsigned() {
                return Err(RefreshError::OtherRoot);
            }
            Ok(fresh)
        })
    }
}
