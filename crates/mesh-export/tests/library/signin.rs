//! A person signing in through the emulator's login form: the session it gives, its refresh
//! with rotation kept in the session file, and sign-out with revocation.

use std::time::Duration;

use std::sync::Arc;

use mesh_export::auth::{
    AuthError, InteractiveSignIn, OsKeyring, SessionFile, SessionStore, TokenSource, UserSession,
};
use mesh_export::{Client, ExportFilter};
use mesh_export_emulator::{DEMO_NATIVE_CLIENT_ID, Emulator};
use mesh_export_test_support::emulator::http;
use mesh_export_test_support::signin::{sign_in_as, sign_in_as_demo_user};
use tokio::sync::mpsc;

/// A sign-in at `emulator` on a free loopback port whose authorization URL is handed to the
/// returned receiver instead of a browser.
fn sign_in(emulator: &Emulator) -> (InteractiveSignIn, mpsc::UnboundedReceiver<String>) {
    let (urls, received) = mpsc::unbounded_channel();
    let sign_in = InteractiveSignIn::new(DEMO_NATIVE_CLIENT_ID)
        .issuer(emulator.issuer_url())
        .redirect_uri("http://127.0.0.1:0/callback")
        .open_with(move |url| urls.send(url.to_owned()).unwrap());
    (sign_in, received)
}

#[tokio::test]
async fn a_person_signs_in_and_the_session_in_a_file_lists_exports_refreshes_and_signs_out() {
    let dir = tempfile::tempdir().unwrap();
    signs_in_lists_refreshes_and_signs_out(Arc::new(SessionFile::in_dir(dir.path()))).await;
}

#[tokio::test]
async fn a_person_signs_in_and_the_session_in_a_keyring_lists_exports_refreshes_and_signs_out() {
    let store: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
    let keyring = OsKeyring::in_store(&store, "the test keyring").unwrap();
    signs_in_lists_refreshes_and_signs_out(Arc::new(keyring)).await;
}

async fn signs_in_lists_refreshes_and_signs_out(store: Arc<dyn SessionStore>) {
    let emulator = Emulator::builder().start().await.unwrap();
    let (sign_in, mut urls) = sign_in(&emulator);
    let person = tokio::spawn(async move {
        let url = urls.recv().await.unwrap();
        sign_in_as_demo_user(&url).await
    });
    let session = sign_in.sign_in().await.unwrap().keep_in(store.clone());
    let (status, page) = person.await.unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in"), "{page}");
    session.save().await.unwrap();
    let first_refresh = store.load().unwrap().unwrap().refresh_token;

    // The sign-in's own token, then a refreshed one: the rotated refresh token is saved.
    session.token().await.unwrap();
    session.token().await.unwrap();
    let rotated = store.load().unwrap().unwrap().refresh_token;
    assert_ne!(
        rotated, first_refresh,
        "the rotated refresh token was not saved"
    );

    // A later run: the saved session lists exports.
    let later = UserSession::load(store.clone()).unwrap().unwrap();
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .token_source(later)
        .build()
        .unwrap();
    client.list_page(&ExportFilter::new()).await.unwrap();

    // Sign-out revokes the refresh token (the client above rotated it again) and clears the store.
    let current = UserSession::load(store.clone()).unwrap().unwrap();
    let saved = current.saved().await;
    assert!(current.sign_out().await.unwrap(), "revoked");
    assert!(store.load().unwrap().is_none());
    let revoked = UserSession::new(saved, None);
    match revoked.token().await.unwrap_err() {
        AuthError::TokenEndpoint {
            status: 400, error, ..
        } => {
            assert_eq!(error.as_deref(), Some("invalid_grant"));
        }
        other => panic!("a revoked refresh token gave {other:?}"),
    }
}

#[tokio::test]
async fn a_callback_with_another_state_is_ignored_and_the_right_one_completes() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (sign_in, mut urls) = sign_in(&emulator);
    let person = tokio::spawn(async move {
        let url = urls.recv().await.unwrap();
        let redirect = url::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .unwrap()
            .1
            .into_owned();
        let forged = http()
            .get(format!("{redirect}?code=forged&state=not-ours"))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 400);
        let elsewhere = http()
            .get(format!("{redirect}/../favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(elsewhere.status(), 404);
        sign_in_as_demo_user(&url).await
    });
    let session = sign_in.sign_in().await.unwrap();
    assert_eq!(person.await.unwrap().0, 200);
    session.token().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_leaves_the_sign_in_waiting_until_its_timeout() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (sign_in, mut urls) = sign_in(&emulator);
    let sign_in = sign_in.timeout(Duration::from_millis(300));
    let person = tokio::spawn(async move {
        let url = urls.recv().await.unwrap();
        sign_in_as(&url, "demo-user", "wrong").await
    });
    let error = sign_in.sign_in().await.unwrap_err();
    assert!(
        matches!(&error, AuthError::SignIn(m) if m.contains("no answer from the browser")),
        "{error}"
    );
    assert_eq!(person.await.unwrap().0, 401);
}

#[tokio::test]
async fn a_refusal_by_the_issuer_ends_the_sign_in_with_its_reason() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (sign_in, mut urls) = sign_in(&emulator);
    // The emulator refuses a scope without itwin-platform, redirecting with an error.
    let sign_in = sign_in.scope("openid");
    let person = tokio::spawn(async move {
        let url = urls.recv().await.unwrap();
        http().get(&url).send().await.unwrap().status().as_u16()
    });
    let error = sign_in.sign_in().await.unwrap_err();
    assert!(
        matches!(&error, AuthError::SignIn(m) if m.contains("invalid_scope")),
        "{error}"
    );
    assert_eq!(person.await.unwrap(), 200);
}

/// A store that keeps nothing: a locked keyring that refuses every save.
#[derive(Debug)]
struct RefusingStore;

impl SessionStore for RefusingStore {
    fn load(&self) -> Result<Option<mesh_export::auth::SavedSession>, AuthError> {
        Ok(None)
    }
    fn save(&self, _: &mesh_export::auth::SavedSession) -> Result<(), AuthError> {
        Err(AuthError::SessionStore("the test keyring is locked".into()))
    }
    fn remove(&self) -> Result<bool, AuthError> {
        Ok(false)
    }
    fn location(&self) -> String {
        "the test keyring".into()
    }
}

/// The old refresh token is spent once rotated: a person whose new one was not kept is signed
/// out at the next run, so the failure is an error a command shows without `-v`.
#[tokio::test]
async fn a_rotated_refresh_token_that_cannot_be_kept_is_logged_as_an_error() {
    let logs = mesh_export_test_support::logs::LogCapture::start();
    logs.scope(async {
        let emulator = Emulator::builder().start().await.unwrap();
        let (sign_in, mut urls) = sign_in(&emulator);
        let person =
            tokio::spawn(async move { sign_in_as_demo_user(&urls.recv().await.unwrap()).await });
        let session = sign_in
            .sign_in()
            .await
            .unwrap()
            .keep_in(Arc::new(RefusingStore));
        person.await.unwrap();
        session.token().await.unwrap();
        session.token().await.expect("the refresh itself works");
    })
    .await;
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("could not be saved"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.starts_with("ERROR"), "{line}");
    assert!(line.contains("the test keyring is locked"), "{line}");
}
