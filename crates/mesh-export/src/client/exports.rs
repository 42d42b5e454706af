//! The operations on one export: `start-export`, the deprecated `get-export`, and
//! `delete-export`.

use mesh_export_client::builder;
use mesh_export_client::types::{Export, ExportResponse, StartExport};
use reqwest::StatusCode;

use super::Client;
use crate::error::Error;
use crate::policy;

impl Client {
    /// Starts an export (`start-export`). The service answers at once; the export is
    /// `NotStarted`. The POST is never re-sent after a failure that may have reached the
    /// service, so at most one export is started per call; to avoid duplicates across calls,
    /// use [`get_or_start_export`](Self::get_or_start_export).
    ///
    /// # Errors
    ///
    /// [`Error::Service`] with the service's code for a refused request (422 for an unknown
    /// iModel), [`Error::RateLimited`], [`Error::Auth`], or [`Error::Transport`] (the export may
    /// then have started).
    pub async fn start_export(&self, request: StartExport) -> Result<Export, Error> {
        let build = || {
            policy::built(
                self.inner
                    .generated
                    .start_export()
                    .body(request.clone())
                    .into_request(),
            )
        };
        let response: ExportResponse = self
            .send(&build, builder::StartExport::OPERATION_ID)
            .await?
            .decode(StatusCode::ACCEPTED)?;
        Ok(response.export)
    }

    /// Reads one export with the deprecated `get-export` operation.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] (404 for an unknown export) and the errors of every call.
    #[deprecated(
        note = "get-export will be removed when Mesh Export reaches General Availability; use find_export or exports"
    )]
    pub async fn get_export(&self, export_id: &str) -> Result<Export, Error> {
        #[allow(deprecated)]
        let build = || {
            policy::built(
                self.inner
                    .generated
                    .get_export()
                    .id(export_id)
                    .into_request(),
            )
        };
        let response: ExportResponse = self
            .send(&build, builder::GetExport::OPERATION_ID)
            .await?
            .decode(StatusCode::OK)?;
        Ok(response.export)
    }

    /// Deletes an export that is `Complete` or `Invalid` (`delete-export`).
    ///
    /// # Errors
    ///
    /// [`Error::Service`] (404 for an unknown export, 422 for one still running) and the
    /// errors of every call.
    pub async fn delete_export(&self, export_id: &str) -> Result<(), Error> {
        let build = || {
            policy::built(
                self.inner
                    .generated
                    .delete_export()
                    .id(export_id)
                    .into_request(),
            )
        };
        self.send(&build, builder::DeleteExport::OPERATION_ID)
            .await?
            .expect(StatusCode::NO_CONTENT)
    }
}
