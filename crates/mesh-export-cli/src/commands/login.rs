//! `login`: signs a person in (a client id without a secret), or checks the credentials in
//! use against the service and says where they came from.

use std::sync::Arc;

use clap::Args;
use mesh_export::ExportFilter;
use mesh_export::auth::{DEFAULT_REDIRECT_URI, InteractiveSignIn, TokenSource};

use crate::error::CliError;
use crate::global::Global;
use crate::output::{Login, Reporter};

/// `login`'s own options, for signing a person in.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// OpenID issuer to sign in with [default: https://ims.bentley.com, or the --env one].
    #[arg(long, env = "ITWIN_ISSUER_URL", value_name = "URL")]
    issuer: Option<String>,
    /// Loopback redirect URI registered with the native client (port 0: a free port).
    #[arg(long, value_name = "URI", default_value = DEFAULT_REDIRECT_URI)]
    redirect_uri: String,
    /// Print the sign-in URL on stderr instead of opening a browser, then wait for the sign-in.
    #[arg(long)]
    no_browser: bool,
}

/// `login`.
pub async fn run(g: &Global, args: LoginArgs) -> Result<(), CliError> {
    match g.interactive_client_id() {
        Some(client_id) => sign_in(g, client_id, args).await,
        None => {
            let (source, login) = g.token_source()?;
            check(g, source, login).await
        }
    }
}

/// Signs a person in with the native client `client_id` and saves the session.
async fn sign_in(g: &Global, client_id: &str, args: LoginArgs) -> Result<(), CliError> {
    let issuer = args.issuer.unwrap_or_else(|| g.issuer());
    let store = crate::global::session_store()?;
    let mut sign_in = InteractiveSignIn::new(client_id)
        .issuer(issuer.clone())
        .redirect_uri(args.redirect_uri);
    if args.no_browser {
        sign_in = sign_in.open_with(|url| {
            eprintln!("Open this URL in a browser to sign in; waiting for the sign-in to finish:");
            // The URL alone on its line, so it can be copied (or read by a script).
            eprintln!("{url}");
        });
    } else {
        eprintln!("Opening the browser to sign in at {issuer} (waiting for the sign-in to finish)");
    }
    let session = sign_in.sign_in().await?.keep_in(store.clone());
    session.save().await?;
    eprintln!("signed in; session saved to {}", store.location());
    let login = Login {
        method: "session",
        source: format!("the sign-in just made (saved to {})", store.location()),
        client_id: Some(client_id.to_owned()),
        token_url: None,
        issuer: Some(issuer),
        expires_in_seconds: None,
    };
    check(g, Arc::new(session), login).await
}

/// Proves the credentials by reading one export, and reports them.
async fn check(g: &Global, source: Arc<dyn TokenSource>, mut login: Login) -> Result<(), CliError> {
    let token = source.token().await?;
    login.expires_in_seconds = token.remaining().map(|r| r.as_secs());
    // A token is only proven by the service accepting it: read one export.
    // Any failure fails the login: 401/403 (exit 3) refuse the token; anything else (exit 1,
    // or 6 when rate limited) leaves it unproven.
    let client = g.client_for(source, &login)?;
    match client.list_page(&ExportFilter::new().page_size(1)).await {
        Ok(_) => {}
        Err(e) if matches!(e.status(), Some(401 | 403)) => return Err(e.into()),
        Err(e @ (mesh_export::Error::Auth(_) | mesh_export::Error::RateLimited { .. })) => {
            return Err(e.into());
        }
        Err(e) => {
            return Err(CliError::Other(format!(
                "the service did not accept the login check: {e}"
            )));
        }
    }
    Reporter::new(g.json).login(&login);
    Ok(())
}
