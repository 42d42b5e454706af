//! Why a command failed, and which exit code ([`Exit`]) each failure ends the process with.

use mesh_export::auth::AuthError;
use mesh_export::tiles::{DownloadError, TilesetUrlError};

use crate::exit::Exit;

/// Why a command failed; each kind has its exit code (see `--help`).
#[derive(Debug)]
pub enum CliError {
    /// From the service or its client.
    Api(Box<mesh_export::Error>),
    /// From the tileset download.
    Download {
        /// Why it failed.
        error: DownloadError,
        /// The blob store's root it downloaded from, redacted, when known.
        store: Option<String>,
    },
    /// A tileset URL that cannot be used.
    Url(TilesetUrlError),
    /// Bad or missing input that clap could not catch.
    Usage(String),
    /// Nothing matched.
    NotFound(String),
    /// Credentials missing or refused.
    Auth(String),
    /// Anything else.
    Other(String),
    /// Ctrl-C while an export was waited for or downloaded; the export goes on at the service.
    Interrupted {
        /// The export.
        export_id: String,
        /// The command that picks up where this one stopped.
        resume: String,
    },
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Api(e) => write!(f, "{e}"),
            CliError::Download { error, .. } => write!(f, "{error}"),
            CliError::Url(e) => write!(f, "{e}"),
            CliError::Usage(m) | CliError::NotFound(m) | CliError::Auth(m) | CliError::Other(m) => {
                f.write_str(m)
            }
            CliError::Interrupted { export_id, .. } => {
                write!(f, "interrupted; export {export_id} goes on at the service")
            }
        }
    }
}

impl std::error::Error for CliError {}

impl From<mesh_export::Error> for CliError {
    fn from(e: mesh_export::Error) -> Self {
        CliError::Api(Box::new(e))
    }
}

impl From<DownloadError> for CliError {
    fn from(error: DownloadError) -> Self {
        CliError::Download { error, store: None }
    }
}

impl From<TilesetUrlError> for CliError {
    fn from(e: TilesetUrlError) -> Self {
        match e {
            TilesetUrlError::Unavailable(_) => CliError::NotFound(e.to_string()),
            e => CliError::Url(e),
        }
    }
}

impl From<AuthError> for CliError {
    fn from(e: AuthError) -> Self {
        CliError::Api(Box::new(mesh_export::Error::Auth(e)))
    }
}

/// The exit code of a failed token request: 3 when the credentials are missing or refused
/// (HTTP 401/403, or an OAuth2 error that names the client or grant); 6 when rate limited; 1
/// for any other answer, an endpoint that is down, or a session store that failed, which are no
/// verdict on the credentials.
fn auth_exit(e: &AuthError) -> Exit {
    match e {
        AuthError::TokenEndpoint { status: 429, .. } => Exit::Throttled,
        AuthError::TokenEndpoint {
            status: 401 | 403, ..
        } => Exit::Auth,
        AuthError::TokenEndpoint { error, .. } => match error.as_deref() {
            Some("invalid_client" | "unauthorized_client" | "invalid_grant") => Exit::Auth,
            _ => Exit::Other,
        },
        AuthError::Transport { .. } | AuthError::Decode(_) | AuthError::SessionStore(_) => {
            Exit::Other
        }
        _ => Exit::Auth,
    }
}

impl CliError {
    /// How the process ends, as `--help` documents it.
    pub fn exit(&self) -> Exit {
        use mesh_export::Error as E;
        match self {
            CliError::Usage(_) => Exit::Usage,
            CliError::Interrupted { .. } => Exit::Interrupted,
            CliError::Auth(_) => Exit::Auth,
            CliError::NotFound(_) => Exit::NotFound,
            CliError::Api(e) => match e.as_ref() {
                E::Auth(auth) => auth_exit(auth),
                E::ExportNotFound { .. } => Exit::NotFound,
                E::ExportFailed { .. } => Exit::ExportInvalid,
                E::RateLimited { .. } | E::WaitTimeout { .. } => Exit::Throttled,
                e => match e.status() {
                    Some(401 | 403) => Exit::Auth,
                    Some(404) => Exit::NotFound,
                    Some(429) => Exit::Throttled,
                    _ => Exit::Other,
                },
            },
            CliError::Download { error, .. } => match error {
                DownloadError::Incomplete { .. } => Exit::Incomplete,
                DownloadError::SignatureRejected { .. } => Exit::SignatureRefused,
                _ => Exit::Other,
            },
            CliError::Url(_) | CliError::Other(_) => Exit::Other,
        }
    }
}
