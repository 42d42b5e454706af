//! Waiting for an export to finish, by polling `get-exports` (never the deprecated `get-export`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt, TryStreamExt, stream};
use mesh_export_client::types::{Export, ExportStatus};

use crate::client::Client;
use crate::error::Error;
use crate::paging::ExportFilter;

/// A callback for status changes.
type StatusCallback = Arc<dyn Fn(&Export) + Send + Sync>;

/// How to wait for an export.
///
/// ```
/// use std::time::Duration;
/// use mesh_export::WaitOptions;
///
/// let options = WaitOptions::default()
///     .interval(Duration::from_secs(5))
///     .timeout(Duration::from_secs(600))
///     .on_status(|export| println!("{}: {}", export.id, export.status.as_str()));
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct WaitOptions {
    /// Time between polls. Default 3 s: Bentley's samples and CesiumJS poll every 3–5 s, and a
    /// poll costs one call of the rate limit.
    pub interval: Duration,
    /// How long to wait in all before [`Error::WaitTimeout`]. Default 10 minutes.
    pub timeout: Duration,
    on_status: Option<StatusCallback>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            interval: Duration::from_secs(3),
            timeout: Duration::from_secs(600),
            on_status: None,
        }
    }
}

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("on_status", &self.on_status.as_ref().map(|_| ".."))
            .finish()
    }
}

impl WaitOptions {
    /// Sets the time between polls.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the overall time limit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Calls `callback` with the export each time its status changes (the first status seen
    /// included).
    pub fn on_status(mut self, callback: impl Fn(&Export) + Send + Sync + 'static) -> Self {
        self.on_status = Some(Arc::new(callback));
        self
    }
}

impl Client {
    /// Finds one export of an iModel through `get-exports` (in full, with `_links.mesh`).
    pub async fn find_export(&self, i_model_id: &str, export_id: &str) -> Result<Export, Error> {
        let found = self
            .exports(ExportFilter::new().i_model_id(i_model_id))
            .try_filter(|e| futures::future::ready(e.id == export_id))
            .boxed()
            .try_next()
            .await?;
        found.ok_or_else(|| Error::ExportNotFound {
            export_id: export_id.to_owned(),
            i_model_id: i_model_id.to_owned(),
        })
    }

    /// The export each time its status changes, until it is `Complete` (the last item).
    /// It ends with [`Error::ExportFailed`] if the export turns `Invalid`, and with
    /// [`Error::WaitTimeout`] when `options.timeout` passes. Errors worth retrying
    /// ([`Error::is_retryable`]) while polling are logged and polling goes on.
    pub fn watch_export(
        &self,
        i_model_id: &str,
        export_id: &str,
        options: WaitOptions,
    ) -> impl Stream<Item = Result<Export, Error>> + Send + 'static {
        struct State {
            client: Client,
            i_model_id: String,
            export_id: String,
            options: WaitOptions,
            started: Instant,
            last: Option<ExportStatus>,
            done: bool,
        }
        let state = State {
            client: self.clone(),
            i_model_id: i_model_id.to_owned(),
            export_id: export_id.to_owned(),
            options,
            started: Instant::now(),
            last: None,
            done: false,
        };
        stream::unfold(state, |mut s| async move {
            if s.done {
                return None;
            }
            loop {
                match s.client.find_export(&s.i_model_id, &s.export_id).await {
                    Ok(export) => {
                        let changed = s.last.as_ref() != Some(&export.status);
                        s.last = Some(export.status.clone());
                        match &export.status {
                            ExportStatus::Invalid => {
                                s.done = true;
                                if let Some(cb) = &s.options.on_status {
                                    cb(&export);
                                }
                                let error = Error::ExportFailed {
                                    export_id: export.id.clone(),
                                    message: export
                                        .error
                                        .clone()
                                        .unwrap_or_else(|| "the service gave no reason".into()),
                                };
                                return Some((Err(error), s));
                            }
                            ExportStatus::Complete => s.done = true,
                            _ => {}
                        }
                        if changed {
                            tracing::debug!(export_id = %export.id, status = export.status.as_str(), "export status changed");
                            if let Some(cb) = &s.options.on_status {
                                cb(&export);
                            }
                            return Some((Ok(export), s));
                        }
                    }
                    Err(e) if e.is_retryable() => {
                        tracing::warn!(error = %e, export_id = %s.export_id, "polling failed; will poll again");
                    }
                    Err(e) => {
                        s.done = true;
                        return Some((Err(e), s));
                    }
                }
                let waited = s.started.elapsed();
                if waited + s.options.interval > s.options.timeout {
                    s.done = true;
                    let error = Error::WaitTimeout {
                        export_id: s.export_id.clone(),
                        waited,
                        last_status: s
                            .last
                            .clone()
                            .unwrap_or_else(|| ExportStatus::Unknown("unseen".into())),
                    };
                    return Some((Err(error), s));
                }
                tokio::time::sleep(s.options.interval).await;
            }
        })
    }

    /// Waits until the export is `Complete` and returns it (with `_links.mesh`).
    ///
    /// Fails with [`Error::ExportFailed`] (carrying the export's `error` text) if it ends
    /// `Invalid`, or [`Error::WaitTimeout`]. For progress, pass
    /// [`WaitOptions::on_status`] or use [`watch_export`](Self::watch_export).
    pub async fn wait_for_export(
        &self,
        i_model_id: &str,
        export_id: &str,
        options: WaitOptions,
    ) -> Result<Export, Error> {
        let mut updates = Box::pin(self.watch_export(i_model_id, export_id, options));
        let mut last = None;
        while let Some(update) = updates.next().await {
            last = Some(update?);
        }
        last.ok_or_else(|| Error::ExportNotFound {
            export_id: export_id.to_owned(),
            i_model_id: i_model_id.to_owned(),
        })
    }
}
