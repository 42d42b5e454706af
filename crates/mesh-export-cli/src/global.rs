//! The options every subcommand takes, and the API client they describe.

use std::sync::Arc;

use clap::Args;
use clap::builder::{PossibleValue, TypedValueParser};
use mesh_export::auth::{
    BENTLEY_ISSUER, SIGN_IN_REFRESH_AHEAD, STORE_VAR, SessionStore, ShareKey, StaticToken,
    TokenSource, UserSession, default_session_store,
};
use mesh_export::{Client, ClientCredentials, Environment};

use crate::error::CliError;
use crate::output;

/// Options every subcommand takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Service root [default: https://api.bentley.com/mesh-export, or the --env one].
    #[arg(long, global = true, env = "MESH_EXPORT_BASE_URL", value_name = "URL")]
    base_url: Option<String>,
    /// Deployment whose service root (and IMS token endpoint) to use when --base-url (and
    /// --token-url) is not given.
    #[arg(long = "env", global = true, value_name = "ENV", value_parser = environment_parser())]
    environment: Option<Environment>,
    /// OAuth2 token endpoint for client credentials [default: https://ims.bentley.com/connect/token, or the --env one].
    #[arg(long, global = true, env = "ITWIN_TOKEN_URL", value_name = "URL")]
    token_url: Option<String>,
    /// OAuth2 client id: with --client-secret, a service client; alone, the native client that
    /// `login` signs a person in with.
    #[arg(long, global = true, env = "ITWIN_CLIENT_ID", value_name = "ID")]
    client_id: Option<String>,
    /// OAuth2 client secret (with --client-id).
    #[arg(
        long,
        global = true,
        env = "ITWIN_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    client_secret: Option<String>,
    /// A bearer token to use as it is (wins over client credentials).
    #[arg(
        long,
        global = true,
        env = "ITWIN_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
    /// An iTwin share key, sent as `Authorization: Basic <KEY>` (after --token, before client
    /// credentials).
    #[arg(
        long,
        global = true,
        env = "ITWIN_SHARE_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    share_key: Option<String>,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print machine-readable JSON on stdout (`mesh-export --help` lists the shapes; `mesh-export
    /// schema` prints their JSON Schemas).
    #[arg(long, global = true)]
    pub json: bool,
    /// Print no progress or notes on stderr: only results, and errors with their hints.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// `--env`: the library's deployments, each shown with its service root.
fn environment_parser() -> impl TypedValueParser<Value = Environment> {
    const ALL: [(&str, Environment); 3] = [
        ("prod", Environment::Prod),
        ("qa", Environment::Qa),
        ("dev", Environment::Dev),
    ];
    clap::builder::PossibleValuesParser::new(
        ALL.map(|(name, env)| PossibleValue::new(name).help(env.base_url())),
    )
    .map(|name| {
        ALL.into_iter()
            .find(|(n, _)| *n == name)
            .map_or(Environment::Prod, |(_, env)| env)
    })
}

/// Where a value came from: its environment variable when that holds it, else its flag.
fn origin(value: &str, var: &str, flag: &str) -> String {
    if std::env::var(var).is_ok_and(|v| v == value) {
        format!("environment variable {var}")
    } else {
        flag.to_owned()
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// One kind of credentials found, in the order they are preferred.
struct Found {
    /// `token`, `share_key`, `client_credentials` or `session`.
    method: &'static str,
    /// Where it came from, for people.
    source: String,
}

impl Global {
    /// The client id given without a secret (nor a token or share key): a native client to
    /// sign a person in with.
    pub fn interactive_client_id(&self) -> Option<&str> {
        let id = non_empty(&self.client_id)?;
        let other = non_empty(&self.client_secret)
            .or(non_empty(&self.token))
            .or(non_empty(&self.share_key));
        other.is_none().then_some(id)
    }

    /// The issuer people sign in with when `--issuer` is not given: Bentley's IMS of `--env`.
    pub fn issuer(&self) -> String {
        let token_url = self.environment.unwrap_or_default().token_url();
        token_url
            .strip_suffix("/connect/token")
            .unwrap_or(BENTLEY_ISSUER)
            .to_owned()
    }

    /// Every kind of credentials given, most preferred first.
    fn found(&self, session: Option<&dyn SessionStore>) -> Vec<Found> {
        let mut found = Vec::new();
        if let Some(token) = non_empty(&self.token) {
            found.push(Found {
                method: "token",
                source: origin(token, "ITWIN_ACCESS_TOKEN", "--token"),
            });
        }
        if let Some(key) = non_empty(&self.share_key) {
            found.push(Found {
                method: "share_key",
                source: origin(key, "ITWIN_SHARE_KEY", "--share-key"),
            });
        }
        if let (Some(id), Some(_)) = (non_empty(&self.client_id), non_empty(&self.client_secret)) {
            found.push(Found {
                method: "client_credentials",
                source: origin(id, "ITWIN_CLIENT_ID", "--client-id")
                    .replace(
                        "variable ITWIN_CLIENT_ID",
                        "variables ITWIN_CLIENT_ID and ITWIN_CLIENT_SECRET",
                    )
                    .replace("--client-id", "--client-id and --client-secret"),
            });
        }
        if let Some(store) = session {
            found.push(Found {
                method: "session",
                source: format!("the saved sign-in ({})", store.location()),
            });
        }
        found
    }

    /// The credentials the flags, the environment and a saved sign-in give: a token, else a
    /// share key, else client credentials, else the saved sign-in. Warns on stderr about every
    /// one the chosen one shadows.
    pub fn token_source(&self) -> Result<(Arc<dyn TokenSource>, output::Login), CliError> {
        // A platform without a config directory has no saved sign-in; other credentials work.
        let store = match session_store() {
            Ok(store) => Some(store),
            Err(e) => {
                eprintln!("warning: the saved sign-in is ignored: {e}");
                None
            }
        };
        let session = match store.clone().map(UserSession::load).transpose() {
            Ok(session) => session.flatten(),
            Err(e) => {
                eprintln!("warning: the saved sign-in is ignored: {e}");
                None
            }
        };
        let found = self.found(store.as_deref().filter(|_| session.is_some()));
        let Some(chosen) = found.first() else {
            return Err(self.no_credentials());
        };
        for shadowed in &found[1..] {
            eprintln!(
                "warning: using the credentials from {}; those from {} are ignored",
                chosen.source, shadowed.source
            );
        }
        let mut login = output::Login {
            method: chosen.method,
            source: chosen.source.clone(),
            client_id: None,
            token_url: None,
            issuer: None,
            expires_in_seconds: None,
        };
        let source: Arc<dyn TokenSource> = match chosen.method {
            "token" => Arc::new(StaticToken::new(non_empty(&self.token).unwrap_or_default())),
            "share_key" => Arc::new(ShareKey::new(
                non_empty(&self.share_key).unwrap_or_default(),
            )),
            "client_credentials" => {
                let id = non_empty(&self.client_id).unwrap_or_default();
                let secret = non_empty(&self.client_secret).unwrap_or_default();
                let token_url = self
                    .token_url
                    .clone()
                    .unwrap_or_else(|| self.environment.unwrap_or_default().token_url().to_owned());
                login.client_id = Some(id.to_owned());
                login.token_url = Some(token_url.clone());
                Arc::new(ClientCredentials::new(id, secret).token_url(token_url))
            }
            _ => {
                let session = session.expect("found only with a session");
                if let Some(mismatch) = self.session_mismatch(&session) {
                    eprintln!("warning: {mismatch}");
                }
                login.client_id = Some(session.client_id().to_owned());
                login.issuer = Some(session.issuer().to_owned());
                Arc::new(session)
            }
        };
        Ok((source, login))
    }

    /// How the saved sign-in differs from the client or deployment these options ask for: it
    /// is still used (its tokens may be refused), and the person is told how to sign in again.
    fn session_mismatch(&self, session: &UserSession) -> Option<String> {
        if let Some(id) = self.interactive_client_id()
            && id != session.client_id()
        {
            return Some(format!(
                "the saved sign-in is for client {}, not {id} ({}); run `mesh-export login` to \
                 sign in with {id}",
                session.client_id(),
                origin(id, "ITWIN_CLIENT_ID", "--client-id")
            ));
        }
        let asked = self.environment.map(|_| self.issuer())?;
        (asked.trim_end_matches('/') != session.issuer().trim_end_matches('/')).then(|| {
            format!(
                "the saved sign-in is at {}, not at {asked} (--env); run `mesh-export login` to \
                 sign in there",
                session.issuer()
            )
        })
    }

    /// Why there are no credentials, and what would give some.
    fn no_credentials(&self) -> CliError {
        match (non_empty(&self.client_id), non_empty(&self.client_secret)) {
            (Some(id), None) => CliError::Auth(format!(
                "no credentials: the client id {id} ({}) has no secret and nobody is signed in; \
                 run `mesh-export login` to sign in with it",
                origin(id, "ITWIN_CLIENT_ID", "--client-id")
            )),
            (None, Some(_)) => CliError::Auth(
                "no credentials: --client-secret is set but --client-id is not".into(),
            ),
            _ => CliError::Auth(
                "no credentials, and nobody is signed in (`mesh-export login --client-id ID` signs \
                 a person in)"
                    .into(),
            ),
        }
    }

    /// A client of the service these options name, authenticating with `source` as `login`
    /// describes it (a signed-in session refreshes its tokens 10 minutes ahead).
    pub fn client_for(
        &self,
        source: Arc<dyn TokenSource>,
        login: &output::Login,
    ) -> Result<Client, CliError> {
        let retry = mesh_export::RetryOptions {
            on_wait: (!self.quiet && !self.json).then(output::announce_retry_waits),
            ..mesh_export::RetryOptions::default()
        };
        let mut builder = Client::builder()
            .base_url(self.base_url())
            .token_source(source)
            .retry(retry)
            // The tool reads through get-export only where no iModel is known, and says so.
            .deprecation_warnings(mesh_export::DeprecationWarnings::Silent)
            .user_agent(concat!("mesh-export-cli/", env!("CARGO_PKG_VERSION")));
        if login.method == "session" {
            builder = builder.refresh_ahead(SIGN_IN_REFRESH_AHEAD);
        }
        Ok(builder.build()?)
    }

    /// The service root these options name.
    pub fn base_url(&self) -> String {
        if let Some(url) = &self.base_url {
            return url.clone();
        }
        self.environment.unwrap_or_default().base_url().to_owned()
    }

    /// A client of the service these options name, with the credentials they give.
    pub fn client(&self) -> Result<Client, CliError> {
        let (source, login) = self.token_source()?;
        self.client_for(source, &login)
    }
}

/// The store of the signed-in session, as [`default_session_store`] picks it; a pick that took
/// long (an OS keyring slow to answer, or given up on) is said on stderr, never silent.
pub fn session_store() -> Result<Arc<dyn SessionStore>, mesh_export::auth::AuthError> {
    let started = std::time::Instant::now();
    let store = default_session_store();
    let took = started.elapsed();
    if took > std::time::Duration::from_secs(2) {
        eprintln!(
            "warning: the OS keyring took {:.1} s to answer; {STORE_VAR}=file skips it",
            took.as_secs_f64()
        );
    }
    store
}
