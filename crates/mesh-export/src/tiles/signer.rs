//! Where a download gets its signed URL, and a fresh one when the blob store refuses it.
//!
//! Signatures last about an hour; a large tileset can take longer. A [`SignedUrlSource`] gives
//! the current [`TilesetUrl`] and, when the store refuses its signature, a fresh one. A fixed
//! URL (a bare `--href`) has nothing fresher to give; [`ExportLinks`] asks the service for the
//! export again through get-exports (never the deprecated get-export) and takes its new
//! `_links.mesh`.

use std::fmt;

use mesh_export_client::BoxFuture;

use super::{TilesetUrl, TilesetUrlError};
use crate::{Client, Export};

/// Why no fresh signed URL could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The source has no way to sign again (a fixed URL).
    #[error("the tileset URL cannot be re-signed: it was given as it is")]
    Unsupported,
    /// Asking the service failed.
    #[error("could not fetch a fresh link: {0}")]
    Service(Box<crate::Error>),
    /// The service's answer holds no usable link.
    #[error("the fresh link cannot be used: {0}")]
    Url(#[from] TilesetUrlError),
    /// The fresh link points at another tileset root than the first one.
    #[error("the fresh link points at another tileset root")]
    OtherRoot,
}

/// A source of signed tileset URLs that can be asked for a fresh signature.
///
/// Implement it to plug in another way of signing (a SAS minted by your own backend):
///
/// ```
/// use mesh_export::tiles::{RefreshError, SignedUrlSource, TilesetUrl};
/// use mesh_export_client::BoxFuture;
///
/// #[derive(Debug)]
/// struct MySigner;
///
/// impl SignedUrlSource for MySigner {
///     fn current(&self) -> TilesetUrl {
///         TilesetUrl::from_mesh_href("https://blobs.example/c/e?sig=1").unwrap()
///     }
///     fn refresh(&self) -> BoxFuture<'_, Result<TilesetUrl, RefreshError>> {
///         Box::pin(async { Ok(TilesetUrl::from_mesh_href("https://blobs.example/c/e?sig=2")?) })
///     }
/// }
/// ```
pub trait SignedUrlSource: fmt::Debug + Send + Sync {
    /// The URL to start with.
    fn current(&self) -> TilesetUrl;

    /// A freshly signed URL of the same tileset, after the store refused the last one.
    fn refresh(&self) -> BoxFuture<'_, Result<TilesetUrl, RefreshError>>;
}

/// A URL given as it is: nothing fresher to offer.
#[derive(Debug, Clone)]
pub struct FixedUrl(pub TilesetUrl);

impl SignedUrlSource for FixedUrl {
    fn current(&self) -> TilesetUrl {
        self.0.clone()
    }

    fn refresh(&self) -> BoxFuture<'_, Result<TilesetUrl, RefreshError>> {
        Box::pin(async { Err(RefreshError::Unsupported) })
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
                .map_err(|e| RefreshError::Service(Box::new(e)))?;
            let fresh = TilesetUrl::from_export(&export)?;
            if fresh.root_unsigned() != self.first.root_unsigned() {
                return Err(RefreshError::OtherRoot);
            }
            Ok(fresh)
        })
    }
}
