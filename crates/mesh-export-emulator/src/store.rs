//! The exports the emulator remembers, and where each one stands at a given moment.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use mesh_export_client::types::{ExportRequest, ExportStatus, ExportType};
use tokio::time::Instant;

/// The service keeps about this many exports per iModel and deletes older ones.
pub(crate) const MAX_EXPORTS_PER_IMODEL: usize = 5;

/// One export job as the emulator remembers it. Its status is computed from its age.
#[derive(Debug, Clone)]
pub(crate) struct ExportRecord {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) imodel_id: String,
    pub(crate) changeset_id: String,
    /// The changeset's place in its iModel's history: get-exports lists the newest first.
    pub(crate) changeset_index: u64,
    pub(crate) itwin_id: String,
    pub(crate) export_type: String,
    pub(crate) started_wall: DateTime<Utc>,
    pub(crate) started: Instant,
    pub(crate) fails: bool,
}

/// What start-export asked for: the fields of a new [`ExportRecord`] the caller chooses.
#[derive(Debug, Clone)]
pub(crate) struct NewExport {
    pub(crate) imodel_id: String,
    pub(crate) itwin_id: String,
    /// The iModel's known changesets, oldest first.
    pub(crate) known_changesets: Vec<String>,
    pub(crate) changeset_id: String,
    pub(crate) export_type: String,
    pub(crate) fails: bool,
}

/// All exports, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) exports: Vec<ExportRecord>,
    next_seq: u64,
    /// Per iModel, the changesets not configured, in the order first asked for.
    unknown_changesets: HashMap<String, Vec<String>>,
}

impl Store {
    pub(crate) fn get(&self, id: &str) -> Option<&ExportRecord> {
        self.exports.iter().find(|e| e.id == id)
    }

    /// How many exports of `imodel_id` exist (automatic clean-up included).
    pub(crate) fn count_of(&self, imodel_id: &str) -> usize {
        self.exports
            .iter()
            .filter(|e| e.imodel_id == imodel_id)
            .count()
    }

    /// Records a new export started now, and removes the oldest of its iModel beyond
    /// [`MAX_EXPORTS_PER_IMODEL`], like the service.
    pub(crate) fn insert(&mut self, new: NewExport) -> ExportRecord {
        let seq = self.next_seq;
        self.next_seq += 1;
        let changeset_index =
            self.changeset_index(&new.imodel_id, &new.changeset_id, &new.known_changesets);
        let record = ExportRecord {
            id: uuid::Uuid::new_v4().to_string(),
            seq,
            imodel_id: new.imodel_id,
            changeset_id: new.changeset_id,
            changeset_index,
            itwin_id: new.itwin_id,
            export_type: new.export_type,
            started_wall: Utc::now().trunc_subsecs(3),
            started: Instant::now(),
            fails: new.fails,
        };
        self.exports.push(record.clone());
        let of_imodel: Vec<String> = self
            .exports
            .iter()
            .filter(|e| e.imodel_id == record.imodel_id)
            .map(|e| e.id.clone())
            .collect();
        if of_imodel.len() > MAX_EXPORTS_PER_IMODEL {
            let evict = &of_imodel[..of_imodel.len() - MAX_EXPORTS_PER_IMODEL];
            self.exports.retain(|e| !evict.contains(&e.id));
            tracing::info!(imodel_id = %record.imodel_id, evicted = evict.len(), "old exports removed");
        }
        record
    }

    /// The index of `changeset` in the history of `imodel_id`: its place among the known
    /// changesets (an empty id is the latest of them), or, for one the emulator was not told
    /// about, a place after all of them in the order first asked for.
    fn changeset_index(&mut self, imodel_id: &str, changeset: &str, known: &[String]) -> u64 {
        if changeset.is_empty() && !known.is_empty() {
            return known.len() as u64;
        }
        if let Some(place) = known.iter().position(|c| c == changeset) {
            return place as u64 + 1;
        }
        let unknown = self
            .unknown_changesets
            .entry(imodel_id.to_owned())
            .or_default();
        let place = unknown
            .iter()
            .position(|c| c == changeset)
            .unwrap_or_else(|| {
                unknown.push(changeset.to_owned());
                unknown.len() - 1
            });
        (known.len() + place + 1) as u64
    }

    /// Whether `id` names an export that is `Complete` now (its tiles can be served).
    pub(crate) fn is_complete(&self, id: &str, duration: Duration) -> bool {
        self.get(id).is_some_and(|record| {
            record.snapshot(Instant::now(), duration).status == ExportStatus::Complete
        })
    }
}

/// Where an export stands at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) status: ExportStatus,
    pub(crate) last_modified: DateTime<Utc>,
}

impl ExportRecord {
    /// The status now: `NotStarted` for the first fifth of the export duration, then
    /// `InProgress`, then `Complete` (or `Invalid` for iModels told to fail).
    pub(crate) fn snapshot(&self, now: Instant, duration: Duration) -> Snapshot {
        let elapsed = now.saturating_duration_since(self.started);
        let queued = duration / 5;
        let (status, since) = if elapsed >= duration {
            let done = if self.fails {
                ExportStatus::Invalid
            } else {
                ExportStatus::Complete
            };
            (done, duration)
        } else if elapsed >= queued && !queued.is_zero() {
            (ExportStatus::InProgress, queued)
        } else {
            (ExportStatus::NotStarted, Duration::ZERO)
        };
        let offset = chrono::Duration::from_std(since).unwrap_or(chrono::TimeDelta::MAX);
        Snapshot {
            status,
            last_modified: (self.started_wall + offset).trunc_subsecs(3),
        }
    }

    /// The `request` object of the full representation: what the export was started with.
    pub(crate) fn request(&self) -> ExportRequest {
        ExportRequest {
            i_model_id: Some(self.imodel_id.clone()),
            changeset_id: Some(self.changeset_id.clone()),
            i_twin_id: Some(self.itwin_id.clone()),
            export_type: Some(ExportType::from(self.export_type.as_str())),
            last_modified: Some(service_timestamp(self.started_wall)),
            ..ExportRequest::default()
        }
    }

    pub(crate) fn display_name(&self) -> String {
        format!("iModel {}", self.imodel_id)
    }
}

/// A time as the service has been seen to write it: seven fraction digits and `+00:00`
/// (`2024-08-22T03:18:43.1230000+00:00`), which the spec types as a plain string.
pub(crate) fn service_timestamp(time: DateTime<Utc>) -> String {
    format!("{}0000+00:00", time.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fails: bool) -> ExportRecord {
        ExportRecord {
            id: "e".into(),
            seq: 0,
            imodel_id: "m".into(),
            changeset_id: String::new(),
            changeset_index: 1,
            itwin_id: "t".into(),
            export_type: "3DTiles".into(),
            started_wall: Utc::now(),
            started: Instant::now(),
            fails,
        }
    }

    #[test]
    fn status_follows_the_fifths_of_the_duration() {
        let r = record(false);
        let d = Duration::from_secs(10);
        assert_eq!(r.snapshot(r.started, d).status, ExportStatus::NotStarted);
        let at = |s| r.started + Duration::from_secs(s);
        assert_eq!(r.snapshot(at(2), d).status, ExportStatus::InProgress);
        assert_eq!(r.snapshot(at(9), d).status, ExportStatus::InProgress);
        assert_eq!(r.snapshot(at(10), d).status, ExportStatus::Complete);
        let failing = record(true);
        let at = failing.started + d;
        assert_eq!(failing.snapshot(at, d).status, ExportStatus::Invalid);
    }

    #[test]
    fn changesets_are_indexed_by_their_place_in_the_history() {
        let mut store = Store::default();
        let known = ["c1".to_owned(), "c2".to_owned()];
        assert_eq!(store.changeset_index("m", "c2", &known), 2);
        assert_eq!(store.changeset_index("m", "c1", &known), 1);
        assert_eq!(store.changeset_index("m", "", &known), 2);
        assert_eq!(store.changeset_index("m", "x", &known), 3);
        assert_eq!(store.changeset_index("m", "y", &known), 4);
        assert_eq!(store.changeset_index("m", "x", &known), 3);
        assert_eq!(store.changeset_index("other", "", &[]), 1);
    }

    #[test]
    fn zero_duration_completes_at_once() {
        let r = record(false);
        assert_eq!(
            r.snapshot(r.started, Duration::ZERO).status,
            ExportStatus::Complete
        );
    }
}
