//! Reusing an existing export instead of starting a duplicate.

use futures::TryStreamExt;
use mesh_export_client::types::{Export, ExportStatus, ExportType, StartExport};

use super::Client;
use super::paging::ExportFilter;
use super::start_locks::StartKey;
use crate::error::Error;
use crate::timestamp::LastModified;

impl Client {
    /// The newest `Complete` export of the iModel, changeset and type in `request`; else one
    /// still in progress (`NotStarted` or `InProgress`); else a new one from `start-export`.
    ///
    /// Calls for the same iModel, changeset and type within one process (through clones of
    /// this client) run one at a time, so concurrent callers share one export instead of
    /// starting several. Export types compare case-insensitively; a missing type means
    /// `3DTiles`, the service's default; a missing or empty changeset matches exports whose
    /// changeset is empty or absent (the service's "latest").
    ///
    /// `start-export` is never sent twice. When it fails after the request may have reached the
    /// service (the connection dropped before the answer, or a gateway answered 502, 503, 504
    /// or 408), the exports are listed once more and an export the interrupted request created
    /// is returned; otherwise the error is. Calling
    /// again after any error is safe: the lookup runs before a new start.
    ///
    /// # Errors
    ///
    /// Those of [`exports`](Self::exports) and [`start_export`](Self::start_export).
    pub async fn get_or_start_export(&self, request: StartExport) -> Result<Export, Error> {
        let export_type = request.export_type.clone().unwrap_or(ExportType::X3dTiles);
        let changeset = request.changeset_id.clone().unwrap_or_default();
        let key = StartKey {
            i_model_id: request.i_model_id.clone(),
            changeset_id: changeset.clone(),
            export_type: export_type.as_str().to_ascii_lowercase(),
        };
        let locks = &self.inner.start_locks;
        let lock = locks.lock_for(&key);
        let result = {
            let _guard = lock.lock().await;
            self.find_or_start(request, &export_type, &changeset).await
        };
        locks.release(&key, lock);
        result
    }

    async fn find_or_start(
        &self,
        request: StartExport,
        export_type: &ExportType,
        changeset: &str,
    ) -> Result<Export, Error> {
        if let Some(existing) = self.find_reusable(&request, export_type, changeset).await? {
            return Ok(existing);
        }
        match self.start_export(request.clone()).await {
            Ok(started) => {
                tracing::info!(export_id = %started.id, "started an export");
                Ok(started)
            }
            // The POST may have reached the service before the failure (a dropped connection,
            // a lost response): if it created the export, it is listed now, and returning it
            // is what the caller wanted. Re-sending the POST could start a second export.
            Err(error) if start_may_have_succeeded(&error) => {
                match self.find_reusable(&request, export_type, changeset).await {
                    Ok(Some(created)) => {
                        tracing::info!(export_id = %created.id, "the interrupted start created an export; reusing it");
                        Ok(created)
                    }
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// The newest `Complete` export matching the request, else the newest in progress.
    async fn find_reusable(
        &self,
        request: &StartExport,
        export_type: &ExportType,
        changeset: &str,
    ) -> Result<Option<Export>, Error> {
        let mut filter = ExportFilter::new().i_model_id(request.i_model_id.clone());
        if !changeset.is_empty() {
            filter = filter.changeset_id(changeset);
        }
        let candidates: Vec<Export> = self
            .exports(filter)
            .try_filter(|e| futures::future::ready(same_request(e, export_type, changeset)))
            .try_collect()
            .await?;
        // Newest first by `lastModified`; exports without one after those with one, in the
        // service's order (newest first). `max_by_key` would pick the last of equals: the
        // oldest, when no export carries a date.
        let newest = |status: &dyn Fn(&ExportStatus) -> bool| {
            let mut matching: Vec<&Export> =
                candidates.iter().filter(|e| status(&e.status)).collect();
            // Newest first; an export whose time is missing or unreadable comes last.
            matching.sort_by_key(|e| {
                let at = e.last_modified_at();
                (at.is_none(), std::cmp::Reverse(at))
            });
            matching.first().map(|e| (*e).clone())
        };
        if let Some(done) = newest(&|s| *s == ExportStatus::Complete) {
            tracing::debug!(export_id = %done.id, "reusing a complete export");
            return Ok(Some(done));
        }
        let running = newest(&|s| matches!(s, ExportStatus::NotStarted | ExportStatus::InProgress));
        if let Some(running) = &running {
            tracing::debug!(export_id = %running.id, status = running.status.as_str(), "reusing an export in progress");
        }
        Ok(running)
    }
}

/// Whether a failed `start-export` may still have created an export: the request left but no
/// answer came back, or a gateway answered for the service (408, 502, 503, 504 can come after
/// the service acted). A failure to connect, or an answer of the service itself, means it did
/// not.
fn start_may_have_succeeded(error: &Error) -> bool {
    match error {
        Error::Transport { source, .. } => !source.is_connect() && !source.is_builder(),
        Error::Service { status, .. } => matches!(status, 408 | 502 | 503 | 504),
        _ => false,
    }
}

fn same_request(export: &Export, export_type: &ExportType, changeset: &str) -> bool {
    let Some(request) = &export.request else {
        return false;
    };
    // The service's default type is 3D Tiles, and an echoed request may leave it out.
    let type_matches = request
        .export_type
        .as_ref()
        .unwrap_or(&ExportType::X3dTiles)
        .eq_ignore_ascii_case(export_type);
    let changeset_matches = request.changeset_id.as_deref().unwrap_or_default() == changeset;
    type_matches && changeset_matches
}
