//! Where a signed-in session is kept between runs: the OS keyring where one is reachable
//! ([`OsKeyring`]), else a file only its owner may read ([`SessionFile`]).
//!
//! [`default_session_store`] picks one the way gh and az do: the keyring first, the file when
//! there is no keyring (a server without a desktop session, a container); beside a keyring, a
//! session found only in the file is still used, moved into the keyring, and forgotten with
//! it. A keyring that does not answer within [`KEYRING_OPEN_DEADLINE`] counts as none. Two variables
//! override the choice: [`CONFIG_DIR_VAR`] (a directory: the file in it, for tests and
//! portable installs) and [`STORE_VAR`] (`keyring` or `file`).

mod file;
mod keyring;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::auth::error::unquoted;
use crate::auth::{AuthError, Secret};

pub use file::SessionFile;
pub use keyring::{KEYRING_OPEN_DEADLINE, OsKeyring};

/// The variable that overrides the config directory (tests, portable installs); when it is
/// set, the session is kept in a file there unless [`STORE_VAR`] says `keyring`.
pub const CONFIG_DIR_VAR: &str = "MESH_EXPORT_CONFIG_DIR";
/// The variable that picks the session store: `keyring` (an error where there is none) or
/// `file`; unset, the keyring where one is reachable, else the file.
pub const STORE_VAR: &str = "MESH_EXPORT_SESSION_STORE";

/// A place a signed-in session is kept between runs. Calls may block (a keyring answers over
/// IPC and may ask the person to unlock it): async callers run them on a blocking thread, as
/// [`UserSession`](super::UserSession) does.
pub trait SessionStore: fmt::Debug + Send + Sync {
    /// The saved session, or `None` when there is none.
    fn load(&self) -> Result<Option<SavedSession>, AuthError>;
    /// Saves `session` in place of the one before.
    fn save(&self, session: &SavedSession) -> Result<(), AuthError>;
    /// Forgets the saved session; whether there was one.
    fn remove(&self) -> Result<bool, AuthError>;
    /// Where the session is kept, for people: a path, or the keyring's name.
    fn location(&self) -> String;
}

/// The store this user's sessions are kept in: the OS keyring where one is reachable, else the
/// session file under the config directory; [`STORE_VAR`] (`keyring` or `file`) and
/// [`CONFIG_DIR_VAR`] (the file, in that directory) override the choice.
pub fn default_session_store() -> Result<Arc<dyn SessionStore>, AuthError> {
    let choice = std::env::var(STORE_VAR).unwrap_or_default();
    let config_dir_set = std::env::var_os(CONFIG_DIR_VAR).is_some_and(|d| !d.is_empty());
    match pick(&choice, config_dir_set)? {
        Pick::File => Ok(Arc::new(SessionFile::default_location()?)),
        Pick::Keyring => Ok(Arc::new(OsKeyring::open()?)),
        Pick::KeyringElseFile => match OsKeyring::open() {
            Ok(keyring) => Ok(match SessionFile::default_location() {
                Ok(file) => keyring_beside_file(keyring, file),
                Err(_) => Arc::new(keyring),
            }),
            Err(e) => {
                tracing::debug!(reason = %e, "no OS keyring: the session is kept in a file");
                Ok(Arc::new(SessionFile::default_location()?))
            }
        },
    }
}

/// The keyring, when it is reachable, with the session file a run without it (an `ssh` login
/// with no desktop session) would have used.
fn keyring_beside_file(keyring: OsKeyring, file: SessionFile) -> Arc<dyn SessionStore> {
    Arc::new(KeyringBesideFile { keyring, file })
}

/// The keyring first; a session found only in the file is still used, moved into the keyring
/// at its next save, and forgotten with the keyring's, so no refresh token is left behind in
/// one store while the other is used.
#[derive(Debug)]
struct KeyringBesideFile {
    keyring: OsKeyring,
    file: SessionFile,
}

impl SessionStore for KeyringBesideFile {
    fn load(&self) -> Result<Option<SavedSession>, AuthError> {
        match self.keyring.load()? {
            Some(session) => Ok(Some(session)),
            None => self.file.load(),
        }
    }

    fn save(&self, session: &SavedSession) -> Result<(), AuthError> {
        self.keyring.save(session)?;
        if let Err(e) = self.file.remove() {
            tracing::warn!(error = %e, "the session saved in the keyring is left in the file too");
        }
        Ok(())
    }

    fn remove(&self) -> Result<bool, AuthError> {
        let (in_keyring, in_file) = (self.keyring.remove(), self.file.remove());
        Ok(in_keyring? | in_file?)
    }

    fn location(&self) -> String {
        self.keyring.location()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Pick {
    File,
    Keyring,
    KeyringElseFile,
}

/// Which store the variables ask for: `choice` is [`STORE_VAR`]'s value.
fn pick(choice: &str, config_dir_set: bool) -> Result<Pick, AuthError> {
    match choice.trim() {
        "file" => Ok(Pick::File),
        "keyring" => Ok(Pick::Keyring),
        "" if config_dir_set => Ok(Pick::File),
        "" => Ok(Pick::KeyringElseFile),
        other => Err(AuthError::SessionStore(format!(
            "{STORE_VAR} is {other:?}; it takes `keyring` or `file`"
        ))),
    }
}

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

impl fmt::Debug for SavedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// The saved shape (version 1), the same in a file and in a keyring entry.
#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    issuer: String,
    client_id: String,
    scopes: String,
    token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<String>,
    refresh_token: String,
}

impl SavedSession {
    /// The session as saved text.
    pub(crate) fn to_text(&self) -> String {
        let stored = Stored {
            version: 1,
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            scopes: self.scopes.clone(),
            token_endpoint: self.token_endpoint.clone(),
            revocation_endpoint: self.revocation_endpoint.clone(),
            refresh_token: self.refresh_token.expose().to_owned(),
        };
        // Compact: the Windows Credential Manager holds at most 2,560 bytes.
        serde_json::to_string(&stored).expect("a session serializes")
    }

    /// A session from saved text; the error says what is wrong without quoting the text.
    pub(crate) fn from_text(bytes: &[u8]) -> Result<Self, String> {
        let stored: Stored = serde_json::from_slice(bytes).map_err(|e| unquoted(&e))?;
        if stored.version != 1 {
            return Err(format!("unknown version {}", stored.version));
        }
        Ok(SavedSession {
            issuer: stored.issuer,
            client_id: stored.client_id,
            scopes: stored.scopes,
            token_endpoint: stored.token_endpoint,
            revocation_endpoint: stored.revocation_endpoint,
            refresh_token: Secret::new(stored.refresh_token),
        })
    }
}

#[cfg(test)]
pub(crate) fn sample_session(refresh_token: &str) -> SavedSession {
    SavedSession {
        issuer: "https://issuer.example".into(),
        client_id: "native".into(),
        scopes: "itwin-platform offline_access".into(),
        token_endpoint: "https://issuer.example/connect/token".into(),
        revocation_endpoint: None,
        refresh_token: Secret::new(refresh_token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_reads_back_from_its_text() {
        let mut session = sample_session("refresh-for-text-test");
        session.revocation_endpoint = Some("https://issuer.example/connect/revocation".into());
        let back = SavedSession::from_text(session.to_text().as_bytes()).unwrap();
        assert_eq!(back.refresh_token.expose(), "refresh-for-text-test");
        assert_eq!(back.revocation_endpoint, session.revocation_endpoint);
        assert_eq!(back.token_endpoint, session.token_endpoint);
    }

    #[test]
    fn the_keyring_comes_first_unless_a_variable_says_otherwise() {
        assert_eq!(pick("", false).unwrap(), Pick::KeyringElseFile);
        assert_eq!(
            pick("", true).unwrap(),
            Pick::File,
            "a config dir means its file"
        );
        assert_eq!(pick("keyring", true).unwrap(), Pick::Keyring);
        assert_eq!(pick(" file ", false).unwrap(), Pick::File);
        let error = pick("vault", false).unwrap_err().to_string();
        assert!(
            error.contains(STORE_VAR) && error.contains("vault"),
            "{error}"
        );
    }

    #[test]
    fn a_session_left_in_the_file_is_used_moved_and_forgotten_beside_the_keyring() {
        let dir = tempfile::tempdir().unwrap();
        let file = SessionFile::in_dir(dir.path());
        file.save(&sample_session("refresh-left-in-the-file"))
            .unwrap();
        let mock: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let keyring = OsKeyring::in_store(&mock, "the test keyring").unwrap();
        let store = keyring_beside_file(keyring, file.clone());
        let loaded = store
            .load()
            .unwrap()
            .expect("the file's session is still used");
        assert_eq!(loaded.refresh_token.expose(), "refresh-left-in-the-file");

        store
            .save(&sample_session("refresh-in-the-keyring"))
            .unwrap();
        assert!(
            file.load().unwrap().is_none(),
            "a second copy is not left in the file"
        );
        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded.refresh_token.expose(), "refresh-in-the-keyring");

        file.save(&sample_session("refresh-left-again")).unwrap();
        assert!(store.remove().unwrap());
        assert!(store.load().unwrap().is_none(), "logout forgets both");
        assert!(file.load().unwrap().is_none());
    }

    #[test]
    fn debug_output_hides_the_refresh_token() {
        let text = format!("{:?}", sample_session("refresh-for-debug-test"));
        assert!(!text.contains("refresh-for-debug-test"), "{text}");
        assert!(text.contains("native"), "{text}");
    }
}
