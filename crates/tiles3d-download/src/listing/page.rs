//! One page of Azure's List Blobs answer (`EnumerationResults`), read with serde: the blobs'
//! names and sizes, and the marker of the next page. Everything else in it is ignored.

use serde::Deserialize;

/// A page of the listing: blobs as the store names them, and where the next page starts.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    /// The blobs, in the order listed.
    pub(crate) blobs: Vec<PageBlob>,
    /// The opaque marker of the next page; `None` on the last.
    pub(crate) next_marker: Option<String>,
}

/// One blob of a page.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PageBlob {
    /// Its full name in the container, as sent.
    pub(crate) name: String,
    /// Whether the store sent the name percent-encoded (`Encoded="true"`, for names XML cannot
    /// hold): never a file of a tileset.
    pub(crate) encoded: bool,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// Why a body is not a page of a container listing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotAListing(pub(crate) String);

#[derive(Deserialize)]
struct EnumerationResults {
    #[serde(rename = "Blobs", default)]
    blobs: Blobs,
    #[serde(rename = "NextMarker", default)]
    next_marker: Option<String>,
}

#[derive(Deserialize, Default)]
struct Blobs {
    #[serde(rename = "Blob", default)]
    blob: Vec<Blob>,
}

#[derive(Deserialize)]
struct Blob {
    #[serde(rename = "Name")]
    name: Name,
    #[serde(rename = "Properties")]
    properties: Properties,
}

#[derive(Deserialize)]
struct Name {
    #[serde(rename = "$text", default)]
    text: String,
    #[serde(rename = "@Encoded", default)]
    encoded: Option<String>,
}

#[derive(Deserialize)]
struct Properties {
    #[serde(rename = "Content-Length")]
    content_length: u64,
}

/// Reads a page. Any XML would deserialize into an empty page, so the document element must
/// be `EnumerationResults`: a login page or another store's answer is not taken for an empty
/// container.
pub(crate) fn parse(body: &[u8]) -> Result<Page, NotAListing> {
    let text = std::str::from_utf8(body).map_err(|_| NotAListing("not UTF-8".to_owned()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if root_element(text).as_deref() != Some("EnumerationResults") {
        return Err(NotAListing(
            "its document element is not `EnumerationResults`".to_owned(),
        ));
    }
    let results: EnumerationResults = quick_xml::de::from_str(text)
        .map_err(|e| NotAListing(http_policy::redact::quote(&e.to_string())))?;
    let blobs = results
        .blobs
        .blob
        .into_iter()
        .map(|blob| {
            let encoded =
                (blob.name.encoded).is_some_and(|e| e.trim().eq_ignore_ascii_case("true"));
            PageBlob {
                name: blob.name.text,
                encoded,
                size: blob.properties.content_length,
            }
        })
        .collect();
    let next_marker = results.next_marker.filter(|m| !m.is_empty());
    Ok(Page { blobs, next_marker })
}

/// The name of the document's first element, if it has one.
fn root_element(text: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) | Event::Empty(start) => {
                return Some(String::from_utf8_lossy(start.name().as_ref()).into_owned());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}
