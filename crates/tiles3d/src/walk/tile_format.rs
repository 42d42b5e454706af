//! What a 3D Tiles 1.0 binary tile names, streamed (3D Tiles `specification/TileFormats`):
//!
//! - Batched 3D Model (`b3dm`): a 28-byte header (magic, version, byteLength, then the
//!   byte lengths of the feature table JSON and binary and of the batch table JSON and
//!   binary), the tables, then a binary glTF (2.0, or 1.0 in early tilesets) whose `buffers`
//!   and `images` (and 1.0 `shaders`) may name files. The
//!   legacy headers of 20 and 24 bytes, found in early tilesets, are told as CesiumJS tells
//!   them: a table length past 0x22000000 is the start of a batch table or glTF instead.
//! - Instanced 3D Model (`i3dm`): a 32-byte header (the same, then `gltfFormat`), the tables,
//!   then with `gltfFormat` 1 a binary glTF, with 0 the URI of the glTF to instance (padded
//!   to 8-byte alignment with spaces, and in the wild with NULs).
//! - Composite (`cmpt`): a 16-byte header (magic, version, byteLength, tilesLength), then the
//!   inner tiles, each with its own header and byteLength, read in turn.
//! - Point Cloud (`pnts`): names nothing.

use std::io::{self, Read};

use super::glb::glb_uris;
use super::gltf::dedup;
use crate::TilePath;
use crate::reference::WalkError;

/// The deepest composites nest in this reader: deeper is refused, not recursed into.
const MAX_COMPOSITE_DEPTH: usize = 8;

/// The longest glTF URI of an `.i3dm` read.
const MAX_GLTF_URI: u64 = 64 * 1024;

/// The URIs a 3D Tiles 1.0 binary tile at `path` names, in order, each once.
pub fn tile_uris(path: &TilePath, reader: impl Read) -> Result<Vec<String>, WalkError> {
    let mut uris = Vec::new();
    let mut reader = reader;
    read_tile(path, &mut reader, 0, &mut uris)?;
    Ok(dedup(uris))
}

/// The header fields every format starts with.
struct Header {
    magic: [u8; 4],
    byte_length: u32,
}

fn shape(reason: impl Into<String>) -> WalkError {
    WalkError::Shape(reason.into())
}

fn word(reader: &mut impl Read) -> Result<u32, WalkError> {
    let mut bytes = [0u8; 4];
    reader.read_exact(&mut bytes).map_err(truncated)?;
    Ok(u32::from_le_bytes(bytes))
}

/// A read that ran out of bytes is a tile shorter than its header says.
fn truncated(error: io::Error) -> WalkError {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        shape("3D Tiles tile shorter than its header says")
    } else {
        WalkError::Io(error)
    }
}

fn read_header(reader: &mut impl Read) -> Result<Header, WalkError> {
    let mut magic = [0u8; 4];
    reader.read_exact(&mut magic).map_err(truncated)?;
    let version = word(reader)?;
    let byte_length = word(reader)?;
    if version != 1 {
        return Err(shape(format!(
            "{} tile of version {version}, not 1",
            String::from_utf8_lossy(&magic)
        )));
    }
    Ok(Header { magic, byte_length })
}

/// Not generic over the reader: a composite's inner tile is read by this same function, and a
/// generic one would instantiate itself without end.
fn read_tile(
    path: &TilePath,
    mut reader: &mut dyn Read,
    depth: usize,
    uris: &mut Vec<String>,
) -> Result<(), WalkError> {
    let header = read_header(&mut reader)?;
    // What follows the 12 bytes read, as far as the tile's own length goes.
    let rest = u64::from(header.byte_length).saturating_sub(12);
    let mut body = reader.take(rest);
    match &header.magic {
        b"b3dm" => batched(&mut body, uris),
        b"i3dm" => instanced(&mut body, uris),
        b"cmpt" => composite(path, &mut body, depth, uris),
        b"pnts" => Ok(()),
        other => Err(shape(format!(
            "not a 3D Tiles 1.0 tile: magic {:?}",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// Skips `n` bytes, which must be there.
fn skip(reader: &mut impl Read, n: u64) -> Result<(), WalkError> {
    let skipped = io::copy(&mut reader.take(n), &mut io::sink())?;
    if skipped != n {
        return Err(shape("3D Tiles tile shorter than its tables say"));
    }
    Ok(())
}

/// The four table lengths of a `b3dm` or `i3dm` header, summed.
fn tables_length(reader: &mut impl Read) -> Result<u64, WalkError> {
    let mut total = 0;
    for _ in 0..4 {
        total += u64::from(word(reader)?);
    }
    Ok(total)
}

/// A table length this large is no length: the bytes of a legacy header's batch table JSON
/// or glTF magic, read where a longer header would have a length.
const LEGACY_MARK: u32 = 0x2200_0000;

fn batched(body: &mut impl Read, uris: &mut Vec<String>) -> Result<(), WalkError> {
    let mut fields = [0u8; 16];
    body.read_exact(&mut fields).map_err(truncated)?;
    let at =
        |i: usize| u32::from_le_bytes([fields[i], fields[i + 1], fields[i + 2], fields[i + 3]]);
    // (where the body starts in `fields`, the tables' length before the glTF)
    let (start, tables) = if at(8) >= LEGACY_MARK {
        // 20 bytes: batchLength, batchTableByteLength.
        (8, u64::from(at(4)))
    } else if at(12) >= LEGACY_MARK {
        // 24 bytes: batchTableJSONByteLength, batchTableBinaryByteLength, batchLength.
        (12, u64::from(at(0)) + u64::from(at(4)))
    } else {
        (16, tables_length(&mut &fields[..])?)
    };
    let mut rest = (&fields[start..]).chain(body);
    skip(&mut rest, tables)?;
    embedded_glb(rest, uris)
}

fn instanced(body: &mut impl Read, uris: &mut Vec<String>) -> Result<(), WalkError> {
    let tables = tables_length(body)?;
    let format = word(body)?;
    skip(body, tables)?;
    match format {
        1 => embedded_glb(body, uris),
        0 => {
            let mut text = Vec::new();
            body.take(MAX_GLTF_URI + 1).read_to_end(&mut text)?;
            if text.len() as u64 > MAX_GLTF_URI {
                return Err(shape("i3dm glTF URI longer than 64 KiB"));
            }
            let end = text
                .iter()
                .rposition(|b| !matches!(b, b' ' | 0))
                .map_or(0, |i| i + 1);
            let uri = std::str::from_utf8(&text[..end])
                .map_err(|_| shape("i3dm glTF URI is not UTF-8"))?;
            if uri.is_empty() {
                return Err(shape("i3dm with gltfFormat 0 and no glTF URI"));
            }
            uris.push(uri.to_owned());
            Ok(())
        }
        other => Err(shape(format!(
            "i3dm gltfFormat {other}: neither 0 (a URI) nor 1 (embedded)"
        ))),
    }
}

fn composite(
    path: &TilePath,
    body: &mut impl Read,
    depth: usize,
    uris: &mut Vec<String>,
) -> Result<(), WalkError> {
    if depth >= MAX_COMPOSITE_DEPTH {
        return Err(WalkError::unsupported(
            path,
            format!("composite tiles nested deeper than {MAX_COMPOSITE_DEPTH}"),
        ));
    }
    let tiles = word(body)?;
    for _ in 0..tiles {
        let mut inner = [0u8; 12];
        body.read_exact(&mut inner).map_err(truncated)?;
        let length = u32::from_le_bytes([inner[8], inner[9], inner[10], inner[11]]);
        let rest = u64::from(length).saturating_sub(12);
        let mut tile = (&inner[..]).chain(body.take(rest));
        read_tile(path, &mut tile, depth + 1, uris)?;
        // What the inner tile's reader left of its own length.
        io::copy(&mut tile, &mut io::sink())?;
    }
    Ok(())
}

/// The URIs of the binary glTF (2.0, or 1.0 as early tiles hold) a tile embeds.
fn embedded_glb(glb: impl Read, uris: &mut Vec<String>) -> Result<(), WalkError> {
    uris.extend(glb_uris(glb).map_err(|e| match e {
        WalkError::Io(e) => truncated(e),
        other => other,
    })?);
    Ok(())
}

#[cfg(test)]
mod tests;
