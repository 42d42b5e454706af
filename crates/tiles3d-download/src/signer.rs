//! Where a download gets its signed URL, and a fresh one when the blob store refuses it.
//!
//! Signatures last about an hour; a large tileset can take longer. A [`SignedUrlSource`] gives
//! the current [`TilesetUrl`] and, when the store refuses its signature, a fresh one. A fixed
//! URL ([`FixedUrl`]) has nothing fresher to give; a service that issued the URL can be asked
//! for a new one (the `mesh-export` crate's source reads its export again).

use std::fmt;

use futures::future::BoxFuture;

use crate::url::{TilesetUrl, TilesetUrlError};

/// Why no fresh signed URL could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The source has no way to sign again (a fixed URL).
    #[error("the tileset URL cannot be re-signed: it was given as it is")]
    Unsupported,
    /// Asking the source for a fresh URL failed.
    #[error("could not fetch a fresh link: {0}")]
    Source(Box<dyn std::error::Error + Send + Sync>),
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
/// use futures::future::BoxFuture;
/// use tiles3d_download::{RefreshError, SignedUrlSource, TilesetUrl};
///
/// #[derive(Debug)]
/// struct MySigner;
///
/// impl SignedUrlSource for MySigner {
///     fn current(&self) -> TilesetUrl {
///         TilesetUrl::from_root_href("https://blobs.example/c/e?sig=1").unwrap()
///     }
///     fn refresh(&self) -> BoxFuture<'_, Result<TilesetUrl, RefreshError>> {
///         Box::pin(async { Ok(TilesetUrl::from_root_href("https://blobs.example/c/e?sig=2")?) })
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
