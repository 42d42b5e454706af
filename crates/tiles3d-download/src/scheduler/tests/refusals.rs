//! Refused signatures and refused paths: renewals, their budget, and a file refused alone.

use super::*;

/// Has `started` arrive naming nothing.
#[test]
fn a_refused_signature_is_renewed_and_the_file_starts_again_with_the_fresh_one() {
    let (mut scheduler, progress) = scheduler(&options(8, 5));

    let refusal = start_and_refuse(&mut scheduler);
    assert!(matches!(refusal, Refusal::AskForFreshSignature));
    assert_eq!(scheduler.in_flight(), 0);
    scheduler.resigned(Some(signed("SECOND"))).unwrap();

    let started = start_all(&mut scheduler);
    assert_eq!(paths(&started), ["tileset.json"]);
    assert!(started[0].file.url().as_str().ends_with("sig=SECOND"));
    assert_eq!(progress.borrow().resigns, 1);
}

#[test]
fn a_refusal_after_max_resigns_in_a_row_ends_with_signature_rejected() {
    let (mut scheduler, progress) = scheduler(&options(8, 2));

    for signature in ["SECOND", "THIRD"] {
        let refusal = start_and_refuse(&mut scheduler);
        assert!(matches!(refusal, Refusal::AskForFreshSignature));
        scheduler.resigned(Some(signed(signature))).unwrap();
    }
    let refusal = start_and_refuse(&mut scheduler);

    let Refusal::Stop(DownloadError::SignatureRejected { status, path }) = refusal else {
        panic!("expected the end of the download, got {refusal:?}");
    };
    assert_eq!((status, path.as_str()), (403, "tileset.json"));
    assert_eq!(progress.borrow().resigns, 2);
}

#[test]
fn a_file_that_arrives_after_a_resign_resets_the_count() {
    let (mut scheduler, _) = scheduler(&options(8, 1));
    assert!(matches!(
        start_and_refuse(&mut scheduler),
        Refusal::AskForFreshSignature
    ));
    scheduler.resigned(Some(signed("SECOND"))).unwrap();

    entry_arrives_naming(&mut scheduler, &["a.glb"]);

    assert!(matches!(
        start_and_refuse(&mut scheduler),
        Refusal::AskForFreshSignature
    ));
}

#[test]
fn a_file_found_on_disk_after_a_resign_does_not_reset_the_count() {
    let (mut scheduler, _) = scheduler(&options(8, 1));
    assert!(matches!(
        start_and_refuse(&mut scheduler),
        Refusal::AskForFreshSignature
    ));
    scheduler.resigned(Some(signed("SECOND"))).unwrap();

    let entry = scheduler.next().unwrap();
    let mut fetched = arrived(&entry, 10, &["a.glb"]);
    fetched.skipped = true;
    scheduler.fetched(entry, fetched);

    assert!(matches!(
        start_and_refuse(&mut scheduler),
        Refusal::Stop(DownloadError::SignatureRejected { .. })
    ));
}

#[test]
fn a_file_refused_with_an_older_signature_is_queued_again_without_a_resign() {
    let (mut scheduler, progress) = scheduler(&options(8, 5));
    entry_arrives_naming(&mut scheduler, &["a.glb", "b.glb"]);
    let mut started = start_all(&mut scheduler).into_iter();
    let (a, b) = (started.next().unwrap(), started.next().unwrap());

    assert!(matches!(
        scheduler.refused(a, 403),
        Refusal::AskForFreshSignature
    ));
    scheduler.resigned(Some(signed("SECOND"))).unwrap();
    assert!(matches!(scheduler.refused(b, 403), Refusal::Requeued));

    let started = start_all(&mut scheduler);
    assert_eq!(paths(&started), ["b.glb", "a.glb"]);
    assert!(
        started
            .iter()
            .all(|s| s.file.url().as_str().ends_with("sig=SECOND"))
    );
    assert_eq!(progress.borrow().resigns, 1);
}

#[test]
fn no_fresh_signature_or_one_for_another_root_ends_with_signature_rejected() {
    let other_root = TilesetUrl::from_root_href("https://blobs.example/c/other?sig=X").unwrap();
    for fresh in [None, Some(other_root)] {
        let (mut scheduler, progress) = scheduler(&options(8, 5));
        assert!(matches!(
            start_and_refuse(&mut scheduler),
            Refusal::AskForFreshSignature
        ));

        let ended = scheduler.resigned(fresh);

        let Err(DownloadError::SignatureRejected { status, path }) = ended else {
            panic!("expected the end of the download, got {ended:?}");
        };
        assert_eq!((status, path.as_str()), (403, "tileset.json"));
        assert_eq!(progress.borrow().resigns, 0);
    }
}

fn arrives(scheduler: &mut Scheduler, started: Started) {
    let fetched = arrived(&started, 1, &[]);
    scheduler.fetched(started, fetched);
}

/// `count` leaf names, `f0.glb` on.
fn leaves(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("f{i}.glb")).collect()
}

fn failures_of(finished: &Finished) -> Vec<(&str, FileError)> {
    finished
        .failures
        .iter()
        .map(|f| (f.path.as_str(), f.error.clone()))
        .collect()
}

#[test]
fn a_file_refused_again_with_a_fresh_signature_while_later_files_arrive_fails_alone() {
    let (mut scheduler, progress) = scheduler(&options(2, 5));
    entry_arrives_naming(&mut scheduler, &["a.glb", "b.glb", "c.glb", "d.glb"]);
    let mut started = start_all(&mut scheduler).into_iter();
    let (a, b) = (started.next().unwrap(), started.next().unwrap());
    assert!(matches!(
        scheduler.refused(b, 403),
        Refusal::AskForFreshSignature
    ));
    scheduler.resigned(Some(signed("SECOND"))).unwrap();
    let b = scheduler.next().unwrap();
    assert_eq!(b.file.path().as_str(), "b.glb");

    assert!(matches!(scheduler.refused(b, 403), Refusal::Held));
    let c = scheduler.next().unwrap();
    arrives(&mut scheduler, c);
    arrives(&mut scheduler, a);
    let d = scheduler.next().unwrap();
    arrives(&mut scheduler, d);
    assert!(scheduler.next().is_none());
    assert!(scheduler.settle().is_none());

    let finished = scheduler.finish();
    assert_eq!(
        failures_of(&finished),
        [("b.glb", FileError::Forbidden { status: 403 })]
    );
    let kept: Vec<&str> = finished.entries.iter().map(|(p, _)| &**p).collect();
    assert_eq!(kept, ["a.glb", "c.glb", "d.glb", "tileset.json"]);
    assert_eq!(progress.borrow().resigns, 1);
    let result = finished.into_result(Path::new("out"), &Progress::default(), Duration::ZERO);
    let Err(DownloadError::Incomplete { failures, .. }) = result else {
        panic!("a refused file makes the download incomplete");
    };
    let shown = failures[0].to_string();
    assert!(
        shown.contains("b.glb") && shown.contains("accepts"),
        "{shown}"
    );
}

#[test]
fn after_a_fresh_signature_a_path_refused_twice_while_later_files_arrive_fails_without_another_one()
{
    let (mut scheduler, progress) = scheduler(&options(1, 5));
    entry_arrives_naming(
        &mut scheduler,
        &["a.glb", "b.glb", "c.glb", "d.glb", "e.glb"],
    );
    assert!(matches!(
        start_and_refuse(&mut scheduler),
        Refusal::AskForFreshSignature
    ));
    scheduler.resigned(Some(signed("SECOND"))).unwrap();
    // a, refused with the fresh signature while a later file arrives with it.
    assert!(matches!(start_and_refuse(&mut scheduler), Refusal::Held));
    let b = scheduler.next().unwrap();
    arrives(&mut scheduler, b);

    // c, refused once with the signature that works, is sent once more with it.
    assert!(matches!(start_and_refuse(&mut scheduler), Refusal::Held));
    let d = scheduler.next().unwrap();
    assert_eq!(d.file.path().as_str(), "d.glb");
    arrives(&mut scheduler, d);
    let again = scheduler.next().unwrap();
    assert_eq!(again.file.path().as_str(), "c.glb");
    assert!(matches!(scheduler.refused(again, 403), Refusal::Held));
    let e = scheduler.next().unwrap();
    arrives(&mut scheduler, e);

    assert!(scheduler.next().is_none());
    assert!(scheduler.settle().is_none());
    let finished = scheduler.finish();
    assert_eq!(
        failures_of(&finished),
        [
            ("a.glb", FileError::Forbidden { status: 403 }),
            ("c.glb", FileError::Forbidden { status: 403 })
        ]
    );
    assert_eq!(progress.borrow().resigns, 1);
}

#[test]
fn files_started_after_a_held_refusal_and_refused_too_ask_for_a_fresh_signature() {
    let (mut scheduler, progress) = scheduler(&options(1, 5));
    let names = leaves(12);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    entry_arrives_naming(&mut scheduler, &names);
    assert!(matches!(
        start_and_refuse(&mut scheduler),
        Refusal::AskForFreshSignature
    ));
    scheduler.resigned(Some(signed("SECOND"))).unwrap();
    let f0 = scheduler.next().unwrap();
    arrives(&mut scheduler, f0);

    // f1 is held; f2 to f8 started after it and were refused too: not yet enough.
    for _ in 1..=8 {
        assert!(matches!(start_and_refuse(&mut scheduler), Refusal::Held));
    }
    let refusal = start_and_refuse(&mut scheduler);

    assert!(
        matches!(refusal, Refusal::AskForFreshSignature),
        "{refusal:?}"
    );
    scheduler.resigned(Some(signed("THIRD"))).unwrap();
    let again = scheduler.next().unwrap();
    assert_eq!(again.file.path().as_str(), "f1.glb");
    assert!(again.file.url().as_str().ends_with("sig=THIRD"));
    assert_eq!(progress.borrow().resigns, 2);
}

#[test]
fn without_a_fresh_signature_a_file_refused_twice_while_later_ones_arrive_fails() {
    let (mut scheduler, progress) = scheduler(&options(1, 5));
    entry_arrives_naming(&mut scheduler, &["a.glb", "b.glb", "c.glb"]);
    assert!(matches!(
        start_and_refuse(&mut scheduler),
        Refusal::AskForFreshSignature
    ));

    scheduler.resigned(None).unwrap();
    let b = scheduler.next().unwrap();
    arrives(&mut scheduler, b);
    // Sent once more with the signature the store took for b.
    let again = scheduler.next().unwrap();
    assert_eq!(again.file.path().as_str(), "a.glb");
    assert!(matches!(scheduler.refused(again, 403), Refusal::Held));
    let c = scheduler.next().unwrap();
    arrives(&mut scheduler, c);

    assert!(scheduler.settle().is_none());
    let finished = scheduler.finish();
    assert_eq!(
        failures_of(&finished),
        [("a.glb", FileError::Forbidden { status: 403 })]
    );
    assert_eq!(progress.borrow().resigns, 0);
}

#[test]
fn a_file_refused_once_while_later_ones_arrive_is_sent_once_more_and_kept() {
    let (mut scheduler, _) = scheduler(&options(1, 5));
    entry_arrives_naming(&mut scheduler, &["a.glb", "b.glb", "c.glb"]);
    assert!(matches!(
        start_and_refuse(&mut scheduler),
        Refusal::AskForFreshSignature
    ));
    scheduler.resigned(Some(signed("SECOND"))).unwrap();
    let a = scheduler.next().unwrap();
    arrives(&mut scheduler, a);

    assert!(matches!(start_and_refuse(&mut scheduler), Refusal::Held));
    let c = scheduler.next().unwrap();
    arrives(&mut scheduler, c);
    let again = scheduler.next().unwrap();
    assert_eq!(again.file.path().as_str(), "b.glb");
    arrives(&mut scheduler, again);

    let finished = scheduler.finish();
    assert!(finished.complete());
    assert_eq!(finished.entries.len(), 4);
}

#[test]
fn without_a_fresh_signature_refusals_of_later_files_stop_with_everything_listed() {
    let (mut scheduler, _) = scheduler(&options(1, 5));
    let names = leaves(11);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    entry_arrives_naming(&mut scheduler, &names);
    assert!(matches!(
        start_and_refuse(&mut scheduler),
        Refusal::AskForFreshSignature
    ));
    scheduler.resigned(None).unwrap();

    for _ in 1..8 {
        assert!(matches!(start_and_refuse(&mut scheduler), Refusal::Held));
    }
    let refusal = start_and_refuse(&mut scheduler);
    let Refusal::Stop(DownloadError::SignatureRejected { status, path }) = refusal else {
        panic!("expected the end of the download, got {refusal:?}");
    };
    assert_eq!((status, path.as_str()), (403, "f8.glb"));
    let in_flight = scheduler.next().unwrap();
    assert_eq!(in_flight.file.path().as_str(), "f9.glb");

    let finished = scheduler.stopped();
    assert!(!finished.complete());
    let kept: Vec<&str> = finished.entries.iter().map(|(p, _)| &**p).collect();
    assert_eq!(kept, ["tileset.json"]);
    let missing: Vec<&str> = finished.missing.iter().map(|g| &*g.what).collect();
    assert_eq!(missing.len(), 11, "{missing:?}");
    let failures = failures_of(&finished);
    assert_eq!(
        failures[0],
        ("f0.glb", FileError::SignatureRejected { status: 403 })
    );
    // Sorted by path: f10 (queued) and f9 (in flight) were not attempted.
    assert!(matches!(
        failures[2],
        ("f10.glb", FileError::NotAttempted(_))
    ));
    assert!(matches!(
        failures[10],
        ("f9.glb", FileError::NotAttempted(_))
    ));
}

/// A scheduler whose file `a.glb` was refused with the first signature and with the one
/// fresh signature the budget allows, while `b.glb`, sent with the first, arrived: the store
/// is to be asked about the fresh signature with `b.glb`.
fn refused_through_the_budget_beside_an_arrival() -> (Scheduler, Arc<watch::Sender<Progress>>) {
    let (mut scheduler, progress) = scheduler(&options(8, 1));
    entry_arrives_naming(&mut scheduler, &["a.glb", "b.glb"]);
    let mut started = start_all(&mut scheduler).into_iter();
    let (a, b) = (started.next().unwrap(), started.next().unwrap());
    assert!(matches!(
        scheduler.refused(a, 403),
        Refusal::AskForFreshSignature
    ));
    scheduler.resigned(Some(signed("SECOND"))).unwrap();
    // Sent with the first signature: it shows the store took that one, not the fresh one.
    arrives(&mut scheduler, b);

    match start_and_refuse(&mut scheduler) {
        Refusal::Probe(file) => {
            assert_eq!(file.path().as_str(), "b.glb");
            assert!(file.url().as_str().contains("SECOND"), "{}", file.url());
        }
        other => panic!("expected the store to be asked, got {other:?}"),
    }
    (scheduler, progress)
}

#[test]
fn the_last_file_refused_through_the_re_sign_budget_fails_when_the_store_takes_the_signature() {
    let (mut scheduler, progress) = refused_through_the_budget_beside_an_arrival();
    scheduler.probed(Some(true)).unwrap();

    let finished = scheduler.finish();
    assert_eq!(
        failures_of(&finished),
        [("a.glb", FileError::Forbidden { status: 403 })]
    );
    assert_eq!(progress.borrow().resigns, 1);
}

#[test]
fn refusals_through_the_re_sign_budget_stop_the_download_when_the_store_refuses_the_signature() {
    let (mut scheduler, _) = refused_through_the_budget_beside_an_arrival();
    let stop = scheduler.probed(Some(false)).unwrap_err();
    assert!(
        matches!(stop, DownloadError::SignatureRejected { status: 403, ref path } if path.as_str() == "a.glb"),
        "{stop}"
    );
}

#[test]
fn a_store_that_says_neither_leaves_the_refusals_to_their_paths() {
    let (mut scheduler, _) = refused_through_the_budget_beside_an_arrival();
    scheduler.probed(None).unwrap();
    assert_eq!(
        failures_of(&scheduler.finish()),
        [("a.glb", FileError::Forbidden { status: 403 })]
    );
}
