//! [`OsKeyring`]: a session kept in the operating system's credential store (the Secret Service
//! of GNOME Keyring or KWallet on Linux, the Keychain on macOS, the Credential Manager on
//! Windows), through `keyring-core` and the store crate of each platform.

use std::sync::Arc;
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};

use super::{SavedSession, SessionStore};
use crate::auth::AuthError;

/// The entry's service and user: one session per person, as in the file.
const SERVICE: &str = "mesh-export";
const USER: &str = "session";

/// How long the OS keyring has to answer when it is opened. A Secret Service that is
/// activatable but never starts would otherwise hold every command for D-Bus's service start
/// timeout (two minutes on Debian), and one that owns its name but never answers, for ever.
pub const KEYRING_OPEN_DEADLINE: Duration = Duration::from_secs(5);

/// The session in an OS keyring entry (service `mesh-export`, user `session`), as the same
/// JSON text the file holds.
pub struct OsKeyring {
    entry: Entry,
    name: String,
}

impl std::fmt::Debug for OsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsKeyring")
            .field("name", &self.name)
            .finish()
    }
}

impl OsKeyring {
    /// This platform's keyring; an error where there is none or it cannot be reached (no
    /// desktop session on Linux, a container).
    pub fn open() -> Result<Self, AuthError> {
        within(KEYRING_OPEN_DEADLINE, || {
            let (store, name) = platform_store()?;
            Self::in_store(&store, name)
        })
    }

    /// The session's entry in `store`, any `keyring-core` store (another vault, a test's mock);
    /// `name` is how people are told where the session is.
    pub fn in_store(store: &Arc<CredentialStore>, name: &str) -> Result<Self, AuthError> {
        let entry = Entry::new_in_store(store, SERVICE, USER).map_err(|e| failure(name, &e))?;
        Ok(OsKeyring {
            entry,
            name: name.to_owned(),
        })
    }
}

impl SessionStore for OsKeyring {
    fn load(&self) -> Result<Option<SavedSession>, AuthError> {
        match self.entry.get_secret() {
            Ok(bytes) => SavedSession::from_text(&bytes).map(Some).map_err(|e| {
                AuthError::SessionStore(format!("cannot read the session in {}: {e}", self.name))
            }),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(failure(&self.name, &e)),
        }
    }

    /// Saved as bytes, as `load` reads them: a password would be UTF-16 on Windows.
    fn save(&self, session: &SavedSession) -> Result<(), AuthError> {
        self.entry
            .set_secret(session.to_text().as_bytes())
            .map_err(|e| failure(&self.name, &e))
    }

    fn remove(&self) -> Result<bool, AuthError> {
        match self.entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(failure(&self.name, &e)),
        }
    }

    fn location(&self) -> String {
        self.name.clone()
    }
}

/// `call`'s answer, or an error when it has none within `deadline`.
fn within<T: Send + 'static>(
    deadline: Duration,
    call: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    let (answer, answered) = std::sync::mpsc::sync_channel(1);
    // A thread of its own, left behind when it does not answer: a blocked D-Bus call cannot
    // be cancelled, and the process goes on (or ends) without it.
    std::thread::Builder::new()
        .name("os-keyring-open".into())
        .spawn(move || {
            let _ = answer.send(call());
        })
        .map_err(|e| AuthError::SessionStore(format!("cannot open the OS keyring: {e}")))?;
    match answered.recv_timeout(deadline) {
        Ok(answer) => answer,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(AuthError::SessionStore(format!(
            "the OS keyring did not answer within {} ms",
            deadline.as_millis()
        ))),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(AuthError::SessionStore(
            "the OS keyring failed while it was opened".into(),
        )),
    }
}

/// A keyring's failure, said without the bytes some errors carry (they may be the secret).
fn failure(name: &str, e: &keyring_core::Error) -> AuthError {
    use keyring_core::Error;
    let why = match e {
        Error::PlatformFailure(inner) => format!("it failed: {inner}"),
        Error::NoStorageAccess(inner) => format!("it is locked or refused access: {inner}"),
        Error::BadEncoding(_) | Error::BadDataFormat(..) => "its entry is not text".to_owned(),
        Error::TooLong(what, limit) => format!("the {what} is longer than its {limit} limit"),
        Error::Ambiguous(_) => format!("it holds more than one {SERVICE} {USER} entry"),
        other => other.to_string(),
    };
    AuthError::SessionStore(format!("the session cannot be kept in {name}: {why}"))
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), AuthError> {
    const NAME: &str = "the OS keyring (Secret Service)";
    let store = zbus_secret_service_keyring_store::Store::new().map_err(|e| failure(NAME, &e))?;
    Ok((store, NAME))
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), AuthError> {
    const NAME: &str = "the macOS Keychain";
    let store =
        apple_native_keyring_store::keychain::Store::new().map_err(|e| failure(NAME, &e))?;
    Ok((store, NAME))
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), AuthError> {
    const NAME: &str = "the Windows Credential Manager";
    let store = windows_native_keyring_store::Store::new().map_err(|e| failure(NAME, &e))?;
    Ok((store, NAME))
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "macos",
    target_os = "windows"
)))]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), AuthError> {
    Err(AuthError::SessionStore(
        "this platform has no OS keyring".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::authorization_code::store::sample_session;

    fn mock() -> OsKeyring {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        OsKeyring::in_store(&store, "the test keyring").unwrap()
    }

    #[test]
    fn a_session_in_a_keyring_reads_back_and_is_forgotten() {
        let keyring = mock();
        assert!(keyring.load().unwrap().is_none());
        keyring
            .save(&sample_session("refresh-one-for-keyring"))
            .unwrap();
        keyring
            .save(&sample_session("refresh-two-for-keyring"))
            .unwrap();
        let loaded = keyring.load().unwrap().unwrap();
        assert_eq!(loaded.refresh_token.expose(), "refresh-two-for-keyring");
        assert!(keyring.remove().unwrap());
        assert!(!keyring.remove().unwrap());
        assert!(keyring.load().unwrap().is_none());
    }

    #[test]
    fn a_keyring_failure_names_the_keyring_and_never_the_bytes_it_carries() {
        let keyring = mock();
        let cred: &keyring_core::mock::Cred = keyring.entry.as_any().downcast_ref().unwrap();
        cred.set_error(keyring_core::Error::BadEncoding(
            b"refresh-in-bad-encoding".to_vec(),
        ));
        let error = keyring.load().unwrap_err().to_string();
        assert!(error.contains("the test keyring"), "{error}");
        assert!(!error.contains("refresh-in-bad-encoding"), "{error}");
        assert!(!format!("{keyring:?}").contains("refresh"));
    }

    #[test]
    fn a_keyring_that_does_not_answer_is_given_up_on() {
        let (_held_until_the_end, never_sent) = std::sync::mpsc::channel::<()>();
        let opened = within(Duration::from_millis(50), move || {
            // Stands for a D-Bus call no provider answers; bounded so the test fails, not hangs.
            let _ = never_sent.recv_timeout(Duration::from_secs(30));
            Ok("opened")
        });
        let error = opened.expect_err("no answer is an error").to_string();
        assert!(error.contains("did not answer"), "{error}");
    }

    #[test]
    fn a_session_reads_back_from_a_keyring_that_keeps_passwords_as_utf16() {
        let store: Arc<CredentialStore> = Arc::new(wide::Store::default());
        let keyring = OsKeyring::in_store(&store, "the wide test keyring").unwrap();
        keyring.save(&sample_session("refresh-for-wide")).unwrap();
        let loaded = keyring.load().unwrap().unwrap();
        assert_eq!(loaded.refresh_token.expose(), "refresh-for-wide");
    }

    /// A store that keeps a password as UTF-16 and a secret as its bytes, as the Windows
    /// Credential Manager's store does.
    mod wide {
        use std::any::Any;
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex};

        use keyring_core::api::{CredentialApi, CredentialStoreApi};
        use keyring_core::{Credential, Entry, Error, Result};

        #[derive(Default)]
        pub struct Store(Arc<Mutex<Option<Vec<u8>>>>);

        struct Cred(Arc<Mutex<Option<Vec<u8>>>>);

        impl CredentialStoreApi for Store {
            fn vendor(&self) -> String {
                "wide test store".into()
            }
            fn id(&self) -> String {
                "wide".into()
            }
            fn build(&self, _: &str, _: &str, _: Option<&HashMap<&str, &str>>) -> Result<Entry> {
                Ok(Entry::new_with_credential(Arc::new(Cred(self.0.clone()))))
            }
            fn as_any(&self) -> &dyn Any {
                self
            }
        }

        impl CredentialApi for Cred {
            fn set_password(&self, password: &str) -> Result<()> {
                let wide = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
                self.set_secret_vec(wide)
            }
            fn set_secret(&self, secret: &[u8]) -> Result<()> {
                self.set_secret_vec(secret.to_vec())
            }
            fn get_secret(&self) -> Result<Vec<u8>> {
                self.0.lock().unwrap().clone().ok_or(Error::NoEntry)
            }
            fn delete_credential(&self) -> Result<()> {
                self.0
                    .lock()
                    .unwrap()
                    .take()
                    .map(drop)
                    .ok_or(Error::NoEntry)
            }
            fn get_credential(&self) -> Result<Option<Arc<Credential>>> {
                Ok(None)
            }
            fn get_specifiers(&self) -> Option<(String, String)> {
                None
            }
            fn as_any(&self) -> &dyn Any {
                self
            }
        }

        impl Cred {
            fn set_secret_vec(&self, bytes: Vec<u8>) -> Result<()> {
                *self.0.lock().unwrap() = Some(bytes);
                Ok(())
            }
        }
    }

    #[test]
    fn a_hostile_keyring_entry_is_refused_without_quoting_it() {
        let keyring = mock();
        keyring
            .entry
            .set_password(r#"{"version": 1, "issuer": ["refresh-in-a-hostile-entry"]}"#)
            .unwrap();
        let error = keyring.load().unwrap_err().to_string();
        assert!(!error.contains("refresh-in-a-hostile-entry"), "{error}");
        assert!(error.contains("the test keyring"), "{error}");
    }
}
