//! Waiting for an export to finish, by polling `get-exports` (never the deprecated `get-export`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt, TryStreamExt, stream};
use mesh_export_client::types::{Export, ExportStatus};

use super::Client;
use super::paging::ExportFilter;
use crate::error::Error;

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

/// The state of one [`Client::watch_export`].
struct Watch {
    client: Client,
    i_model_id: String,
    export_id: String,
    options: WaitOptions,
    started: Instant,
    last: Option<ExportStatus>,
    done: bool,
}

impl Watch {
    fn timed_out(&self) -> Error {
        Error::WaitTimeout {
            export_id: self.export_id.clone(),
            waited: self.started.elapsed(),
            last_status: self
                .last
                .clone()
                .unwrap_or_else(|| ExportStatus::Unknown("unseen".into())),
        }
    }
}

impl Client {
    /// Finds one export of an iModel through `get-exports` (in full, with `_links.mesh`).
    ///
    /// # Errors
    ///
    /// [`Error::ExportNotFound`] when no page lists it, and the errors of
    /// [`exports`](Self::exports).
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
    /// [`Error::WaitTimeout`] when `options.timeout` passes, also in the middle of a poll.
    /// Errors worth retrying ([`Error::is_retryable`]) while polling are logged and polling
    /// goes on, after the interval or the rate limit's `Retry-After`, whichever is longer.
    pub fn watch_export(
        &self,
        i_model_id: &str,
        export_id: &str,
        options: WaitOptions,
    ) -> impl Stream<Item = Result<Export, Error>> + Send + 'static {
        let state = Watch {
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
                // The timeout bounds each poll too: a poll that hangs (a slow link, a server
                // that never answers) ends the wait at its deadline, not the HTTP client's.
                let left = s.options.timeout.saturating_sub(s.started.elapsed());
                let poll =
                    tokio::time::timeout(left, s.client.find_export(&s.i_model_id, &s.export_id));
                let mut wait = s.options.interval;
                match poll.await {
                    Err(_elapsed) => {
                        s.done = true;
                        return Some((Err(s.timed_out()), s));
                    }
                    Ok(Ok(export)) => {
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
                                        .as_deref()
                                        .map(http_policy::redact::quote)
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
                    Ok(Err(e)) if e.is_retryable() => {
                        // A rate limit's hint wins over the interval: polling sooner only
                        // earns another 429.
                        if let Some(hint) = e.retry_after() {
                            wait = wait.max(hint);
                        }
                        tracing::warn!(error = %e, export_id = %s.export_id, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "polling failed; will poll again");
                    }
                    Ok(Err(e)) => {
                        s.done = true;
                        return Some((Err(e), s));
                    }
                }
                let waited = s.started.elapsed();
                if waited
                    .checked_add(wait)
                    .is_none_or(|end| end > s.options.timeout)
                {
                    s.done = true;
                    return Some((Err(s.timed_out()), s));
                }
                tokio::time::sleep(wait).await;
            }
        })
    }

    /// Waits until the export is `Complete` and returns it (with `_links.mesh`).
    ///
    /// Fails with [`Error::ExportFailed`] (carrying the export's `error` text) if it ends
    /// `Invalid`, or [`Error::WaitTimeout`]. For progress, pass
    /// [`WaitOptions::on_status`] or use [`watch_export`](Self::watch_export).
    ///
    /// # Errors
    ///
    /// [`Error::ExportFailed`], [`Error::WaitTimeout`], [`Error::ExportNotFound`], and any error
    /// of a poll that is not worth retrying.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_the_limits_and_hides_the_callback() {
        let options = WaitOptions::default()
            .interval(Duration::from_millis(250))
            .timeout(Duration::from_secs(9))
            .on_status(|_| {});
        let text = format!("{options:?}");
        assert!(
            text.contains("interval: 250ms") && text.contains("timeout: 9s"),
            "{text}"
        );
        assert!(text.contains("on_status: Some(\"..\")"), "{text}");
    }
}
