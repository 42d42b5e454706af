//! `login`: checks the credentials against the service.

use mesh_export::ExportFilter;

use crate::error::CliError;
use crate::global::Global;
use crate::output::Reporter;

/// `login`.
pub async fn run(g: &Global) -> Result<(), CliError> {
    let (source, mut login) = g.token_source()?;
    let token = source.token().await?;
    login.expires_in_seconds = token.remaining().map(|r| r.as_secs());
    // A token is only proven by the service accepting it: read one export.
    // Any failure fails the login: 401/403 (exit 3) refuse the token; anything else (exit 1,
    // or 6 when rate limited) leaves it unproven.
    let client = g.client_with(source)?;
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
