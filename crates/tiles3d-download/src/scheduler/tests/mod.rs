use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::*;
use crate::errors::DownloadError;
use crate::limit::Outcome;
use crate::options::Concurrency;
use crate::store::manifest::ManifestEntry;
use crate::url::RefusalReason;

mod refusals;

const ROOT: &str = "https://blobs.example/c/export";

fn signed(signature: &str) -> TilesetUrl {
    TilesetUrl::from_root_href(&format!("{ROOT}?sv=1&sig={signature}")).unwrap()
}

fn options(concurrency: usize, max_resigns: u32) -> DownloadOptions {
    DownloadOptions {
        concurrency: Concurrency::Fixed(concurrency),
        max_resigns,
        ..DownloadOptions::default()
    }
}

/// A scheduler of the tileset at [`ROOT`] signed with `FIRST`, and the progress it reports.
fn scheduler(options: &DownloadOptions) -> (Scheduler, Arc<watch::Sender<Progress>>) {
    let progress = Arc::new(watch::channel(Progress::default()).0);
    let scheduler = Scheduler::new(signed("FIRST"), options, None, progress.clone());
    (scheduler, progress)
}

/// A file of `size` bytes that arrived, naming `names` (relative URIs).
fn arrived(started: &Started, size: u64, names: &[&str]) -> Fetched {
    Fetched {
        entry: ManifestEntry {
            path: started.file.path().to_string(),
            size,
            xxh3_128: "0".repeat(32),
        },
        skipped: false,
        received: size,
        load: Outcome::Ok,
        references: names
            .iter()
            .map(|uri| Reference {
                uri: (*uri).to_owned(),
                base: None,
                kind: None,
            })
            .collect(),
        problems: Vec::new(),
    }
}

/// Every file the scheduler starts now.
fn start_all(scheduler: &mut Scheduler) -> Vec<Started> {
    std::iter::from_fn(|| scheduler.next()).collect()
}

fn paths(started: &[Started]) -> Vec<&str> {
    started.iter().map(|s| s.file.path().as_str()).collect()
}

/// Starts the entry file, which must be the only one to start, and has it arrive naming
/// `names`.
fn entry_arrives_naming(scheduler: &mut Scheduler, names: &[&str]) {
    let entry = start_all(scheduler).pop().expect("the entry file starts");
    let fetched = arrived(&entry, 10, names);
    scheduler.fetched(entry, fetched);
}

/// Starts the one file queued and has the store refuse its signature.
fn start_and_refuse(scheduler: &mut Scheduler) -> Refusal {
    let started = scheduler.next().expect("a file to start");
    assert!(scheduler.next().is_none(), "one file at a time here");
    scheduler.refused(started, 403)
}

#[test]
fn next_follows_the_adaptive_limit_down_and_up() {
    let adaptive = DownloadOptions {
        concurrency: Concurrency::Adaptive { min: 2, max: 8 },
        ..DownloadOptions::default()
    };
    let (mut scheduler, progress) = scheduler(&adaptive);
    // It starts at 32 within its bounds: 8.
    assert_eq!(progress.borrow().concurrency, 8);
    let names: Vec<String> = (0..100).map(|i| format!("{i}.glb")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    entry_arrives_naming(&mut scheduler, &names);
    let t0 = std::time::Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut in_flight = start_all(&mut scheduler);
    assert_eq!(in_flight.len(), 8);
    // The store answers 503 to a file sent at 8 in flight: halved, and nothing starts until
    // fewer than four are in flight.
    let file = in_flight.remove(0);
    let sample = Sample {
        started: ms(0),
        ended: ms(1),
        bytes: 0,
        in_flight: 8,
        outcome: Outcome::Throttled,
    };
    scheduler.transferred(&sample);
    scheduler.failed(file, FileError::Status { status: 503 });
    assert_eq!(progress.borrow().concurrency, 4);
    assert_eq!(progress.borrow().concurrency_lowered, 1);
    for left in [6, 5, 4] {
        assert!(
            scheduler.next().is_none(),
            "{} in flight, 4 allowed",
            left + 1
        );
        let file = in_flight.remove(0);
        let fetched = arrived(&file, 1, &[]);
        scheduler.fetched(file, fetched);
        assert_eq!(in_flight.len(), left);
    }
    in_flight.extend(start_all(&mut scheduler));
    assert_eq!(in_flight.len(), 4);
    // Sixteen files sent after the backoff arrive at four in flight, each replaced as it
    // goes: a window that measures the new limit, and the climb steps up by one.
    for i in 0..16 {
        let file = in_flight.remove(0);
        let sample = Sample {
            started: ms(10 + i),
            ended: ms(11 + i),
            bytes: 1000,
            in_flight: 4,
            outcome: Outcome::Ok,
        };
        scheduler.transferred(&sample);
        let fetched = arrived(&file, 1000, &[]);
        scheduler.fetched(file, fetched);
        in_flight.extend(start_all(&mut scheduler));
        assert_eq!(in_flight.len(), if i < 15 { 4 } else { 5 }, "after {i}");
    }
    assert_eq!(progress.borrow().concurrency, 5);
}

#[test]
fn a_download_starts_with_its_entry_file_alone() {
    let (mut scheduler, progress) = scheduler(&options(8, 5));

    let started = start_all(&mut scheduler);

    assert_eq!(paths(&started), ["tileset.json"]);
    assert!(started[0].file.url().as_str().ends_with("sig=FIRST"));
    assert_eq!(scheduler.in_flight(), 1);
    assert_eq!(progress.borrow().files_total_known, 1);
}

#[test]
fn a_file_naming_two_others_queues_each_once() {
    let (mut scheduler, progress) = scheduler(&options(8, 5));

    entry_arrives_naming(&mut scheduler, &["a.glb", "b.glb", "a.glb", "./b.glb"]);
    let started = start_all(&mut scheduler);

    assert_eq!(paths(&started), ["a.glb", "b.glb"]);
    assert_eq!(progress.borrow().files_total_known, 3);
    // Named again by another file: still only once.
    let mut started = started.into_iter();
    let a = started.next().unwrap();
    let fetched = arrived(&a, 1, &["b.glb", "tileset.json"]);
    scheduler.fetched(a, fetched);
    assert!(scheduler.next().is_none());
    assert_eq!(progress.borrow().files_total_known, 3);
}

#[test]
fn tilesets_are_started_before_the_leaves_queued_ahead_of_them() {
    let (mut scheduler, _) = scheduler(&options(8, 5));

    entry_arrives_naming(&mut scheduler, &["a.glb", "b.b3dm", "child/tileset.json"]);

    assert_eq!(
        paths(&start_all(&mut scheduler)),
        ["child/tileset.json", "a.glb", "b.b3dm"]
    );
}

#[test]
fn no_more_files_than_the_concurrency_are_in_flight() {
    let (mut scheduler, _) = scheduler(&options(2, 5));
    entry_arrives_naming(&mut scheduler, &["a.glb", "b.glb", "c.glb"]);

    let mut started = start_all(&mut scheduler);
    assert_eq!(paths(&started), ["a.glb", "b.glb"]);
    assert_eq!(scheduler.in_flight(), 2);

    let a = started.remove(0);
    let fetched = arrived(&a, 1, &[]);
    scheduler.fetched(a, fetched);
    assert_eq!(paths(&start_all(&mut scheduler)), ["c.glb"]);
    assert_eq!(scheduler.in_flight(), 2);
}

#[test]
fn a_uri_that_leaves_the_root_is_refused_counted_and_makes_the_result_incomplete() {
    let (mut scheduler, progress) = scheduler(&options(8, 5));

    entry_arrives_naming(&mut scheduler, &["../outside.glb", "a.glb", "A.glb"]);
    let started = start_all(&mut scheduler);

    assert_eq!(paths(&started), ["a.glb"]);
    assert_eq!(progress.borrow().refused, 2);
    for a in started {
        let fetched = arrived(&a, 1, &[]);
        scheduler.fetched(a, fetched);
    }
    let finished = scheduler.finish();
    let reasons: Vec<_> = finished.refused.iter().map(|r| r.reason.clone()).collect();
    assert_eq!(
        reasons,
        [
            RefusalReason::EscapesRoot,
            RefusalReason::CaseCollision("a.glb".to_owned())
        ]
    );
    assert!(!finished.complete());
    assert_eq!(finished.missing.len(), 2);
    assert_eq!(finished.missing[0].in_file.as_deref(), Some("tileset.json"));
    let result = finished.into_result(Path::new("out"), &Progress::default(), Duration::ZERO);
    let Err(DownloadError::Incomplete { failures, summary }) = result else {
        panic!("a refused URI makes the download incomplete");
    };
    assert!(failures.is_empty());
    assert_eq!((summary.files, summary.refused.len()), (2, 2));
}

#[test]
fn a_failure_makes_the_result_incomplete_with_everything_else_kept() {
    let (mut scheduler, progress) = scheduler(&options(8, 5));
    entry_arrives_naming(&mut scheduler, &["b.glb", "a.glb"]);
    let mut started = start_all(&mut scheduler).into_iter();
    let (b, a) = (started.next().unwrap(), started.next().unwrap());

    scheduler.failed(b, FileError::Status { status: 404 });
    // A failure other than a write error stops nothing.
    let fetched = arrived(&a, 5, &["c.glb"]);
    scheduler.fetched(a, fetched);
    let c = scheduler.next().expect("the download goes on");
    let fetched = arrived(&c, 7, &[]);
    scheduler.fetched(c, fetched);
    assert_eq!(progress.borrow().failed, 1);

    let finished = scheduler.finish();
    assert!(!finished.complete());
    let kept: Vec<&str> = finished.entries.iter().map(|(p, _)| &**p).collect();
    assert_eq!(kept, ["a.glb", "c.glb", "tileset.json"]);
    assert_eq!(finished.missing.len(), 1);
    assert_eq!(finished.missing[0].what, "b.glb");
    let result = finished.into_result(Path::new("out"), &Progress::default(), Duration::ZERO);
    let Err(DownloadError::Incomplete { failures, summary }) = result else {
        panic!("a failed file makes the download incomplete");
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].path.as_str(), "b.glb");
    assert_eq!(failures[0].error, FileError::Status { status: 404 });
    assert_eq!((summary.files, summary.bytes), (3, 22));
}

#[test]
fn after_a_write_error_nothing_starts_and_the_queued_files_are_not_attempted() {
    let (mut scheduler, progress) = scheduler(&options(1, 5));
    entry_arrives_naming(&mut scheduler, &["a.glb", "b.glb"]);
    let a = scheduler.next().unwrap();

    scheduler.failed(a, FileError::Write("disk full".to_owned()));

    assert!(scheduler.next().is_none());
    let finished = scheduler.finish();
    let failures: Vec<_> = finished
        .failures
        .iter()
        .map(|f| (f.path.as_str(), f.error.clone()))
        .collect();
    assert_eq!(
        failures,
        [
            ("a.glb", FileError::Write("disk full".to_owned())),
            (
                "b.glb",
                FileError::NotAttempted("an earlier write to disk failed".to_owned())
            ),
        ]
    );
    assert_eq!(progress.borrow().failed, 2);
}

#[test]
fn what_a_file_names_but_cannot_be_read_is_a_failure_while_the_file_is_kept() {
    let (mut scheduler, progress) = scheduler(&options(8, 5));
    let entry = scheduler.next().unwrap();
    let mut fetched = arrived(&entry, 10, &[]);
    fetched.problems.push(FileError::Unsupported {
        uri: "{level}.subtree".to_owned(),
        reason: "an unknown template variable".to_owned(),
    });

    scheduler.fetched(entry, fetched);

    let finished = scheduler.finish();
    assert_eq!(finished.entries.len(), 1);
    assert_eq!(finished.failures.len(), 1);
    assert_eq!(finished.failures[0].path.as_str(), "tileset.json");
    assert_eq!(progress.borrow().failed, 1);
}

#[test]
fn a_complete_download_sums_its_files_and_tells_skipped_from_downloaded() {
    let (mut scheduler, progress) = scheduler(&options(8, 5));
    let entry = scheduler.next().unwrap();
    let mut fetched = arrived(&entry, 10, &["a.glb"]);
    fetched.skipped = true;
    scheduler.fetched(entry, fetched);
    let a = scheduler.next().unwrap();
    let mut fetched = arrived(&a, 5, &[]);
    // Sent gzipped: four bytes on the wire for five on disk.
    fetched.received = 4;
    scheduler.fetched(a, fetched);
    progress.send_modify(|p| p.retries = 3);

    let finished = scheduler.finish();
    assert!(finished.complete());
    assert!(finished.missing.is_empty());
    assert_eq!(finished.dirs.len(), 1);
    let progress = progress.borrow().clone();
    let summary = finished
        .into_result(Path::new("out"), &progress, Duration::from_secs(2))
        .unwrap();

    assert_eq!((summary.files, summary.bytes), (2, 15));
    assert_eq!((summary.downloaded_files, summary.downloaded_bytes), (1, 4));
    assert_eq!((summary.skipped, summary.retries), (1, 3));
    assert_eq!(summary.tileset, Path::new("out").join("tileset.json"));
    assert_eq!(summary.manifest, Path::new("out").join("manifest.json"));
    assert_eq!(summary.elapsed, Duration::from_secs(2));
}

#[test]
fn past_max_files_nothing_more_is_claimed_and_the_file_naming_them_fails_once() {
    let options = DownloadOptions {
        max_files: 3,
        ..options(8, 5)
    };
    let (mut scheduler, progress) = scheduler(&options);

    // The entry and two more fill the bound; a name already claimed is still fine.
    entry_arrives_naming(
        &mut scheduler,
        &["a.glb", "b.glb", "c.glb", "d.glb", "a.glb"],
    );
    let started = start_all(&mut scheduler);

    assert_eq!(paths(&started), ["a.glb", "b.glb"]);
    assert_eq!(progress.borrow().files_total_known, 3);
    for file in started {
        let fetched = arrived(&file, 1, &[]);
        scheduler.fetched(file, fetched);
    }
    let finished = scheduler.finish();
    assert_eq!(finished.failures.len(), 1);
    assert_eq!(finished.failures[0].path.as_str(), "tileset.json");
    assert_eq!(
        finished.failures[0].error,
        FileError::TooManyFiles {
            named: 2,
            max_files: 3
        }
    );
    assert!(
        finished.failures[0]
            .error
            .to_string()
            .contains("raise DownloadOptions::max_files")
    );
}
