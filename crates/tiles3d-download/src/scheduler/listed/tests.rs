//! The listing's transitions, without a network: prefetches taken by the walk, the walk
//! checked against the listing, and the files the tileset does not name.

use std::sync::Arc;

use tokio::sync::watch;

use super::super::{Scheduler, Started};
use crate::errors::FileError;
use crate::limit::Outcome;
use crate::listing::{ListedFile, Listing};
use crate::options::{Concurrency, DownloadOptions, Progress};
use crate::store::manifest::ManifestEntry;
use crate::transfer::Fetched;
use crate::url::TilesetUrl;
use tiles3d::TilePath;
use tiles3d::walk::Reference;

fn listing(names: &[&str]) -> Listing {
    let mut files: Vec<ListedFile> = names
        .iter()
        .map(|name| ListedFile {
            path: TilePath::parse(name).unwrap(),
            size: 1,
            prefetch: name.ends_with(".glb"),
        })
        .collect();
    files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    Listing { files, unusable: 0 }
}

fn scheduler(names: &[&str], all_files: bool) -> Scheduler {
    let tileset = TilesetUrl::from_root_href("https://blobs.example/c?sig=S").unwrap();
    let options = DownloadOptions {
        concurrency: Concurrency::Fixed(2),
        all_files,
        ..DownloadOptions::default()
    };
    let progress = Arc::new(watch::channel(Progress::default()).0);
    Scheduler::new(tileset, &options, Some(listing(names)), progress)
}

fn arrived(started: &Started, names: &[&str]) -> Fetched {
    Fetched {
        entry: ManifestEntry {
            path: started.file.path().to_string(),
            size: 1,
            xxh3_128: "0".repeat(32),
        },
        skipped: false,
        received: 1,
        references: (names.iter())
            .map(|uri| Reference {
                uri: (*uri).to_owned(),
                base: None,
                kind: None,
            })
            .collect(),
        problems: Vec::new(),
        load: Outcome::Ok,
    }
}

fn start_all(scheduler: &mut Scheduler) -> Vec<Started> {
    std::iter::from_fn(|| scheduler.next()).collect()
}

fn paths(started: &[Started]) -> Vec<&str> {
    started.iter().map(|s| s.file.path().as_str()).collect()
}

/// Has `started` arrive naming nothing.
fn arrive(scheduler: &mut Scheduler, started: Started) {
    let fetched = arrived(&started, &[]);
    scheduler.fetched(started, fetched);
}

#[test]
fn listed_tiles_start_beside_the_entry_and_are_not_fetched_again_when_named() {
    let mut scheduler = scheduler(&["tileset.json", "a.glb", "b.glb"], false);

    let mut started = start_all(&mut scheduler);
    assert_eq!(
        paths(&started),
        ["tileset.json", "a.glb"],
        "a slot is not left idle"
    );
    let a = started.pop().unwrap();
    arrive(&mut scheduler, a);
    let entry = started.pop().unwrap();
    let fetched = arrived(&entry, &["a.glb", "b.glb"]);
    scheduler.fetched(entry, fetched);
    let started = start_all(&mut scheduler);

    assert_eq!(paths(&started), ["b.glb"], "a.glb arrived already");
    for file in started {
        arrive(&mut scheduler, file);
    }
    assert!(scheduler.next().is_none());
    let finished = scheduler.finish();
    assert!(finished.complete());
    let done: Vec<&str> = finished.entries.iter().map(|(p, _)| &**p).collect();
    assert_eq!(done, ["a.glb", "b.glb", "tileset.json"]);
    assert!(finished.listed.unwrap().remove.is_empty());
}

#[test]
fn a_file_named_while_its_prefetch_is_in_flight_is_taken_when_it_arrives() {
    let mut scheduler = scheduler(&["tileset.json", "a.glb"], false);
    let mut started = start_all(&mut scheduler);
    let (a, entry) = (started.pop().unwrap(), started.pop().unwrap());

    let fetched = arrived(&entry, &["a.glb"]);
    scheduler.fetched(entry, fetched);
    assert!(scheduler.next().is_none(), "a.glb is in flight already");
    arrive(&mut scheduler, a);

    let finished = scheduler.finish();
    assert!(finished.complete());
    assert_eq!(finished.entries.len(), 2);
}

#[test]
fn a_failed_prefetch_of_a_named_file_is_fetched_by_the_walk() {
    let mut scheduler = scheduler(&["tileset.json", "a.glb"], false);
    let mut started = start_all(&mut scheduler);
    let (a, entry) = (started.pop().unwrap(), started.pop().unwrap());
    let fetched = arrived(&entry, &["a.glb"]);
    scheduler.fetched(entry, fetched);

    scheduler.failed(a, FileError::Status { status: 500 });
    let again = start_all(&mut scheduler);

    assert_eq!(paths(&again), ["a.glb"]);
    scheduler.failed(
        again.into_iter().next().unwrap(),
        FileError::Status { status: 500 },
    );
    let finished = scheduler.finish();
    assert_eq!(
        finished.failures.len(),
        1,
        "the walk's failure counts, once"
    );
}

#[test]
fn a_named_file_the_listing_lacks_fails_at_once_without_a_request() {
    let mut scheduler = scheduler(&["tileset.json"], false);
    let entry = start_all(&mut scheduler).pop().unwrap();

    let fetched = arrived(&entry, &["gone.glb", "gone.glb"]);
    scheduler.fetched(entry, fetched);

    assert!(scheduler.next().is_none());
    let finished = scheduler.finish();
    assert_eq!(finished.failures.len(), 1);
    assert_eq!(finished.failures[0].path.as_str(), "gone.glb");
    assert_eq!(finished.failures[0].error, FileError::NotListed);
}

#[test]
fn prefetched_files_the_tileset_does_not_name_are_removed_and_counted() {
    let mut scheduler = scheduler(&["tileset.json", "a.glb", "old.glb", "notes.txt"], false);
    let started = start_all(&mut scheduler);
    assert_eq!(paths(&started), ["tileset.json", "a.glb"]);
    let mut started = started.into_iter();
    let (entry, a) = (started.next().unwrap(), started.next().unwrap());
    arrive(&mut scheduler, a);
    let fetched = arrived(&entry, &["a.glb"]);
    scheduler.fetched(entry, fetched);
    // The walk is over: the candidate left (old.glb) is not started.
    assert!(scheduler.next().is_none());

    let finished = scheduler.finish();
    let listed = finished.listed.as_ref().unwrap();
    assert_eq!((listed.unnamed, listed.mirrored), (2, 0));
    assert!(listed.remove.is_empty(), "old.glb was never fetched");
    assert_eq!(finished.entries.len(), 2);
}

#[test]
fn a_prefetch_the_walk_never_names_is_removed_not_recorded() {
    let mut scheduler = scheduler(&["tileset.json", "old.glb"], false);
    let mut started = start_all(&mut scheduler);
    let (old, entry) = (started.pop().unwrap(), started.pop().unwrap());
    arrive(&mut scheduler, old);
    arrive(&mut scheduler, entry);

    let finished = scheduler.finish();

    let paths: Vec<&str> = (finished.listed.as_ref().unwrap().remove.iter())
        .map(TilePath::as_str)
        .collect();
    assert_eq!(paths, ["old.glb"]);
    assert_eq!(finished.entries.len(), 1, "only the tileset is recorded");
}

#[test]
fn all_files_mirrors_what_the_tileset_does_not_name_once_the_walk_is_over() {
    let mut scheduler = scheduler(&["tileset.json", "old.glb", "notes.txt"], true);
    let mut started = start_all(&mut scheduler);
    let (old, entry) = (started.pop().unwrap(), started.pop().unwrap());
    arrive(&mut scheduler, old);
    arrive(&mut scheduler, entry);

    let mirrored = start_all(&mut scheduler);
    assert_eq!(paths(&mirrored), ["notes.txt"]);
    for file in mirrored {
        let fetched = arrived(&file, &["not-followed.glb"]);
        scheduler.fetched(file, fetched);
    }
    assert!(
        scheduler.next().is_none(),
        "what a mirrored file names is not followed"
    );

    let finished = scheduler.finish();
    assert!(finished.complete());
    let listed = finished.listed.as_ref().unwrap();
    assert_eq!((listed.unnamed, listed.mirrored), (2, 2));
    assert!(listed.remove.is_empty());
    let done: Vec<&str> = finished.entries.iter().map(|(p, _)| &**p).collect();
    assert_eq!(done, ["notes.txt", "old.glb", "tileset.json"]);
}
