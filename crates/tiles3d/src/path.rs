//! [`TilePath`]: a file's place under a tileset root, as portable names.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::name::{self, NameError};

/// A normalised path under a tileset root: decoded segments that each pass the portable-name
/// check ([`check_name`](crate::name::check_name): no `.`/`..`, no separator, no `:`, no device
/// name, bounded length and depth), so it always maps to the same location inside an output
/// directory on every platform. There is no other way to build one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TilePath {
    /// The segments joined with `/` (no segment holds one). One allocation a path: a
    /// download keeps one for each of up to hundreds of thousands of files.
    joined: Box<str>,
}

impl TilePath {
    /// A path from decoded segments, each checked to be a portable name.
    pub fn new(segments: Vec<String>) -> Result<Self, NameError> {
        name::check_path(segments.iter().map(String::as_str))?;
        let mut joined = String::new();
        for (i, segment) in segments.iter().enumerate() {
            if i > 0 {
                joined.push('/');
            }
            joined.push_str(segment);
        }
        Ok(Self {
            joined: joined.into_boxed_str(),
        })
    }

    /// Parses a `/`-separated relative path, as a manifest records it; `None` when it is not a
    /// valid path under a root (empty, absolute, with `.`, `..` or `\\` in it, or with a name
    /// that is not portable).
    pub fn parse(path: &str) -> Option<Self> {
        Self::new(path.split('/').map(str::to_owned).collect()).ok()
    }

    /// The path as `a/b/c.glb`.
    pub fn as_str(&self) -> &str {
        &self.joined
    }

    /// The segments, first to last.
    pub fn segments(&self) -> impl Iterator<Item = &str> + '_ {
        self.joined.split('/')
    }

    /// The file name, the last segment.
    pub fn file_name(&self) -> &str {
        self.segments().last().unwrap_or_default()
    }

    /// The lower-cased extension of the file name, if any.
    pub fn extension(&self) -> Option<String> {
        let name = self.file_name();
        name.rfind('.')
            .filter(|&i| i > 0)
            .map(|i| name[i + 1..].to_ascii_lowercase())
    }

    /// Where this file goes under `dir`.
    pub fn to_path_under(&self, dir: &Path) -> PathBuf {
        let mut path = dir.to_path_buf();
        path.extend(self.segments());
        path
    }

    /// The path relative to the output directory, as the confined directory handle takes it.
    pub fn relative(&self) -> PathBuf {
        self.segments().collect()
    }

    /// The directory holding the file, relative to the output directory (empty at the root).
    pub fn parent_relative(&self) -> PathBuf {
        let mut segments: Vec<&str> = self.segments().collect();
        segments.pop();
        segments.into_iter().collect()
    }

    /// The key under which two paths name the same file on a case-insensitive file system.
    pub fn case_key(&self) -> String {
        name::case_key(&self.joined)
    }

    /// The case keys of the directories above the file, outermost first.
    pub fn parent_case_keys(&self) -> impl Iterator<Item = String> + '_ {
        self.joined
            .match_indices('/')
            .map(|(end, _)| name::case_key(&self.joined[..end]))
    }

    /// The segments of the directory holding the file, first to last.
    pub fn parent_segments(&self) -> Vec<String> {
        let mut segments: Vec<String> = self.segments().map(str::to_owned).collect();
        segments.pop();
        segments
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined)
    }
}

impl fmt::Debug for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TilePath({:?})", self.joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_path_maps_to_the_same_relative_path_and_parent_on_disk() {
        let path = TilePath::parse("a/b/c.glb").unwrap();
        assert_eq!(path.relative(), Path::new("a").join("b").join("c.glb"));
        assert_eq!(path.parent_relative(), Path::new("a").join("b"));
        let top = TilePath::parse("c.glb").unwrap();
        assert_eq!(top.relative(), Path::new("c.glb"));
        assert_eq!(top.parent_relative(), Path::new(""));
    }

    #[test]
    fn an_extension_is_what_follows_the_last_dot_of_a_name_not_a_leading_one() {
        let extension = |p: &str| TilePath::parse(p).unwrap().extension();
        assert_eq!(extension("a/t.B3DM").as_deref(), Some("b3dm"));
        assert_eq!(extension("a/t.tar.gz").as_deref(), Some("gz"));
        assert_eq!(extension(".glb"), None);
        assert_eq!(extension("noext"), None);
    }

    #[test]
    fn tile_paths_from_manifests_are_validated() {
        assert!(TilePath::parse("a/b.glb").is_some());
        for bad in ["", "/a", "a/../b", "./a", "a\\b", "a//b"] {
            assert!(TilePath::parse(bad).is_none(), "{bad}");
        }
        let p = TilePath::parse("a/b.GLB").unwrap();
        assert_eq!(p.extension().as_deref(), Some("glb"));
        assert_eq!(
            p.to_path_under(Path::new("/out")),
            PathBuf::from("/out/a/b.GLB")
        );
    }
}
