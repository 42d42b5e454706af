//! Why a URI a tileset names is not followed.

use tiles3d::TilePath;
use tiles3d::name::NameError;

/// A URI the walk would not follow, with where it was found and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused `{uri}` named in `{in_file}`: {reason}")]
pub struct Refused {
    /// The URI as the file wrote it.
    pub uri: String,
    /// The file that names it.
    pub in_file: TilePath,
    /// Why it was refused.
    pub reason: RefusalReason,
}

/// Why a URI in a tileset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefusalReason {
    /// `..` segments climb above the tileset root.
    #[error("it climbs above the tileset root")]
    EscapesRoot,
    /// An absolute path (`/x`) rather than one relative to the file.
    #[error("it is an absolute path")]
    AbsolutePath,
    /// Percent-encoded `.`/`..` or separators (`%2e%2e`, `%2f`), a traversal in disguise.
    #[error("it hides a path traversal or separator in percent-encoding")]
    EncodedTraversal,
    /// A URL on another host or port: the signature must not be sent there.
    #[error("it points at another host ({0}), which must not receive the signature")]
    OtherHost(String),
    /// A scheme other than http(s) or data.
    #[error("its scheme `{0}` is not fetched")]
    OtherScheme(String),
    /// Control characters or backslashes.
    #[error("it holds a control character or backslash")]
    InvalidCharacter,
    /// The URI is empty.
    #[error("it is empty")]
    Empty,
    /// It names a directory, not a file.
    #[error("it names a directory, not a file")]
    NotAFile,
    /// It collides with a file the downloader writes itself (`manifest.json`, temporary files).
    #[error("it collides with a file the downloader writes itself")]
    ReservedName,
    /// It could not be parsed as a URL.
    #[error("it is not a valid URL")]
    Invalid,
    /// A name in it is not a portable file name (a `:`, a device name such as `NUL.glb`, a
    /// trailing dot or space, a reserved character, double encoding, too long or too deep).
    #[error("it is not a portable file name: {0}")]
    NotPortable(NameError),
    /// It differs only in letter case from another file of the tileset (or a directory does):
    /// one file on macOS and Windows, so it is refused rather than silently merged.
    #[error("it differs only in letter case from `{0}`, the same file on macOS and Windows")]
    CaseCollision(String),
}
