//! A person signs in with `login --no-browser`, later commands use the saved session with no
//! credentials in the environment, and `logout` ends it.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use mesh_export_emulator::DEMO_NATIVE_CLIENT_ID;
use mesh_export_test_support::signin::sign_in_as_demo_user;
use predicates::prelude::*;
use serde_json::Value;

use crate::support::{Service, bare, service};

/// The binary with only the config dir and the service root: no credentials at all.
fn signed_out(service: &Service, config: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = bare();
    cmd.env("MESH_EXPORT_CONFIG_DIR", config)
        .args(["--base-url", &service.emulator.mesh_export_url()]);
    cmd
}

/// Runs `login --no-browser` with only the native client id and the emulator as issuer, signs
/// in at the URL it prints (read from its stderr as it arrives), and returns its exit status
/// and the whole of its stderr.
fn login_through_the_form(service: &Service, config: &std::path::Path) -> (bool, String) {
    let bare = bare();
    let mut cmd = Command::new(bare.get_program());
    for (name, value) in bare.get_envs() {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    let mut child = cmd
        .env("ITWIN_CLIENT_ID", DEMO_NATIVE_CLIENT_ID)
        .env("ITWIN_ISSUER_URL", service.emulator.issuer_url())
        .env("MESH_EXPORT_CONFIG_DIR", config)
        .env("MESH_EXPORT_BASE_URL", service.emulator.mesh_export_url())
        .args([
            "login",
            "--no-browser",
            "--redirect-uri",
            "http://127.0.0.1:0/callback",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no URL printed: {seen}"
        );
        seen.push_str(&line);
        if line.starts_with("http") {
            break line.trim_end().to_owned();
        }
    };
    assert!(!url.contains(' '), "the URL is alone on its line: {url:?}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, page) = runtime.block_on(sign_in_as_demo_user(&url));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in"), "{page}");
    stderr.read_to_string(&mut seen).unwrap();
    (child.wait().unwrap().success(), seen)
}

#[test]
fn a_person_signs_in_without_a_browser_and_later_commands_use_the_session_until_logout() {
    let service = service();
    let config = tempfile::tempdir().unwrap();
    let (success, stderr) = login_through_the_form(&service, config.path());
    assert!(success, "{stderr}");
    assert!(stderr.contains("signed in; session saved"), "{stderr}");

    // A fresh process, no credentials in the environment: the saved session lists exports.
    signed_out(&service, config.path())
        .arg("list")
        .assert()
        .success();
    let output = signed_out(&service, config.path())
        .args(["--json", "login"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let login: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(login["method"], "session");
    assert_eq!(login["client_id"], DEMO_NATIVE_CLIENT_ID);
    assert_eq!(login["issuer"], service.emulator.issuer_url());
    assert!(
        login["source"].as_str().unwrap().contains("saved sign-in"),
        "{login}"
    );

    signed_out(&service, config.path())
        .arg("logout")
        .assert()
        .success()
        .stdout(predicate::str::contains("refresh token revoked"));
    signed_out(&service, config.path())
        .arg("list")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no credentials"));
}

#[test]
fn a_token_in_the_environment_shadowing_the_saved_session_is_warned_about() {
    let service = service();
    let config = tempfile::tempdir().unwrap();
    let (success, stderr) = login_through_the_form(&service, config.path());
    assert!(success, "{stderr}");
    signed_out(&service, config.path())
        .env("ITWIN_ACCESS_TOKEN", "a-stale-token-value")
        .arg("list")
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains(
                "using the credentials from environment variable ITWIN_ACCESS_TOKEN; those from the saved sign-in",
            )
            .and(predicate::str::contains("a-stale-token-value").not()),
        );
}

#[test]
fn a_session_for_another_client_or_deployment_is_used_with_a_warning() {
    let service = service();
    let config = tempfile::tempdir().unwrap();
    let (success, stderr) = login_through_the_form(&service, config.path());
    assert!(success, "{stderr}");
    signed_out(&service, config.path())
        .env("ITWIN_CLIENT_ID", "another-native-client")
        .arg("list")
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "the saved sign-in is for client {DEMO_NATIVE_CLIENT_ID}, not another-native-client"
        )));
    signed_out(&service, config.path())
        .args(["--env", "qa", "list"])
        .assert()
        .stderr(predicate::str::contains("(--env); run `mesh-export login`"));
    signed_out(&service, config.path())
        .arg("list")
        .assert()
        .success()
        .stderr(predicate::str::contains("saved sign-in is").not());
}

#[test]
fn a_client_id_without_a_secret_and_no_session_says_to_sign_in() {
    let service = service();
    signed_out(&service, &crate::support::no_session_dir())
        .env("ITWIN_CLIENT_ID", DEMO_NATIVE_CLIENT_ID)
        .arg("list")
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "run `mesh-export login` to sign in",
        ));
}

#[test]
fn an_unknown_session_store_is_named_and_the_other_credentials_are_still_tried() {
    let service = service();
    signed_out(&service, &crate::support::no_session_dir())
        .env("MESH_EXPORT_SESSION_STORE", "vault")
        .env("ITWIN_ACCESS_TOKEN", "a-token-the-emulator-refuses")
        .arg("list")
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "the saved sign-in is ignored: MESH_EXPORT_SESSION_STORE is \"vault\"; it takes `keyring` or `file`",
        ));
}

#[test]
fn logout_without_a_session_says_so() {
    let service = service();
    signed_out(&service, &crate::support::no_session_dir())
        .arg("logout")
        .assert()
        .success()
        .stdout(predicate::str::contains("not signed in"));
}

#[test]
fn an_unreadable_session_is_not_quoted_and_logout_removes_it() {
    let service = service();
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("session.json");
    std::fs::write(&file, r#"{"version": "refresh-in-a-corrupt-file"}"#).unwrap();
    signed_out(&service, config.path())
        .arg("list")
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("the saved sign-in is ignored")
                .and(predicate::str::contains("refresh-in-a-corrupt-file").not()),
        );
    signed_out(&service, config.path())
        .arg("logout")
        .assert()
        .success()
        .stdout(predicate::str::contains("unreadable session removed"))
        .stderr(predicate::str::contains("refresh-in-a-corrupt-file").not());
    assert!(
        !file.exists(),
        "logout leaves the unreadable session behind"
    );
}

#[test]
fn the_refresh_token_never_reaches_the_output_even_with_trace_logs() {
    let service = service();
    let config = tempfile::tempdir().unwrap();
    let (success, stderr) = login_through_the_form(&service, config.path());
    assert!(success, "{stderr}");
    let saved = |path: &std::path::Path| -> String {
        let session: Value =
            serde_json::from_slice(&std::fs::read(path.join("session.json")).unwrap()).unwrap();
        session["refresh_token"].as_str().unwrap().to_owned()
    };
    let before = saved(config.path());
    assert!(
        !stderr.contains(&before),
        "the refresh token leaked from login"
    );
    // A later run refreshes (rotating the refresh token) with every log line on.
    let output = signed_out(&service, config.path())
        .args(["-vvv", "--json", "login"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let after = saved(config.path());
    assert_ne!(after, before, "the rotated refresh token was saved");
    let printed = [output.stdout, output.stderr].concat();
    let printed = String::from_utf8_lossy(&printed);
    for token in [&before, &after] {
        assert!(
            !printed.contains(token.as_str()),
            "a refresh token leaked: {printed}"
        );
    }
}
