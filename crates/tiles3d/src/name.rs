//! Portable file names: the one check every name from the network passes before it becomes a
//! path on disk.
//!
//! The rules are the intersection of what Linux, macOS and Windows accept as a plain file name,
//! applied on every platform, so a tileset that downloads on one downloads the same on all and
//! no name can mean something else on some file system: no separators (`/`, `\`), no `.` or
//! `..`, no `:` (a drive prefix such as `C:x` replaces a whole Windows path; `a:b` opens an NTFS
//! alternate stream), no reserved device names (`CON`, `NUL.glb`, `COM¹`, in any case), no
//! trailing dot or space (Windows strips them, so `x.glb.` would become `x.glb`), no control
//! characters or `<>"|?*`, no code point HFS+ ignores when it compares names (zero-width
//! joiners, bidirectional controls, the byte-order mark: `a\u{200C}.glb` is `a.glb` there), no
//! name shaped like a Windows 8.3 short name (`LONGNA~1.GLB` can stand for `longname.glb`), no
//! percent-escape left after decoding (double encoding such as `%252F` only hides a separator
//! from one decoder), at most [`MAX_NAME_BYTES`] bytes a name, [`MAX_DEPTH`] names a path and
//! [`MAX_PATH_BYTES`] bytes in all.
//!
//! [`TilePath`](super::TilePath) is built only from names that pass, so holding one is proof.

use icu_casemap::CaseMapper;
use icu_normalizer::DecomposingNormalizerBorrowed;

/// The longest name accepted, in UTF-8 bytes (the common limit of ext4, APFS and NTFS).
pub const MAX_NAME_BYTES: usize = 255;

/// The most names a path under the output directory may have.
pub const MAX_DEPTH: usize = 32;

/// The longest path under the output directory accepted, in UTF-8 bytes with its separators:
/// far below `PATH_MAX` once joined to any reasonable output directory.
pub const MAX_PATH_BYTES: usize = 1024;

/// Names Windows reserves for devices, with or without an extension (`NUL.glb` is `NUL`).
const DEVICE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3",
    "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// Why a name cannot be a portable file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("an empty name")]
    Empty,
    /// `.` or `..`.
    #[error("a `.` or `..` segment")]
    DotSegment,
    /// A `/` or `\` inside one name.
    #[error("a path separator inside a name")]
    Separator,
    /// A `:`: a drive prefix or an NTFS alternate data stream on Windows.
    #[error("a `:` (a drive prefix or an NTFS stream on Windows)")]
    Colon,
    /// A name Windows reserves for a device, such as `NUL` or `COM1.glb`.
    #[error("a reserved device name on Windows (`{0}`)")]
    ReservedDevice(String),
    /// A trailing `.` or space, which Windows strips.
    #[error("a trailing dot or space")]
    TrailingDotOrSpace,
    /// A control character or one of `<>"|?*`.
    #[error("the character {0:?}, which is not allowed in file names")]
    ForbiddenCharacter(char),
    /// A name shaped like a Windows 8.3 short name (`LONGNA~1.GLB`), which NTFS may resolve to
    /// another file.
    #[error("a name shaped like a Windows short name (`{0}`), which can stand for another file")]
    ShortName(String),
    /// A percent-escape left after decoding: the name was encoded twice.
    #[error("a percent-escape left after decoding (double encoding)")]
    DoubleEncoded,
    /// Longer than [`MAX_NAME_BYTES`].
    #[error("a name of {0} bytes (at most {MAX_NAME_BYTES})")]
    TooLong(usize),
    /// More than [`MAX_DEPTH`] names.
    #[error("a path {0} levels deep (at most {MAX_DEPTH})")]
    TooDeep(usize),
    /// More than [`MAX_PATH_BYTES`] bytes in all.
    #[error("a path of {0} bytes (at most {MAX_PATH_BYTES})")]
    PathTooLong(usize),
    /// A name the downloader writes itself (`manifest.json`, its journal, temporary files).
    #[error("a name the downloader writes itself")]
    Reserved,
}

/// Checks one decoded name against the portable rules (see the [module docs](self)).
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(NameError::DotSegment);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(name.len()));
    }
    for c in name.chars() {
        match c {
            '/' | '\\' => return Err(NameError::Separator),
            ':' => return Err(NameError::Colon),
            '<' | '>' | '"' | '|' | '?' | '*' => return Err(NameError::ForbiddenCharacter(c)),
            c if c.is_control() || ignored_by_hfs_plus(c) => {
                return Err(NameError::ForbiddenCharacter(c));
            }
            _ => {}
        }
    }
    if name.ends_with(['.', ' ']) {
        return Err(NameError::TrailingDotOrSpace);
    }
    if has_percent_escape(name) {
        return Err(NameError::DoubleEncoded);
    }
    if looks_like_short_name(name) {
        return Err(NameError::ShortName(name.to_owned()));
    }
    // Windows ignores what follows the first dot, and trailing spaces before it.
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    // Compared char by char as `str::to_uppercase` would map them, without building the
    // upper-case name: every segment of every URI is checked.
    if let Some(device) = DEVICE_NAMES
        .iter()
        .find(|device| stem.chars().flat_map(char::to_uppercase).eq(device.chars()))
    {
        return Err(NameError::ReservedDevice((*device).to_owned()));
    }
    Ok(())
}

/// Checks a whole path of decoded names: each name, the depth and the total length.
pub fn check_path<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), NameError> {
    let mut depth = 0;
    let mut bytes = 0;
    for name in names {
        check_name(name)?;
        depth += 1;
        bytes += name.len() + usize::from(depth > 1);
    }
    if depth == 0 {
        return Err(NameError::Empty);
    }
    if depth > MAX_DEPTH {
        return Err(NameError::TooDeep(depth));
    }
    if bytes > MAX_PATH_BYTES {
        return Err(NameError::PathTooLong(bytes));
    }
    Ok(())
}

/// The key under which two names may be the same file on the file systems of macOS (APFS,
/// HFS+: case- and normalization-insensitive) and Windows (NTFS: case-insensitive):
/// `Manifest.json` and `manifest.json` share one, as do `manifeſt.json` (a long s, which
/// folds to `s`) and `manifest.json`, or `é` written precomposed and as `e` plus an accent.
///
/// It is Unicode's canonical caseless match, NFD(fold(NFD(name))) with full case folding,
/// which errs on the side of a collision: a name pair it reports may still be distinct on
/// one file system, but no pair it keeps apart is merged by any of them.
pub fn case_key(name: &str) -> String {
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    let nfd = DecomposingNormalizerBorrowed::new_nfd();
    let folded = CaseMapper::new()
        .fold_string(&nfd.normalize(name))
        .into_owned();
    nfd.normalize(&folded).into_owned()
}

/// Code points HFS+ leaves out when it compares names (Apple TN1150), so that a name with
/// them and one without are the same file there.
fn ignored_by_hfs_plus(c: char) -> bool {
    matches!(c, '\u{200C}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{206A}'..='\u{206F}' | '\u{FEFF}')
}

/// Whether `name` has the shape of an 8.3 short name Windows generates: a stem of at most
/// eight characters ending in `~` and digits, and an extension of at most three.
fn looks_like_short_name(name: &str) -> bool {
    let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
    let Some((head, digits)) = stem.rsplit_once('~') else {
        return false;
    };
    stem.chars().count() <= 8
        && extension.chars().count() <= 3
        && !head.is_empty()
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
}

fn has_percent_escape(name: &str) -> bool {
    name.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_length_counts_every_separator_and_ends_at_the_limit() {
        // Five names of 200 bytes and one of 19: 1019 bytes of names and 5 separators.
        let long = "a".repeat(200);
        let (fits, over, alone) = ("b".repeat(19), "b".repeat(20), "b".repeat(255));
        let at_limit = [long.as_str(); 5].into_iter().chain([fits.as_str()]);
        assert_eq!(check_path(at_limit), Ok(()));
        let past_limit = [long.as_str(); 5].into_iter().chain([over.as_str()]);
        assert_eq!(
            check_path(past_limit),
            Err(NameError::PathTooLong(MAX_PATH_BYTES + 1))
        );
        // One name alone has no separator.
        assert_eq!(check_path([alone.as_str()]), Ok(()));
    }

    #[test]
    fn a_path_may_be_exactly_as_deep_as_the_limit() {
        assert_eq!(check_path(["d"; MAX_DEPTH]), Ok(()));
        assert_eq!(
            check_path(["d"; MAX_DEPTH + 1]),
            Err(NameError::TooDeep(MAX_DEPTH + 1))
        );
    }

    #[test]
    fn ordinary_tile_names_pass() {
        for name in [
            "tileset.json",
            "0.glb",
            "my tile.glb",
            ".hidden",
            "ünïcödé.png",
            "CONSOLE.glb",
            "COM10",
            "a%zz",
            "100%",
        ] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn separators_and_dot_segments_are_refused() {
        assert_eq!(check_name(""), Err(NameError::Empty));
        assert_eq!(check_name("."), Err(NameError::DotSegment));
        assert_eq!(check_name(".."), Err(NameError::DotSegment));
        assert_eq!(check_name("a/b"), Err(NameError::Separator));
        assert_eq!(check_name("..\\x"), Err(NameError::Separator));
    }

    #[test]
    fn windows_drive_prefixes_and_streams_are_refused_on_every_platform() {
        for name in ["C:evil.dll", "C:", "a:b", "x.glb::$DATA"] {
            assert_eq!(check_name(name), Err(NameError::Colon), "{name}");
        }
    }

    #[test]
    fn device_names_are_refused_in_any_case_with_any_extension() {
        for name in [
            "CON",
            "con",
            "NUL.glb",
            "nul.tar.gz",
            "Aux",
            "PRN.json",
            "COM1",
            "lpt9.png",
            "COM¹",
            "lpt³.b3dm",
            "NUL .glb",
            "CONIN$",
        ] {
            assert!(
                matches!(check_name(name), Err(NameError::ReservedDevice(_))),
                "{name}: {:?}",
                check_name(name)
            );
        }
    }

    #[test]
    fn trailing_dots_and_spaces_are_refused() {
        for name in ["x.glb.", "x ", "x. ", "..."] {
            assert!(check_name(name).is_err(), "{name}");
        }
        assert_eq!(check_name("x.glb."), Err(NameError::TrailingDotOrSpace));
        assert_eq!(check_name("x "), Err(NameError::TrailingDotOrSpace));
    }

    #[test]
    fn control_and_reserved_characters_are_refused() {
        for c in ['\0', '\n', '\u{7f}', '<', '>', '"', '|', '?', '*'] {
            let name = format!("a{c}b");
            assert_eq!(
                check_name(&name),
                Err(NameError::ForbiddenCharacter(c)),
                "{name:?}"
            );
        }
    }

    #[test]
    fn an_escape_left_after_decoding_is_refused() {
        assert_eq!(check_name("..%2Fx.json"), Err(NameError::DoubleEncoded));
        assert_eq!(check_name("%2e%2e"), Err(NameError::DoubleEncoded));
    }

    #[test]
    fn lengths_and_depth_are_bounded() {
        assert_eq!(check_name(&"a".repeat(255)), Ok(()));
        assert_eq!(check_name(&"a".repeat(256)), Err(NameError::TooLong(256)));
        // Multi-byte characters count in bytes.
        assert_eq!(check_name(&"é".repeat(128)), Err(NameError::TooLong(256)));
        let deep = vec!["d"; MAX_DEPTH + 1];
        assert_eq!(
            check_path(deep.iter().copied()),
            Err(NameError::TooDeep(MAX_DEPTH + 1))
        );
        let long = vec!["a".repeat(200); 6];
        assert!(matches!(
            check_path(long.iter().map(String::as_str)),
            Err(NameError::PathTooLong(_))
        ));
        assert_eq!(check_path(["a", "b.glb"]), Ok(()));
        assert_eq!(check_path([]), Err(NameError::Empty));
    }

    #[test]
    fn case_keys_match_names_that_differ_only_in_case() {
        assert_eq!(case_key("Manifest.json"), case_key("manifest.json"));
        assert_eq!(case_key("A.glb"), case_key("a.glb"));
        assert_ne!(case_key("a.glb"), case_key("b.glb"));
    }

    #[test]
    fn short_name_shapes_and_hfs_ignorables_are_refused() {
        for alias in ["LONGNA~1.GLB", "MANIFE~1.JSO", "a~12", "TILESE~3.JSO"] {
            assert_eq!(
                check_name(alias),
                Err(NameError::ShortName(alias.into())),
                "{alias}"
            );
        }
        for fine in ["a~b.glb", "~1.glb", "longname~1.glb", "a~1.json5", "x~.glb"] {
            assert_eq!(check_name(fine), Ok(()), "{fine}");
        }
        for hidden in ['\u{200C}', '\u{200F}', '\u{202E}', '\u{206A}', '\u{FEFF}'] {
            let name = format!("a{hidden}.glb");
            assert_eq!(
                check_name(&name),
                Err(NameError::ForbiddenCharacter(hidden)),
                "{name:?}"
            );
        }
    }

    #[test]
    fn case_keys_fold_fully_and_ignore_normalization() {
        // A long s folds to s; NTFS upper-cases it to S as well.
        assert_eq!(case_key("manife\u{17F}t.json"), case_key("MANIFEST.json"));
        // Precomposed and decomposed forms are one name on APFS and HFS+.
        assert_eq!(case_key("caf\u{E9}.glb"), case_key("cafe\u{301}.glb"));
        assert_eq!(case_key("CAF\u{C9}.glb"), case_key("cafe\u{301}.glb"));
        // Kelvin sign and Greek final sigma, folded like their letters.
        assert_eq!(case_key("\u{212A}.glb"), case_key("k.glb"));
        assert_eq!(case_key("\u{3C2}.glb"), case_key("\u{3A3}.glb"));
        assert_ne!(case_key("caf\u{E9}.glb"), case_key("cafe.glb"));
    }
}
