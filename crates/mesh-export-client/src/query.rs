//! Query strings written in one pass over the request's URL.
//!
//! progenitor appends each query parameter with its own `RequestBuilder::query` call, which
//! moves the whole builder and opens and closes the URL's query once per parameter, set or not.
//! The generated `into_request` writes them all at once instead, with the same encoding.

use progenitor_client::{Error, QueryParam};
use reqwest::Url;
use serde::Serialize;
use url::form_urlencoded;

/// The query of a request being built, written parameter by parameter.
pub(crate) struct QueryPairs<'a>(form_urlencoded::Serializer<'a, url::UrlQuery<'a>>);

impl QueryPairs<'_> {
    /// Appends `name` with `value` as progenitor encodes it (nothing for `None`, one pair per
    /// item for a list).
    pub(crate) fn push<T: Serialize>(
        &mut self,
        name: &str,
        value: &T,
    ) -> Result<(), serde_urlencoded::ser::Error> {
        QueryParam::new(name, value)
            .serialize(serde_urlencoded::Serializer::new(&mut self.0))
            .map(|_| ())
    }
}

/// Writes a request's query parameters into `url`, leaving no `?` when none is set.
// The error is the generated builders' own (progenitor's `Error`), which `into_request` returns.
#[allow(clippy::result_large_err)]
pub(crate) fn write_query<E>(
    url: &mut Url,
    write: impl FnOnce(&mut QueryPairs<'_>) -> Result<(), serde_urlencoded::ser::Error>,
) -> Result<(), Error<E>> {
    let written = write(&mut QueryPairs(url.query_pairs_mut()));
    if url.query() == Some("") {
        url.set_query(None);
    }
    written.map_err(|e| Error::InvalidRequest(format!("query string: {e}")))
}
