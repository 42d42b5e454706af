//! The options every subcommand takes, and the API client they describe.

use std::sync::Arc;

use clap::Args;
use clap::builder::{PossibleValue, TypedValueParser};
use mesh_export::auth::{ShareKey, StaticToken, TokenSource};
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
    /// OAuth2 client id (with --client-secret).
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

impl Global {
    /// The credentials the flags and environment give: a token, else a share key, else client
    /// credentials.
    pub fn token_source(&self) -> Result<(Arc<dyn TokenSource>, output::Login), CliError> {
        if let Some(token) = self.token.as_deref().filter(|t| !t.is_empty()) {
            let login = output::Login {
                method: "token",
                client_id: None,
                token_url: None,
                expires_in_seconds: None,
            };
            return Ok((Arc::new(StaticToken::new(token)), login));
        }
        if let Some(key) = self.share_key.as_deref().filter(|k| !k.is_empty()) {
            let login = output::Login {
                method: "share_key",
                client_id: None,
                token_url: None,
                expires_in_seconds: None,
            };
            return Ok((Arc::new(ShareKey::new(key)), login));
        }
        match (self.client_id.as_deref(), self.client_secret.as_deref()) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                let token_url = self
                    .token_url
                    .clone()
                    .unwrap_or_else(|| self.environment.unwrap_or_default().token_url().to_owned());
                let credentials = ClientCredentials::new(id, secret).token_url(token_url.clone());
                let login = output::Login {
                    method: "client_credentials",
                    client_id: Some(id.to_owned()),
                    token_url: Some(token_url),
                    expires_in_seconds: None,
                };
                Ok((Arc::new(credentials), login))
            }
            (Some(_), None) => Err(CliError::Auth(
                "--client-id is set but --client-secret is not".into(),
            )),
            (None, Some(_)) => Err(CliError::Auth(
                "--client-secret is set but --client-id is not".into(),
            )),
            _ => Err(CliError::Auth("no credentials".into())),
        }
    }

    /// The service root these options name.
    pub fn base_url(&self) -> String {
        if let Some(url) = &self.base_url {
            return url.clone();
        }
        self.environment.unwrap_or_default().base_url().to_owned()
    }

    /// A client of the service these options name, authenticating with `source`.
    pub fn client_with(&self, source: Arc<dyn TokenSource>) -> Result<Client, CliError> {
        let retry = mesh_export::RetryOptions {
            on_wait: (!self.quiet && !self.json).then(output::announce_retry_waits),
            ..mesh_export::RetryOptions::default()
        };
        Ok(Client::builder()
            .base_url(self.base_url())
            .token_source(source)
            .retry(retry)
            // The tool reads through get-export only where no iModel is known, and says so.
            .deprecation_warnings(mesh_export::DeprecationWarnings::Silent)
            .user_agent(concat!("mesh-export-cli/", env!("CARGO_PKG_VERSION")))
            .build()?)
    }

    /// A client of the service these options name, with the credentials they give.
    pub fn client(&self) -> Result<Client, CliError> {
        let (source, _) = self.token_source()?;
        self.client_with(source)
    }
}
