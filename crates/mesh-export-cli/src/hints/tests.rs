//! Every row of the hint table: the failure it is chosen for, and what it tells the user.

use std::time::Duration;

use mesh_export::tiles::{DownloadError, TilePath};
use mesh_export::{Error, ExportStatus};

use super::*;

fn context(command: &'static str) -> Context {
    Context {
        command,
        service: Some("http://127.0.0.1:9/mesh-export".into()),
        host: Some("127.0.0.1:9".into()),
        export_id: Some("fc3aa1e5-5196-4dd9-a73e-4cfda693e576".into()),
        imodel: Some("b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc".into()),
        ..Context::default()
    }
}

fn service_error(status: u16) -> CliError {
    CliError::Api(Box::new(Error::Service {
        status,
        code: None,
        message: "The request is invalid.".into(),
        target: None,
        details: Vec::new(),
        correlation_id: None,
    }))
}

/// The situation `error` is sorted into under `ctx`, and its hint.
fn hinted(error: &CliError, ctx: &Context) -> (Situation, String) {
    let situation = situation(error, ctx).expect("a hint");
    let hint = situation.hint(ctx);
    (situation, hint)
}

async fn transport_error(url: &str) -> CliError {
    let source = reqwest::get(url).await.unwrap_err();
    CliError::Api(Box::new(Error::Transport {
        source,
        correlation_id: None,
    }))
}

#[tokio::test]
async fn a_refused_connection_names_host_and_port_and_the_base_url_variable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let error = transport_error(&format!("http://{addr}/mesh-export/")).await;
    let ctx = Context {
        host: Some(addr.to_string()),
        ..context("list")
    };
    let (situation, hint) = hinted(&error, &ctx);
    assert_eq!(situation, Situation::ConnectionRefused(Server::Service));
    assert!(hint.contains(&addr.to_string()), "{hint}");
    assert!(hint.contains("MESH_EXPORT_BASE_URL"), "{hint}");
    let message = message(&error, &ctx);
    assert!(
        message.starts_with(&format!("cannot connect to {addr}")),
        "{message}"
    );
}

#[tokio::test]
async fn a_name_that_does_not_resolve_says_check_the_url_not_a_rejection() {
    // `.invalid` never resolves (RFC 6761).
    let error = transport_error("http://mesh-export.invalid/").await;
    let ctx = Context {
        host: Some("mesh-export.invalid:80".into()),
        ..context("list")
    };
    let (situation, hint) = hinted(&error, &ctx);
    assert_eq!(situation, Situation::HostNotFound(Server::Service));
    assert!(
        hint.contains("host name mesh-export.invalid could"),
        "{hint}"
    );
    assert!(hint.contains("check the URL"), "{hint}");
    assert!(hint.contains("nothing was rejected"), "{hint}");
}

#[tokio::test]
async fn a_token_endpoint_that_refuses_connections_is_named_not_the_service() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let source = mesh_export::auth::ClientCredentials::new("id", "secret-value")
        .token_url(format!("http://{addr}/connect/token"))
        .retry(mesh_export::RetryOptions::none());
    let error = mesh_export::auth::TokenSource::token(&source)
        .await
        .unwrap_err();
    let error = CliError::from(error);
    let ctx = context("list");
    let (situation, hint) = hinted(&error, &ctx);
    assert_eq!(
        situation,
        Situation::ConnectionRefused(Server::Tokens(addr.to_string()))
    );
    assert!(hint.contains(&addr.to_string()), "{hint}");
    assert!(hint.contains("ITWIN_TOKEN_URL"), "{hint}");
    assert!(!hint.contains("127.0.0.1:9"), "not the service: {hint}");
    assert!(
        message(&error, &ctx).contains(&format!("http://{addr}/connect/token")),
        "{error}"
    );
}

#[test]
fn a_failed_download_names_its_blob_store() {
    let error = CliError::Download {
        error: DownloadError::SignatureRejected {
            status: 403,
            path: TilePath::parse("tileset.json").unwrap(),
        },
        store: Some("https://blobs.example/c/".into()),
    };
    let message = message(&error, &context("download"));
    assert!(
        message.ends_with("(blob store at https://blobs.example/c/)"),
        "{message}"
    );
}

#[test]
fn a_404_on_an_export_id_suggests_listing_exports() {
    let (situation, hint) = hinted(&service_error(404), &context("get"));
    assert_eq!(situation, Situation::ExportNotFound);
    assert!(hint.contains("`mesh-export list`"), "{hint}");
    let not_listed = CliError::Api(Box::new(Error::ExportNotFound {
        export_id: "x".into(),
        i_model_id: "y".into(),
    }));
    assert_eq!(
        hinted(&not_listed, &context("get")).0,
        Situation::ExportNotFound
    );
}

#[test]
fn a_refused_start_lists_the_valid_types() {
    let (situation, hint) = hinted(&service_error(422), &context("start"));
    assert_eq!(situation, Situation::StartRefused);
    for known in KNOWN_TYPES {
        assert!(hint.contains(known), "{hint}");
    }
}

#[test]
fn deleting_a_running_export_says_wait_for_it_then_delete() {
    let ctx = context("delete");
    let (situation, hint) = hinted(&service_error(422), &ctx);
    assert_eq!(situation, Situation::DeleteUnfinished);
    assert!(
        hint.contains("mesh-export wait fc3aa1e5-5196-4dd9-a73e-4cfda693e576"),
        "{hint}"
    );
    assert!(hint.contains("then delete"), "{hint}");
}

#[test]
fn an_expired_href_says_download_by_id_instead_of_api_jargon() {
    let error = CliError::Download {
        error: DownloadError::SignatureRejected {
            status: 403,
            path: TilePath::parse("tileset.json").unwrap(),
        },
        store: None,
    };
    let ctx = Context {
        href: true,
        export_id: None,
        ..context("download")
    };
    let (situation, hint) = hinted(&error, &ctx);
    assert_eq!(situation, Situation::HrefExpired);
    assert!(hint.contains("mesh-export download ID"), "{hint}");
    assert!(!hint.contains("get-exports"), "{hint}");
    let by_id = Context { href: false, ..ctx };
    assert_eq!(hinted(&error, &by_id).0, Situation::SignatureExpired);
}

#[test]
fn a_refused_token_beside_client_credentials_suggests_unsetting_it() {
    let refused = service_error(401);
    let ctx = Context {
        token_beside_client_credentials: true,
        ..context("list")
    };
    let (situation, hint) = hinted(&refused, &ctx);
    assert_eq!(situation, Situation::StaleToken);
    assert!(hint.contains("unset ITWIN_ACCESS_TOKEN"), "{hint}");
    let (situation, hint) = hinted(&refused, &context("list"));
    assert_eq!(situation, Situation::Credentials);
    assert!(hint.contains("--client-id"), "{hint}");
    assert!(
        hint.contains("mesh-export login"),
        "a person is told to sign in: {hint}"
    );
}

#[test]
fn rate_limits_say_run_again_after_the_wait() {
    let error = CliError::Api(Box::new(Error::RateLimited {
        status: 429,
        retry_after: Duration::from_secs(120),
        correlation_id: None,
    }));
    let (situation, hint) = hinted(&error, &context("list"));
    assert_eq!(situation, Situation::RateLimited);
    assert!(hint.contains("run the command again"), "{hint}");
}

#[test]
fn a_timed_out_wait_says_the_export_goes_on_and_how_to_resume() {
    let error = CliError::Api(Box::new(Error::WaitTimeout {
        export_id: "e1".into(),
        waited: Duration::from_secs(600),
        last_status: ExportStatus::InProgress,
    }));
    let (situation, hint) = hinted(&error, &context("start"));
    assert_eq!(
        situation,
        Situation::WaitTimedOut {
            export_id: "e1".into()
        }
    );
    assert!(hint.contains("goes on"), "{hint}");
    assert!(
        hint.contains("`mesh-export wait e1 --imodel b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc`"),
        "{hint}"
    );
}

#[test]
fn an_interruption_gives_the_command_that_resumes() {
    let error = CliError::Interrupted {
        export_id: "e1".into(),
        resume: "mesh-export download e1 --out d".into(),
    };
    let (situation, hint) = hinted(&error, &context("download"));
    assert!(matches!(situation, Situation::Interrupted { .. }));
    assert_eq!(hint, "resume with `mesh-export download e1 --out d`");
    assert!(error.to_string().contains("export e1 goes on"), "{error}");
}

#[test]
fn an_incomplete_download_counts_what_is_missing_and_says_run_again() {
    let hint = Situation::Incomplete {
        failed: 2,
        refused: 1,
    }
    .hint(&context("download"));
    assert!(hint.starts_with("2 file(s) failed and 1 URI(s)"), "{hint}");
    assert!(hint.contains("run the same command again"), "{hint}");
}

#[test]
fn a_service_error_names_the_service_it_came_from() {
    let message = message(&service_error(500), &context("list"));
    assert!(
        message.ends_with("(service at http://127.0.0.1:9/mesh-export)"),
        "{message}"
    );
}

#[test]
fn a_usage_error_has_no_hint() {
    let error = CliError::Usage("bad".into());
    assert_eq!(situation(&error, &context("list")), None);
}

#[test]
fn a_session_store_that_fails_points_to_the_file_store_and_logout() {
    let error = CliError::from(AuthError::SessionStore(
        "the session cannot be kept in the OS keyring (Secret Service): it is locked".into(),
    ));
    let (situation, hint) = hinted(&error, &context("login"));
    assert_eq!(situation, Situation::SessionStore);
    assert!(hint.contains("MESH_EXPORT_SESSION_STORE=file"), "{hint}");
    assert!(hint.contains("mesh-export logout"), "{hint}");
    assert_eq!(
        error.exit(),
        Exit::Other,
        "a store failure is no verdict on credentials"
    );
}

#[test]
fn a_token_host_that_does_not_resolve_names_it_without_its_port_and_the_token_settings() {
    let ctx = context("list");
    for (at, name) in [("ims.invalid:443", "ims.invalid"), ("[::1]:8080", "::1")] {
        let hint = Situation::HostNotFound(Server::Tokens(at.into())).hint(&ctx);
        assert!(
            hint.contains(&format!("host name {name}, where tokens")),
            "{hint}"
        );
        assert!(hint.contains("ITWIN_TOKEN_URL"), "{hint}");
        assert!(hint.contains("nothing was rejected"), "{hint}");
        assert!(!hint.contains("MESH_EXPORT_BASE_URL"), "{hint}");
    }
}
