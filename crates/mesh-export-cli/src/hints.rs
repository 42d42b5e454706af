//! The one table of hints: what a person can do about each kind of failure, and where the
//! failure happened (the host or URL an error concerns).
//!
//! A failure is first sorted into a [`Situation`] ([`situation`]); [`Situation::hint`] is the
//! table. Every row is tested in `tests.rs`.

use mesh_export::auth::{AuthError, STORE_VAR};
use mesh_export::tiles::DownloadError;

use crate::commands::lookup::KNOWN_TYPES;
use crate::error::CliError;
use crate::exit::Exit;

/// What the command line said, as far as a hint needs it.
#[derive(Debug, Default, Clone)]
pub struct Context {
    /// The command (`list`, `delete`, ...).
    pub command: &'static str,
    /// The service root in use, redacted.
    pub service: Option<String>,
    /// `host:port` of the service root.
    pub host: Option<String>,
    /// The export the command names, when it names one.
    pub export_id: Option<String>,
    /// The iModel the command names, when it names one.
    pub imodel: Option<String>,
    /// `download --href`: a link that cannot be renewed.
    pub href: bool,
    /// `ITWIN_ACCESS_TOKEN` is set beside client credentials.
    pub token_beside_client_credentials: bool,
}

/// The server a connection could not be made to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// The Mesh Export service (`--base-url`), at the context's host.
    Service,
    /// The token endpoint or the issuer, at this `host:port`.
    Tokens(String),
}

/// A kind of failure that has its own hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Situation {
    /// Nothing accepted the connection.
    ConnectionRefused(Server),
    /// The host name did not resolve.
    HostNotFound(Server),
    /// The named export does not exist (404).
    ExportNotFound,
    /// `start` was refused as invalid (422).
    StartRefused,
    /// `delete` of an export that has not finished (422).
    DeleteUnfinished,
    /// A `--href` link whose signature expired.
    HrefExpired,
    /// A signature that expired and could not be renewed.
    SignatureExpired,
    /// An access token from the environment refused while client credentials are also set.
    StaleToken,
    /// Credentials missing or refused.
    Credentials,
    /// Rate limited beyond what the retries sleep through.
    RateLimited,
    /// The saved session could not be read or kept (a locked or absent OS keyring, a file).
    SessionStore,
    /// `--timeout` ran out while the export goes on.
    WaitTimedOut {
        /// The export waited for.
        export_id: String,
    },
    /// Ctrl-C while the export goes on.
    Interrupted {
        /// The command that picks up.
        resume: String,
    },
    /// Files of the tileset failed or were refused.
    Incomplete {
        /// Files that failed.
        failed: usize,
        /// URIs not followed.
        refused: usize,
    },
}

/// The export id and iModel written as the flags of a command that names them.
fn export_flags(id: &str, ctx: &Context) -> String {
    match &ctx.imodel {
        Some(imodel) => format!("{id} --imodel {imodel}"),
        None => id.to_owned(),
    }
}

impl Situation {
    /// The hint: the table.
    pub fn hint(&self, ctx: &Context) -> String {
        let host = ctx.host.as_deref().unwrap_or("the service");
        let id = ctx.export_id.as_deref().unwrap_or("ID");
        match self {
            Situation::ConnectionRefused(Server::Service) => format!(
                "nothing accepted a connection at {host}: check MESH_EXPORT_BASE_URL (or \
                 --base-url) and your network"
            ),
            Situation::ConnectionRefused(Server::Tokens(at)) => format!(
                "nothing accepted a connection at {at}, where tokens are asked for: check \
                 {TOKEN_SETTINGS}, and your network"
            ),
            Situation::HostNotFound(Server::Service) => format!(
                "the host name {} could not be resolved (nothing was rejected): check the URL \
                 in MESH_EXPORT_BASE_URL (or --base-url), or unset it for the default service",
                host_name(host)
            ),
            Situation::HostNotFound(Server::Tokens(at)) => format!(
                "the host name {}, where tokens are asked for, could not be resolved (nothing \
                 was rejected): check {TOKEN_SETTINGS}",
                host_name(at)
            ),
            Situation::ExportNotFound => {
                "no such export here: list exports with `mesh-export list`".to_owned()
            }
            Situation::StartRefused => format!(
                "the service refused the request: check --imodel and --changeset (valid --type \
                 values: {})",
                KNOWN_TYPES.join(", ")
            ),
            Situation::DeleteUnfinished => format!(
                "an export still running cannot be deleted: wait for it with `mesh-export wait \
                 {id}`, then delete"
            ),
            Situation::HrefExpired => {
                "the link has expired and a --href cannot be renewed: run `mesh-export download \
                 ID --out DIR` for a fresh link (complete files are kept)"
                    .to_owned()
            }
            Situation::SignatureExpired => {
                "run the same command again: it asks for a fresh link and keeps complete files"
                    .to_owned()
            }
            Situation::StaleToken => {
                "ITWIN_ACCESS_TOKEN is set and wins over ITWIN_CLIENT_ID and ITWIN_CLIENT_SECRET; \
                 it may have expired: unset it (`unset ITWIN_ACCESS_TOKEN`) to use the client \
                 credentials"
                    .to_owned()
            }
            Situation::Credentials => "a person signs in with `mesh-export login --client-id \
                 ID` (a native app's client id); a pipeline passes --client-id and \
                 --client-secret (or ITWIN_CLIENT_ID and ITWIN_CLIENT_SECRET), or --token"
                .to_owned(),
            Situation::RateLimited => {
                "the service is rate limiting: run the command again after the wait it asked for"
                    .to_owned()
            }
            Situation::SessionStore => format!(
                "{STORE_VAR}=file keeps the session in a file under the config directory instead \
                 of the OS keyring; `mesh-export logout` forgets a session that cannot be read"
            ),
            Situation::WaitTimedOut { export_id } => format!(
                "export {export_id} goes on at the service; wait again with `mesh-export wait {}`",
                export_flags(export_id, ctx)
            ),
            Situation::Interrupted { resume } => format!("resume with `{resume}`"),
            Situation::Incomplete { failed, refused } => format!(
                "{failed} file(s) failed and {refused} URI(s) were not followed (listed above and \
                 in manifest.json); run the same command again to retry: complete files are kept"
            ),
        }
    }
}

/// Where tokens come from, as a person sets it.
const TOKEN_SETTINGS: &str = "ITWIN_TOKEN_URL (or --token-url), or for a signed-in person \
     ITWIN_ISSUER_URL (or login --issuer)";

/// A host name without its port: the port plays no part in resolving it.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.rsplit_once("]:").map_or(host, |(name, _)| &name[1..]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// `host:port` of `url` (the scheme's port when none is written).
pub fn host_and_port(url: &str) -> Option<String> {
    let url = ::url::Url::parse(url).ok()?;
    let host = url.host_str()?.to_owned();
    Some(match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// A connection that could not be made: to which server, and whether its host name did not
/// resolve (`true`) or nothing accepted it (`false`).
fn connect_failure(error: &CliError) -> Option<(Server, bool)> {
    let CliError::Api(e) = error else {
        return None;
    };
    let (server, connect, chain) = match e.as_ref() {
        mesh_export::Error::Transport { source, .. } => (
            Server::Service,
            source.is_connect(),
            http_policy::redact::cause_chain(source),
        ),
        mesh_export::Error::Auth(auth @ AuthError::Transport { source, .. }) => {
            let endpoint = auth.endpoint().unwrap_or_default();
            (
                Server::Tokens(host_and_port(endpoint).unwrap_or_else(|| endpoint.to_owned())),
                source.is_connect(),
                http_policy::redact::cause_chain(source.as_ref()),
            )
        }
        _ => return None,
    };
    connect.then(|| {
        let dns = chain.contains("dns error") || chain.contains("failed to lookup");
        (server, dns)
    })
}

/// Sorts `error` into the situation whose hint fits it, if any.
pub fn situation(error: &CliError, ctx: &Context) -> Option<Situation> {
    use mesh_export::Error as E;
    if let Some((server, dns)) = connect_failure(error) {
        return Some(if dns {
            Situation::HostNotFound(server)
        } else {
            Situation::ConnectionRefused(server)
        });
    }
    match error {
        CliError::Interrupted { resume, .. } => {
            return Some(Situation::Interrupted {
                resume: resume.clone(),
            });
        }
        CliError::Download {
            error: DownloadError::Incomplete { failures, summary },
            ..
        } => {
            return Some(Situation::Incomplete {
                failed: failures.len(),
                refused: summary.refused.len(),
            });
        }
        CliError::Download {
            error: DownloadError::SignatureRejected { .. },
            ..
        } => {
            return Some(if ctx.href {
                Situation::HrefExpired
            } else {
                Situation::SignatureExpired
            });
        }
        CliError::Api(e) => match e.as_ref() {
            E::WaitTimeout { export_id, .. } => {
                return Some(Situation::WaitTimedOut {
                    export_id: export_id.clone(),
                });
            }
            E::RateLimited { .. } => return Some(Situation::RateLimited),
            E::Auth(AuthError::SessionStore(_)) => return Some(Situation::SessionStore),
            E::ExportNotFound { .. } => return Some(Situation::ExportNotFound),
            e if e.status() == Some(404) && ctx.export_id.is_some() => {
                return Some(Situation::ExportNotFound);
            }
            e if e.status() == Some(422) && ctx.command == "delete" => {
                return Some(Situation::DeleteUnfinished);
            }
            e if matches!(e.status(), Some(400 | 422)) && ctx.command == "start" => {
                return Some(Situation::StartRefused);
            }
            _ => {}
        },
        _ => {}
    }
    match error {
        CliError::Api(_) | CliError::Auth(_) if error.exit() == Exit::Auth => {
            Some(if ctx.token_beside_client_credentials {
                Situation::StaleToken
            } else {
                Situation::Credentials
            })
        }
        _ => None,
    }
}

/// The message of `error` as printed, naming the server it concerns: the service's errors
/// name the service, a failed download the blob store (its root, never its signature); a
/// token endpoint's errors name it themselves.
pub fn message(error: &CliError, ctx: &Context) -> String {
    let text = error.to_string();
    match error {
        CliError::Download {
            error: DownloadError::Incomplete { .. } | DownloadError::SignatureRejected { .. },
            store: Some(store),
        } => format!("{text} (blob store at {store})"),
        CliError::Api(e) if !matches!(e.as_ref(), mesh_export::Error::Auth(_)) => {
            let Some(service) = &ctx.service else {
                return text;
            };
            if connect_failure(error).is_some() {
                let host = ctx.host.as_deref().unwrap_or(service);
                format!("cannot connect to {host} ({service}): {text}")
            } else if text.contains(service.as_str()) {
                text
            } else {
                format!("{text} (service at {service})")
            }
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests;
