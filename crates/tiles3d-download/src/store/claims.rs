//! The paths a download has claimed: each file once, and never two that one file system
//! would see as the same file.

use std::collections::HashMap;

use tiles3d::TilePath;

use crate::url::{RefusalReason, Refused, TileFile};

/// The paths a download has claimed, by exact path and by case key: two names that differ
/// only in case are one file on macOS and Windows, so the second is refused, never merged.
///
/// One entry a file, kept small: a download may claim hundreds of thousands.
#[derive(Default)]
pub(crate) struct Claims {
    /// Case key of each claimed file, to its spelling when that differs from the key (for
    /// most names it does not: lower-case ASCII).
    files: HashMap<Box<str>, Option<Box<str>>>,
    /// Case key of each directory a claimed file lies in, to its spelling.
    dirs: HashMap<String, String>,
}

impl Claims {
    /// Refuses `file` when its path collides with a claimed one in all but case, or a file
    /// stands where it needs a directory (or the reverse).
    pub(crate) fn check(
        &self,
        file: &TileFile,
        uri: &str,
        in_file: &TilePath,
    ) -> Result<(), Refused> {
        let path = file.path();
        let refuse = |other: &str| Refused {
            uri: uri.to_owned(),
            in_file: in_file.clone(),
            reason: RefusalReason::CaseCollision(other.to_owned()),
        };
        let key = path.case_key();
        if let Some(other) = self.spelling(&key).filter(|other| *other != path.as_str()) {
            return Err(refuse(other));
        }
        if let Some(other) = self.dirs.get(&key) {
            return Err(refuse(other));
        }
        let mut spelled = String::new();
        for (segment, dir_key) in path.segments().zip(path.parent_case_keys()) {
            if !spelled.is_empty() {
                spelled.push('/');
            }
            spelled.push_str(segment);
            if let Some(other) = self.spelling(&dir_key) {
                return Err(refuse(other));
            }
            if let Some(other) = self.dirs.get(&dir_key).filter(|other| **other != spelled) {
                return Err(refuse(other));
            }
        }
        Ok(())
    }

    /// How the file claimed under case key `key` is spelled, if one is.
    fn spelling<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        let (key, spelled) = self.files.get_key_value(key)?;
        Some(spelled.as_deref().unwrap_or(key))
    }

    /// Files claimed so far.
    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether `path` is claimed.
    pub(crate) fn has(&self, path: &TilePath) -> bool {
        self.files.contains_key(path.case_key().as_str())
    }

    /// Claims a checked path; false when it was claimed already.
    pub(crate) fn claim(&mut self, path: &TilePath) -> bool {
        let key = path.case_key();
        if self.files.contains_key(key.as_str()) {
            return false;
        }
        let mut spelled = String::new();
        for (segment, dir_key) in path.segments().zip(path.parent_case_keys()) {
            if !spelled.is_empty() {
                spelled.push('/');
            }
            spelled.push_str(segment);
            self.dirs.entry(dir_key).or_insert_with(|| spelled.clone());
        }
        let spelled = (path.as_str() != key).then(|| path.as_str().into());
        self.files.insert(key.into_boxed_str(), spelled);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::TilesetUrl;

    fn tileset() -> TilesetUrl {
        TilesetUrl::from_root_href("https://h/c/e?sig=1").unwrap()
    }

    /// Resolves, checks and claims `uri`: `Ok(true)` new, `Ok(false)` already claimed.
    fn add(claims: &mut Claims, uri: &str) -> Result<bool, RefusalReason> {
        let root = TilePath::parse("tileset.json").unwrap();
        let file = tileset().resolve(uri, &root).unwrap().unwrap();
        claims.check(&file, uri, &root).map_err(|r| r.reason)?;
        Ok(claims.claim(file.path()))
    }

    #[test]
    fn the_same_path_is_claimed_once() {
        let mut claims = Claims::default();
        assert_eq!(add(&mut claims, "a/b.glb"), Ok(true));
        assert_eq!(add(&mut claims, "./a/b.glb"), Ok(false));
    }

    #[test]
    fn names_differing_only_in_case_are_refused_with_the_first_spelling() {
        let mut claims = Claims::default();
        assert_eq!(add(&mut claims, "a.glb"), Ok(true));
        assert_eq!(
            add(&mut claims, "A.glb"),
            Err(RefusalReason::CaseCollision("a.glb".into()))
        );
        assert_eq!(add(&mut claims, "d/x.glb"), Ok(true));
        assert_eq!(
            add(&mut claims, "D/y.glb"),
            Err(RefusalReason::CaseCollision("d".into()))
        );
        assert_eq!(
            add(&mut claims, "d/y.glb"),
            Ok(true),
            "same spelling is fine"
        );
    }

    #[test]
    fn a_file_where_a_directory_is_needed_and_the_reverse_are_refused() {
        let mut claims = Claims::default();
        assert_eq!(add(&mut claims, "x"), Ok(true));
        assert_eq!(
            add(&mut claims, "X/y.glb"),
            Err(RefusalReason::CaseCollision("x".into()))
        );
        assert_eq!(add(&mut claims, "d/y.glb"), Ok(true));
        assert_eq!(
            add(&mut claims, "D"),
            Err(RefusalReason::CaseCollision("d".into()))
        );
    }
}
