//! Where a signed-in session is kept between runs: a file only its owner may read, under the
//! platform's config directory (`MESH_EXPORT_CONFIG_DIR` overrides it).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::{AuthError, Secret};

/// The variable that overrides the config directory (tests, portable installs).
pub const CONFIG_DIR_VAR: &str = "MESH_EXPORT_CONFIG_DIR";
const FILE_NAME: &str = "session.json";

/// What a sign-in leaves behind: whom to ask for tokens, and the refresh token to ask with.
/// `Debug` never shows the refresh token.
#[derive(Clone)]
pub struct SavedSession {
    /// The issuer signed in with.
    pub issuer: String,
    /// The native client id signed in with.
    pub client_id: String,
    /// The scopes granted, space-separated.
    pub scopes: String,
    /// Where refresh tokens become access tokens.
    pub token_endpoint: String,
    /// Where the refresh token is revoked, when the issuer has such an endpoint.
    pub revocation_endpoint: Option<String>,
    /// The refresh token (rotated: the latest one the issuer gave).
    pub refresh_token: Secret,
}

impl std::fmt::Debug for SavedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedSession")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("token_endpoint", &self.token_endpoint)
            .field("revocation_endpoint", &self.revocation_endpoint)
            .field("refresh_token", &self.refresh_token)
            .finish()
    }
}

/// The file's shape (version 1).
#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    issuer: String,
    client_id: String,
    scopes: String,
    token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<String>,
    refresh_token: String,
}

/// The session file: `<config dir>/mesh-export/session.json`, or
/// `$MESH_EXPORT_CONFIG_DIR/session.json`. Written atomically (a new file renamed into place)
/// with mode 0600 on Unix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFile {
    path: PathBuf,
}

impl SessionFile {
    /// The session file of this user: under `MESH_EXPORT_CONFIG_DIR` when it is set, else under
    /// the platform's config directory.
    pub fn default_location() -> Result<Self, AuthError> {
        if let Some(dir) = std::env::var_os(CONFIG_DIR_VAR).filter(|d| !d.is_empty()) {
            return Ok(Self::in_dir(dir));
        }
        let base = dirs::config_dir().ok_or_else(|| {
            AuthError::SignIn(format!(
                "this platform has no config directory for the session; set {CONFIG_DIR_VAR}"
            ))
        })?;
        Ok(Self::in_dir(base.join("mesh-export")))
    }

    /// The session file in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        SessionFile {
            path: dir.into().join(FILE_NAME),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> AuthError {
        AuthError::SignIn(format!("cannot {what} {}: {e}", self.path.display()))
    }

    /// The saved session, or `None` when there is none.
    pub fn load(&self) -> Result<Option<SavedSession>, AuthError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error("read", e)),
        };
        let disk: OnDisk =
            serde_json::from_slice(&bytes).map_err(|e| self.error("read", unquoted(&e)))?;
        if disk.version != 1 {
            return Err(self.error("read", format!("unknown version {}", disk.version)));
        }
        Ok(Some(SavedSession {
            issuer: disk.issuer,
            client_id: disk.client_id,
            scopes: disk.scopes,
            token_endpoint: disk.token_endpoint,
            revocation_endpoint: disk.revocation_endpoint,
            refresh_token: Secret::new(disk.refresh_token),
        }))
    }

    /// Saves `session` in place of the one before, atomically.
    pub fn save(&self, session: &SavedSession) -> Result<(), AuthError> {
        let disk = OnDisk {
            version: 1,
            issuer: session.issuer.clone(),
            client_id: session.client_id.clone(),
            scopes: session.scopes.clone(),
            token_endpoint: session.token_endpoint.clone(),
            revocation_endpoint: session.revocation_endpoint.clone(),
            refresh_token: session.refresh_token.expose().to_owned(),
        };
        let bytes = serde_json::to_vec_pretty(&disk).expect("a session serializes");
        let dir = self.path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(|e| self.error("create the directory of", e))?;
        let temp = dir.join(format!(
            ".{FILE_NAME}.{}.tmp",
            hex_suffix(rand::random::<u64>())
        ));
        let written =
            write_private(&temp, &bytes).and_then(|()| std::fs::rename(&temp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(self.error("write", e));
        }
        Ok(())
    }

    /// Removes the file; whether there was one.
    pub fn remove(&self) -> Result<bool, AuthError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.error("remove", e)),
        }
    }
}

/// What is wrong with a session file, without its text: serde's messages quote the values
/// they did not expect, and any of them may be the refresh token.
fn unquoted(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not a session file of this version",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

fn hex_suffix(n: u64) -> String {
    format!("{n:016x}")
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
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

    fn session(refresh_token: &str) -> SavedSession {
        SavedSession {
            issuer: "https://issuer.example".into(),
            client_id: "native".into(),
            scopes: "itwin-platform offline_access".into(),
            token_endpoint: "https://issuer.example/connect/token".into(),
            revocation_endpoint: None,
            refresh_token: Secret::new(refresh_token),
        }
    }

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

    #[test]
    fn debug_output_hides_the_refresh_token() {
        let text = format!("{:?}", session("refresh-for-debug-test"));
        assert!(!text.contains("refresh-for-debug-test"), "{text}");
        assert!(text.contains("native"), "{text}");
    }
}
