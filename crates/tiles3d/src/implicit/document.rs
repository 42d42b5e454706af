//! A subtree's JSON (a JSON subtree file, or the JSON chunk of a binary one): its buffers,
//! buffer views and availability, checked against the implicit root it belongs to.

use serde::Deserialize;

use super::availability::Availability;
use super::tiling::ImplicitTiling;

/// The most bits one availability may have: 2^24 (a 2 MiB bitstream), which allows quadtree
/// subtrees of up to 12 levels and octree subtrees of up to 8. Real tilesets use 4 to 10.
const MAX_AVAILABILITY_BITS: u64 = 1 << 24;

/// A subtree's availability, checked against its buffers.
#[derive(Debug)]
pub(super) struct Parsed {
    pub(super) buffers: Vec<BufferJson>,
    pub(super) views: Vec<ViewJson>,
    pub(super) tiles: Availability,
    pub(super) contents: Vec<Availability>,
    pub(super) children: Availability,
}

/// A subtree document as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SubtreeJson {
    #[serde(default)]
    buffers: Vec<BufferJson>,
    #[serde(default)]
    buffer_views: Vec<ViewJson>,
    tile_availability: Option<AvailabilityJson>,
    content_availability: Option<OneOrMany>,
    child_subtree_availability: Option<AvailabilityJson>,
    #[serde(default)]
    extensions: SubtreeExtensions,
}

/// `contentAvailability`: an array in 3D Tiles 1.1; a single object in drafts CesiumJS
/// still reads.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(AvailabilityJson),
    Many(Vec<AvailabilityJson>),
}

#[derive(Debug, Default, Deserialize)]
struct SubtreeExtensions {
    /// 3D Tiles 1.0's multiple contents keep their availability here.
    #[serde(rename = "3DTILES_multiple_contents")]
    multiple_contents: Option<MultipleContents>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MultipleContents {
    content_availability: Option<Vec<AvailabilityJson>>,
}

/// A buffer of a subtree: external when it has a URI, else the binary chunk.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BufferJson {
    pub(super) uri: Option<String>,
    pub(super) byte_length: u64,
}

/// A buffer view: a byte range of one buffer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ViewJson {
    pub(super) buffer: usize,
    #[serde(default)]
    pub(super) byte_offset: u64,
    byte_length: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AvailabilityJson {
    /// `bufferView` in the 3D Tiles 1.0 extension.
    #[serde(alias = "bufferView")]
    bitstream: Option<usize>,
    constant: Option<u64>,
}

/// Checks a subtree document against its tiling and buffers; `binary_length` is the length of
/// a binary subtree's binary chunk, `None` for a JSON subtree. An error says what is wrong.
pub(super) fn check(
    tiling: &ImplicitTiling,
    document: SubtreeJson,
    binary_length: Option<u64>,
) -> Result<Parsed, String> {
    check_buffers(&document.buffers, binary_length)?;
    check_views(&document.buffer_views, &document.buffers)?;
    let scheme = tiling.scheme;
    let tile_bits = scheme.tiles_in(tiling.subtree_levels);
    let child_bits = scheme.tiles_at(tiling.subtree_levels);
    debug_assert!(child_bits <= MAX_AVAILABILITY_BITS);
    let views = &document.buffer_views;
    let tiles = availability(
        "tileAvailability",
        document.tile_availability.as_ref(),
        tile_bits,
        views,
    )?;
    let children = availability(
        "childSubtreeAvailability",
        document.child_subtree_availability.as_ref(),
        child_bits,
        views,
    )?;
    let legacy = document
        .extensions
        .multiple_contents
        .as_ref()
        .and_then(|m| m.content_availability.as_deref());
    let listed = match &document.content_availability {
        Some(OneOrMany::One(one)) => std::slice::from_ref(one),
        Some(OneOrMany::Many(many)) => many.as_slice(),
        None => legacy.unwrap_or_default(),
    };
    // Without content templates there is nothing to fetch, whatever a stray
    // contentAvailability says.
    let listed = if tiling.contents.is_empty() {
        &[][..]
    } else {
        listed
    };
    if listed.len() != tiling.contents.len() {
        return Err(format!(
            "{} contentAvailability for {} content template(s) of the implicit root",
            listed.len(),
            tiling.contents.len()
        ));
    }
    let contents = listed
        .iter()
        .enumerate()
        .map(|(i, given)| {
            availability(
                &format!("contentAvailability[{i}]"),
                Some(given),
                tile_bits,
                views,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Parsed {
        buffers: document.buffers,
        views: document.buffer_views,
        tiles,
        contents,
        children,
    })
}

/// Checks that every buffer but an internal first one (in a binary subtree) has a URI, that
/// none is a data URI, and that the internal one fits the binary chunk.
fn check_buffers(buffers: &[BufferJson], binary_length: Option<u64>) -> Result<(), String> {
    for (index, buffer) in buffers.iter().enumerate() {
        match (&buffer.uri, binary_length) {
            (Some(uri), _)
                if uri
                    .get(..5)
                    .is_some_and(|s| s.eq_ignore_ascii_case("data:")) =>
            {
                return Err(format!(
                    "buffer {index} is a data: URI, which subtrees may not use"
                ));
            }
            (Some(_), _) => {}
            (None, Some(binary)) if index == 0 => {
                if buffer.byte_length > binary {
                    return Err(format!(
                        "the internal buffer's byteLength {} exceeds the binary chunk ({binary} bytes)",
                        buffer.byte_length
                    ));
                }
            }
            (None, Some(_)) => {
                return Err(format!(
                    "buffer {index} has no uri; only the first buffer may be internal"
                ));
            }
            (None, None) => {
                return Err(format!("buffer {index} has no uri in a JSON subtree"));
            }
        }
    }
    Ok(())
}

/// Checks that every buffer view lies within its buffer.
fn check_views(views: &[ViewJson], buffers: &[BufferJson]) -> Result<(), String> {
    for (index, view) in views.iter().enumerate() {
        let Some(buffer) = buffers.get(view.buffer) else {
            return Err(format!(
                "bufferView {index} names buffer {}, which does not exist",
                view.buffer
            ));
        };
        let end = view.byte_offset.checked_add(view.byte_length);
        if end.is_none_or(|end| end > buffer.byte_length) {
            return Err(format!(
                "bufferView {index} runs past the end of buffer {}",
                view.buffer
            ));
        }
    }
    Ok(())
}

/// The availability `name` (of `bits` bits) as given: exactly one of a constant 0 or 1 and a
/// bitstream in a buffer view long enough to hold it.
fn availability(
    name: &str,
    given: Option<&AvailabilityJson>,
    bits: u64,
    views: &[ViewJson],
) -> Result<Availability, String> {
    let given = given.ok_or_else(|| format!("subtree without {name}"))?;
    match (given.bitstream, given.constant) {
        (Some(_), Some(_)) => Err(format!("{name} has both a bitstream and a constant")),
        (None, Some(constant @ (0 | 1))) => Ok(Availability::Constant(constant == 1)),
        (None, Some(other)) => Err(format!(
            "{name} has the constant {other}; it must be 0 or 1"
        )),
        (None, None) => Err(format!("{name} has neither a bitstream nor a constant")),
        (Some(view), None) => {
            let bytes = bits.div_ceil(8);
            let Some(found) = views.get(view) else {
                return Err(format!(
                    "{name} names bufferView {view}, which does not exist"
                ));
            };
            if found.byte_length < bytes {
                return Err(format!(
                    "{name}'s bitstream has {} bytes where {bits} bits need {bytes}",
                    found.byte_length
                ));
            }
            Ok(Availability::Bitstream { view, bytes })
        }
    }
}

impl Parsed {
    /// The buffer views availability reads, each once, with how many of their bytes it needs.
    pub(super) fn wanted_views(&self) -> Vec<(usize, u64)> {
        let mut wanted: Vec<(usize, u64)> = Vec::new();
        let all = std::iter::once(&self.tiles)
            .chain(&self.contents)
            .chain(std::iter::once(&self.children));
        for availability in all {
            if let Availability::Bitstream { view, bytes } = *availability {
                match wanted.iter_mut().find(|(v, _)| *v == view) {
                    Some((_, known)) => *known = (*known).max(bytes),
                    None => wanted.push((view, bytes)),
                }
            }
        }
        wanted
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::implicit::coord::TileCoord;
    use crate::implicit::testing::*;

    #[test]
    fn without_content_templates_content_availability_is_ignored() {
        let tiling = tiling("QUADTREE", 2, 5, &[]);
        let subtree = json!({
            "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 1}],
            "childSubtreeAvailability": {"constant": 1},
        });
        let named = read(
            &context(&tiling, TileCoord::ROOT),
            subtree.to_string().as_bytes(),
        )
        .unwrap();
        assert!(named.contents.is_empty());
        assert_eq!(named.subtrees.len(), 16);
    }

    #[test]
    fn content_availability_may_be_a_single_object_or_in_the_legacy_extension() {
        let one = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
        let single = json!({
            "tileAvailability": {"constant": 1},
            "contentAvailability": {"constant": 1},
            "childSubtreeAvailability": {"constant": 0},
        });
        let named = read(
            &context(&one, TileCoord::ROOT),
            single.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(named.contents.len(), 5);
        let two = tiling(
            "QUADTREE",
            2,
            5,
            &["c/{level}/{x}/{y}.glb", "d/{level}/{x}/{y}.glb"],
        );
        let legacy = json!({
            "tileAvailability": {"constant": 1},
            "childSubtreeAvailability": {"constant": 0},
            "extensions": {"3DTILES_multiple_contents": {
                "contentAvailability": [{"constant": 0}, {"constant": 1}]
            }},
        });
        let named = read(
            &context(&two, TileCoord::ROOT),
            legacy.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(named.contents.len(), 5);
        assert!(named.contents.iter().all(|c| c.starts_with("d/")));
    }
}
