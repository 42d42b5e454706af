//! Whether a file's bytes are what its type promises, from its first bytes and its size: the
//! check a downloaded file passes before it is kept.

use crate::walk::FileKind;

/// A file whose bytes are not what its type promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind}: {reason}")]
pub struct ContentError {
    /// What the file should have been (`binary glTF`, `JSON object`, ...).
    pub kind: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// Checks the first bytes (`head`) of a file of `kind`, `size` bytes in all: the structure
/// its kind promises, and for a 3D Tiles 1.0 binary tile (`.b3dm`, `.i3dm`, `.pnts`, `.cmpt`)
/// one of their magics, version 1 and its own length. `head` holds at least the first 64
/// bytes of the file, or all of it when it is shorter. The kind is the one the file is read
/// as: its name's, or the one its first bytes say ([`FileKind::sniffed`]).
pub fn check_head(kind: &FileKind, head: &[u8], size: u64) -> Result<(), ContentError> {
    // A JSON file may start with a byte order mark, which its readers skip.
    let json = matches!(
        kind,
        FileKind::Tileset | FileKind::Gltf | FileKind::Json | FileKind::Subtree(_)
    );
    let structure = match head.strip_prefix(crate::walk::bom::BOM) {
        Some(rest) if json => rest,
        _ => head,
    };
    check_structure(kind, structure, size)
}

/// The structure a file's type promises, from its first bytes and size: a `.glb` starts with
/// the binary glTF 2.0 header whose length is the file's (or a 1.0 one, whose JSON content
/// fits in it); a `.json` or `.gltf` is a JSON
/// object (its parse is checked where it is read). An HTML page from a captive portal, an
/// error page or a truncated file fails here. A subtree is a binary subtree (`subt` magic) or
/// a JSON object; the rest of it, and its buffers, are checked where they are read, against
/// the tiling that names them.
fn check_structure(kind: &FileKind, head: &[u8], size: u64) -> Result<(), ContentError> {
    let corrupt = |kind, reason: String| Err(ContentError { kind, reason });
    match kind {
        FileKind::Subtree(_) if head.starts_with(b"subt") => Ok(()),
        FileKind::Subtree(_) => match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Ok(()),
            Some(_) => corrupt(
                "subtree",
                "neither the binary `subt` magic nor a JSON object".to_owned(),
            ),
            None if (head.len() as u64) < size => Ok(()),
            None => corrupt("subtree", "it is empty".to_owned()),
        },
        FileKind::Glb => {
            let word =
                |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
            if head.len() < 12 {
                return corrupt(
                    "binary glTF",
                    format!("{size} bytes, too short for a header"),
                );
            }
            if &head[0..4] != b"glTF" {
                return corrupt("binary glTF", "no `glTF` magic".to_owned());
            }
            match word(4) {
                2 => {}
                // glTF 1.0 (`KHR_binary_glTF`): a 20-byte header, then its JSON content.
                1 if head.len() < 20 => {
                    return corrupt(
                        "binary glTF",
                        format!("{size} bytes, too short for a version 1 header"),
                    );
                }
                1 if word(16) != 0 => {
                    return corrupt(
                        "binary glTF",
                        format!("version 1 content format {}, not 0 (JSON)", word(16)),
                    );
                }
                1 if 20 + u64::from(word(12)) > size => {
                    return corrupt(
                        "binary glTF",
                        format!("its JSON content of {} bytes runs past the file", word(12)),
                    );
                }
                1 => {}
                version => {
                    return corrupt("binary glTF", format!("version {version}, not 1 or 2"));
                }
            }
            if u64::from(word(8)) != size {
                return corrupt(
                    "binary glTF",
                    format!("its header says {} bytes, the file has {size}", word(8)),
                );
            }
            Ok(())
        }
        FileKind::Tile => {
            let magic = head
                .get(..4)
                .and_then(|m| std::str::from_utf8(m).ok())
                .and_then(tile_format_magic);
            match magic {
                Some(magic) => check_tile_format(magic, head, size),
                None => corrupt(
                    "3D Tiles binary tile",
                    "none of the magics `b3dm`, `i3dm`, `pnts`, `cmpt`".to_owned(),
                ),
            }
        }
        FileKind::Tileset | FileKind::Gltf | FileKind::Json => {
            match head.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{') => Ok(()),
                Some(_) => corrupt("JSON object", "it does not start with `{`".to_owned()),
                None if (head.len() as u64) < size => Ok(()),
                None => corrupt("JSON object", "it is empty".to_owned()),
            }
        }
        _ => Ok(()),
    }
}

/// The magic of the 3D Tiles 1.0 binary tile formats, by extension.
fn tile_format_magic(extension: &str) -> Option<&'static [u8; 4]> {
    match extension {
        "b3dm" => Some(b"b3dm"),
        "i3dm" => Some(b"i3dm"),
        "pnts" => Some(b"pnts"),
        "cmpt" => Some(b"cmpt"),
        _ => None,
    }
}

/// A 3D Tiles 1.0 binary tile starts with its magic, version 1 and its own byte length.
fn check_tile_format(magic: &[u8; 4], head: &[u8], size: u64) -> Result<(), ContentError> {
    let kind = "3D Tiles binary tile";
    let corrupt = |reason: String| Err(ContentError { kind, reason });
    if head.len() < 12 {
        return corrupt(format!("{size} bytes, too short for a header"));
    }
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    if &head[0..4] != magic {
        return corrupt(format!("no `{}` magic", String::from_utf8_lossy(magic)));
    }
    if word(4) != 1 {
        return corrupt(format!("version {}, not 1", word(4)));
    }
    if u64::from(word(8)) != size {
        return corrupt(format!(
            "its header says {} bytes, the file has {size}",
            word(8)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
