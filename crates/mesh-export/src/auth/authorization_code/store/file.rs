//! [`SessionFile`]: a session kept in a file only its owner may read, under the platform's
//! config directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{CONFIG_DIR_VAR, SavedSession, SessionStore};
use crate::auth::AuthError;

const FILE_NAME: &str = "session.json";

/// The session file: `<config dir>/mesh-export/session.json`, or
/// `$MESH_EXPORT_CONFIG_DIR/session.json`. Written atomically (a new file renamed into place)
/// with mode 0600 on Unix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFile {
    path: PathBuf,
    /// Whether the directory is the file's own, to be made private when it is not.
    own_dir: bool,
}

impl SessionFile {
    /// The session file of this user: under `MESH_EXPORT_CONFIG_DIR` when it is set, else under
    /// the platform's config directory.
    pub fn default_location() -> Result<Self, AuthError> {
        if let Some(dir) = std::env::var_os(CONFIG_DIR_VAR).filter(|d| !d.is_empty()) {
            return Ok(Self::in_dir(dir));
        }
        let base = dirs::config_dir().ok_or_else(|| {
            AuthError::SessionStore(format!(
                "this platform has no config directory for the session; set {CONFIG_DIR_VAR}"
            ))
        })?;
        Ok(Self::in_own_dir(base.join("mesh-export")))
    }

    /// The session file in `dir`, created only its owner may enter when it does not exist.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        SessionFile {
            path: dir.into().join(FILE_NAME),
            own_dir: false,
        }
    }

    /// The session file in `dir`, a directory of its own: made one only its owner may enter
    /// when it is not (an older version, or a `mkdir` by hand, may have left it open).
    pub fn in_own_dir(dir: impl Into<PathBuf>) -> Self {
        SessionFile {
            own_dir: true,
            ..Self::in_dir(dir)
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> AuthError {
        AuthError::SessionStore(format!("cannot {what} {}: {e}", self.path.display()))
    }
}

impl SessionStore for SessionFile {
    fn load(&self) -> Result<Option<SavedSession>, AuthError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error("read", e)),
        };
        SavedSession::from_text(&bytes)
            .map(Some)
            .map_err(|e| self.error("read", e))
    }

    /// Written atomically: a new file, synced, renamed into place.
    fn save(&self, session: &SavedSession) -> Result<(), AuthError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir, self.own_dir)
            .map_err(|e| self.error("create the directory of", e))?;
        let temp = dir.join(format!(
            ".{FILE_NAME}.{}.tmp",
            hex_suffix(rand::random::<u64>())
        ));
        let written = write_private(&temp, session.to_text().as_bytes())
            .and_then(|()| std::fs::rename(&temp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(self.error("write", e));
        }
        Ok(())
    }

    fn remove(&self) -> Result<bool, AuthError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.error("remove", e)),
        }
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

fn hex_suffix(n: u64) -> String {
    format!("{n:016x}")
}

/// Creates `dir` only its owner may enter; one that exists is made so when it is `own` (a
/// directory named by the user, such as `/tmp`, or a link to one, is left as it is).
fn create_private_dir(dir: &Path, own: bool) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(not(unix))]
    let _ = own;
    #[cfg(unix)]
    if own {
        use std::os::unix::fs::PermissionsExt as _;
        // A link names another directory (a dotfiles manager's, even /tmp): not the file's own,
        // so it is left as it is, even for root, whom no permission stops.
        let found = std::fs::symlink_metadata(dir)?;
        if found.is_dir() && found.permissions().mode() & 0o077 != 0 {
            // Only the owner may change a mode: another's directory (EPERM) is left as it is.
            match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
                Err(e) if e.kind() != std::io::ErrorKind::PermissionDenied => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// A new file only its owner can read (created with that mode: never readable by others, not
/// even for a moment), synced before it is renamed into place.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authorization_code::store::sample_session as session;

    #[test]
    fn a_saved_session_reads_back_and_is_replaced_by_the_next_save() {
        let dir = tempfile::tempdir().unwrap();
        let file = SessionFile::in_dir(dir.path().join("nested"));
        assert!(file.load().unwrap().is_none());
        file.save(&session("refresh-one-for-store-test")).unwrap();
        file.save(&session("refresh-two-for-store-test")).unwrap();
        let loaded = file.load().unwrap().unwrap();
        assert_eq!(loaded.refresh_token.expose(), "refresh-two-for-store-test");
        assert_eq!(loaded.client_id, "native");
        let names: Vec<_> = std::fs::read_dir(file.path().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["session.json"], "no temporary file is left");
        assert!(file.remove().unwrap());
        assert!(!file.remove().unwrap());
        assert!(file.load().unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn only_the_owner_can_read_the_session_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = SessionFile::in_dir(dir.path().join("config"));
        file.save(&session("refresh-for-mode-test")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(file.path()), 0o600);
        assert_eq!(mode(file.path().parent().unwrap()), 0o700);
    }

    #[cfg(unix)]
    #[test]
    fn a_config_directory_open_to_others_is_closed_when_the_session_is_saved() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::create_dir(&config).unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mode = || std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        let session = session("refresh-for-dir-mode-test");
        SessionFile::in_dir(&config).save(&session).unwrap();
        assert_eq!(mode(), 0o755, "a directory the user named is left as it is");
        SessionFile::in_own_dir(&config).save(&session).unwrap();
        assert_eq!(mode(), 0o700);
    }

    #[cfg(unix)]
    #[test]
    fn a_config_directory_linked_elsewhere_leaves_the_directory_it_names_as_it_is() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // Stands for a link to a shared directory such as /tmp (a dotfiles manager's link).
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.path().join("mesh-export");
        std::os::unix::fs::symlink(&shared, &link).unwrap();
        let file = SessionFile::in_own_dir(&link);
        file.save(&session("refresh-behind-a-link")).unwrap();
        let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o755,
            "the directory the link names is not the file's own"
        );
        assert_eq!(
            std::fs::metadata(file.path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_hostile_session_file_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = SessionFile::in_dir(dir.path());
        for text in [
            r#"{"version": "refresh-in-a-hostile-file"}"#,
            r#"{"version": 1, "issuer": ["refresh-in-a-hostile-file"]}"#,
            r#"refresh-in-a-hostile-file"#,
        ] {
            std::fs::write(file.path(), text).unwrap();
            let error = file.load().expect_err(text).to_string();
            assert!(!error.contains("refresh-in-a-hostile-file"), "{error}");
            assert!(error.contains("session.json"), "{error}");
        }
    }
}
