use super::*;

/// A `.glb` header and JSON chunk header announcing `json` bytes, then `json` spaces and
/// a tail of binary bytes.
fn glb_with_json(json: usize, tail: usize) -> Vec<u8> {
    let mut bytes = b"glTF".to_vec();
    bytes.extend_from_slice(&2u32.to_le_bytes());
    bytes.extend_from_slice(&((20 + json + tail) as u32).to_le_bytes());
    bytes.extend_from_slice(&(json as u32).to_le_bytes());
    bytes.extend_from_slice(b"JSON");
    bytes.extend(std::iter::repeat_n(b' ', json));
    bytes.extend(std::iter::repeat_n(0u8, tail));
    bytes
}

#[test]
fn a_part_file_shorter_than_the_resume_point_is_refused_not_padded() {
    let temp = tempfile::tempdir().unwrap();
    let dir = Arc::new(Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap());
    let path = TilePath::parse("tile.bin").unwrap();
    let part = crate::store::output::part_path(&path.relative());
    dir.write(&part, b"abcd").unwrap();
    let journal = crate::store::manifest::Journal::start(&dir, "s", std::iter::empty()).unwrap();
    let writer = FileWriter {
        dir: dir.clone(),
        part: part.clone(),
        path: path.clone(),
        kind: FileKind::Leaf,
        resume_from: 10,
        gzip: false,
        gzip_bound: GzipBound {
            max_decoded_bytes: u64::MAX,
            max_expansion: u64::MAX,
        },
        fsync: false,
        journal: Arc::new(Mutex::new(journal)),
        created_dirs: Arc::default(),
        limits: tiles3d::walk::ReadLimits::default(),
    };
    let (pieces, received) = tokio::sync::mpsc::channel(4);
    pieces
        .try_send(Piece::Chunk(bytes::Bytes::from_static(b"rest")))
        .unwrap();
    pieces.try_send(Piece::Complete).unwrap();
    drop(pieces);

    let result = writer.write(received);

    assert!(
        matches!(
            result,
            Err(WriteFailure::Content(FileError::Corrupt { .. }))
        ),
        "the gap is not filled with zeros, and the next attempt starts afresh"
    );
    assert!(!dir.exists(path.relative()), "nothing under the final name");
    assert_eq!(
        dir.read(&part).unwrap(),
        b"abcd",
        "the part is left as it was"
    );
}

/// A writer of `path` (as `kind`) fetched from its start, in a fresh output directory.
fn writer_of(path: &str, kind: FileKind) -> (tempfile::TempDir, FileWriter) {
    let temp = tempfile::tempdir().unwrap();
    let dir = Arc::new(Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap());
    let path = TilePath::parse(path).unwrap();
    let journal = crate::store::manifest::Journal::start(&dir, "s", std::iter::empty()).unwrap();
    let writer = FileWriter {
        dir,
        part: crate::store::output::part_path(&path.relative()),
        path,
        kind,
        resume_from: 0,
        gzip: false,
        gzip_bound: GzipBound {
            max_decoded_bytes: u64::MAX,
            max_expansion: u64::MAX,
        },
        fsync: false,
        journal: Arc::new(Mutex::new(journal)),
        created_dirs: Arc::default(),
        limits: tiles3d::walk::ReadLimits::default(),
    };
    (temp, writer)
}

/// The names in `dir` (relative to `root`), apart from the journal.
fn names_in(root: &Path, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != crate::reserved::JOURNAL_FILE)
        .collect();
    names.sort();
    names
}

#[test]
fn a_whole_body_lands_under_its_name_journaled_with_no_other_file_left() {
    for unnamed in [true, false] {
        let (temp, writer) = writer_of("a/b/t.json", FileKind::Tileset);
        writer
            .created_dirs
            .no_unnamed_files
            .store(!unnamed, Ordering::Relaxed);
        let body = br#"{"root":{"content":{"uri":"c.glb"}}}"#;
        // In several chunks, as a body arrives.
        let chunks = body.chunks(7).map(bytes::Bytes::copy_from_slice).collect();

        let written = writer.write_whole(chunks);

        let Ok(Written::Done(entry, references)) = written else {
            panic!("not written (unnamed files: {unnamed})")
        };
        assert_eq!(std::fs::read(temp.path().join("a/b/t.json")).unwrap(), body);
        assert_eq!(
            names_in(temp.path(), "a/b"),
            ["t.json"],
            "unnamed: {unnamed}"
        );
        assert_eq!(entry.size, body.len() as u64);
        assert_eq!(entry.xxh3_128, crate::store::checksum::hex_of(body));
        let journal =
            std::fs::read_to_string(temp.path().join(crate::reserved::JOURNAL_FILE)).unwrap();
        assert!(journal.contains(&entry.xxh3_128), "{journal}");
        let references = references.unwrap().unwrap();
        assert_eq!(references.references.len(), 1, "read back from the file");
    }
}

#[test]
fn a_whole_gzipped_body_is_saved_decoded() {
    use std::io::Write as _;
    let (temp, mut writer) = writer_of("t.bin", FileKind::Leaf);
    writer.gzip = true;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(b"plain bytes").unwrap();
    let body = encoder.finish().unwrap();

    assert!(matches!(
        writer.write_whole(vec![body.into()]),
        Ok(Written::Done(..))
    ));
    assert_eq!(
        std::fs::read(temp.path().join("t.bin")).unwrap(),
        b"plain bytes"
    );
}

#[test]
fn a_gzip_body_decoding_past_its_bound_fails_as_bound_and_leaves_nothing_behind() {
    use std::io::Write as _;
    let (temp, mut writer) = writer_of("t.bin", FileKind::Leaf);
    writer.gzip = true;
    writer.gzip_bound.max_decoded_bytes = 1000;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&[0; 1001]).unwrap();
    let body = encoder.finish().unwrap();

    let written = writer.write_whole(vec![body.into()]);

    assert!(
        matches!(
            written,
            Err(WriteFailure::Bound(FileError::GzipBound { .. }))
        ),
        "one byte past the bound"
    );
    assert!(!temp.path().join("t.bin").exists());
}

#[test]
fn a_body_that_is_not_gzip_as_announced_is_corrupt_content_not_a_disk_error() {
    let (temp, mut writer) = writer_of("t.bin", FileKind::Leaf);
    writer.gzip = true;
    // A valid gzip header, then bytes no deflate stream starts with.
    let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    body.extend_from_slice(&[0xff; 64]);

    let written = writer.write_whole(vec![body.into()]);

    assert!(
        matches!(
            written,
            Err(WriteFailure::Content(FileError::Corrupt {
                kind: "gzip stream",
                ..
            }))
        ),
        "a decoding error must be the content's, so the file is fetched again"
    );
    assert!(!temp.path().join("t.bin").exists());
}

#[test]
fn a_whole_body_that_fails_its_check_leaves_nothing_behind() {
    for unnamed in [true, false] {
        let (temp, writer) = writer_of("t.glb", FileKind::Glb);
        writer
            .created_dirs
            .no_unnamed_files
            .store(!unnamed, Ordering::Relaxed);
        let page = bytes::Bytes::from_static(b"<html>sign in to the wifi</html>");

        let written = writer.write_whole(vec![page]);

        assert!(
            matches!(written, Err(WriteFailure::Content(_))),
            "unnamed: {unnamed}"
        );
        let left = names_in(temp.path(), "");
        let expected: &[&str] = if unnamed { &[] } else { &["part file"] };
        // The part file stays for the fetch to remove; no file has the final name.
        assert_eq!(left.len(), expected.len(), "{left:?}");
        assert!(!left.iter().any(|n| n == "t.glb"), "{left:?}");
    }
}

#[test]
fn a_whole_body_replaces_a_file_already_under_its_name() {
    let (temp, writer) = writer_of("t.bin", FileKind::Leaf);
    std::fs::write(temp.path().join("t.bin"), b"stale").unwrap();

    assert!(matches!(
        writer.write_whole(vec![bytes::Bytes::from_static(b"fresh")]),
        Ok(Written::Done(..))
    ));
    assert_eq!(std::fs::read(temp.path().join("t.bin")).unwrap(), b"fresh");
    assert_eq!(names_in(temp.path(), ""), ["t.bin"]);
}

#[test]
fn a_whole_body_replaces_its_file_when_an_earlier_attempt_left_its_part() {
    let (temp, writer) = writer_of("t.bin", FileKind::Leaf);
    std::fs::write(temp.path().join("t.bin"), b"stale").unwrap();
    // A broken attempt whose bytes cannot be continued (gzip, no length): this one
    // starts afresh.
    std::fs::write(temp.path().join(&writer.part), b"fre").unwrap();

    let written = writer.write_whole(vec![bytes::Bytes::from_static(b"fresh")]);

    assert!(matches!(written, Ok(Written::Done(..))));
    assert_eq!(std::fs::read(temp.path().join("t.bin")).unwrap(), b"fresh");
    assert_eq!(names_in(temp.path(), ""), ["t.bin"]);
}

#[cfg(target_os = "linux")]
#[test]
fn a_parent_turned_into_a_link_out_of_the_output_directory_fails_only_its_file() {
    let outside = tempfile::tempdir().unwrap();
    let (temp, writer) = writer_of("a/t.bin", FileKind::Leaf);
    // The run created `a`; then something put a link out of the output directory there.
    writer
        .created_dirs
        .created
        .lock()
        .unwrap()
        .insert(PathBuf::from("a"));
    std::os::unix::fs::symlink(outside.path(), temp.path().join("a")).unwrap();
    let created_dirs = writer.created_dirs.clone();

    let written = writer.write_whole(vec![bytes::Bytes::from_static(b"x")]);

    assert!(matches!(written, Err(WriteFailure::Io(_))));
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(
        !created_dirs.no_unnamed_files.load(Ordering::Relaxed),
        "a refused path does not make the rest of the download use part files"
    );
}

/// Runs the test `name` again in a child process whose umask is `umask` (the umask is the
/// process's, so it is not changed under the other tests); true in that child.
#[cfg(target_os = "linux")]
fn in_child_with_umask(name: &str, umask: &str) -> bool {
    const CHILD: &str = "MESH_EXPORT_TEST_UMASK_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let child = std::process::Command::new("sh")
        .args([
            "-c",
            r#"umask "$1" && exec "$0" --exact "$2" --test-threads 1"#,
        ])
        .arg(std::env::current_exe().unwrap())
        .args([umask, name])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} with umask {umask}: {}\n{stdout}",
        child.status
    );
    false
}

#[cfg(target_os = "linux")]
#[test]
fn an_unnamed_file_gets_the_permissions_a_part_file_would() {
    use std::os::unix::fs::PermissionsExt;
    let name = "store::writer::tests::an_unnamed_file_gets_the_permissions_a_part_file_would";
    if !in_child_with_umask(name, "002") {
        return;
    }
    let mode = |unnamed: bool| {
        let (temp, writer) = writer_of("t.bin", FileKind::Leaf);
        writer
            .created_dirs
            .no_unnamed_files
            .store(!unnamed, Ordering::Relaxed);
        let written = writer.write_whole(vec![bytes::Bytes::from_static(b"x")]);
        assert!(matches!(written, Ok(Written::Done(..))));
        let metadata = std::fs::metadata(temp.path().join("t.bin")).unwrap();
        metadata.permissions().mode() & 0o777
    };
    assert_eq!(mode(false), 0o664, "a part file, under umask 002");
    assert_eq!(mode(true), mode(false));
}

#[test]
fn a_glb_head_keeps_its_json_chunk_whatever_the_pieces() {
    let glb = glb_with_json(5000, 7000);
    for piece in [1, 7, 19, 20, 21, 4096, glb.len()] {
        let mut head = Head::new(&FileKind::Glb);
        glb.chunks(piece).for_each(|c| head.keep(c));
        assert_eq!(head.glb_json(), Some(&glb[..5020]), "pieces of {piece}");
    }
    // Under any name: the first bytes say it is a binary glTF.
    let mut named_otherwise = Head::new(&FileKind::Leaf);
    glb.chunks(19).for_each(|c| named_otherwise.keep(c));
    assert_eq!(named_otherwise.glb_json(), Some(&glb[..5020]));
    // Other content keeps only what the structural check needs.
    let mut not_glb = glb.clone();
    not_glb[..4].copy_from_slice(b"b3dm");
    let mut other = Head::new(&FileKind::Glb);
    other.keep(&not_glb);
    assert_eq!((other.bytes.len(), other.glb_json()), (HEAD, None));
    // Also when the limit is reached in a later piece.
    let mut other = Head::new(&FileKind::Leaf);
    other.keep(&not_glb[..10]);
    other.keep(&not_glb[10..]);
    assert_eq!(other.bytes.len(), HEAD);
}

#[test]
fn a_glb_json_chunk_past_the_memory_bound_is_left_on_disk() {
    let glb = glb_with_json(GLB_HEAD, 10);
    let mut head = Head::new(&FileKind::Glb);
    glb.chunks(64 * 1024).for_each(|c| head.keep(c));
    assert_eq!(head.bytes.len(), GLB_HEAD);
    assert_eq!(head.glb_json(), None, "the JSON is read back from the file");
    // An absurd announced length neither overflows nor allocates it.
    let mut absurd = glb_with_json(0, 0);
    absurd[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut head = Head::new(&FileKind::Glb);
    head.keep(&absurd);
    assert_eq!((head.bytes.len(), head.glb_json()), (20, None));
}

#[test]
fn a_json_body_with_the_gzip_magic_is_decoded_whole_or_streamed_and_a_leaf_is_not() {
    use std::io::Write as _;
    let tileset = br#"{"asset":{"version":"1.0"},"root":{"content":{"uri":"a.glb"}}}"#;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(tileset).unwrap();
    let gzipped = bytes::Bytes::from(encoder.finish().unwrap());

    let (temp, writer) = writer_of("t.json", FileKind::Tileset);
    assert!(matches!(
        writer.write_whole(vec![gzipped.clone()]),
        Ok(Written::Done(..))
    ));
    assert_eq!(std::fs::read(temp.path().join("t.json")).unwrap(), tileset);

    let (temp, writer) = writer_of("t.json", FileKind::Tileset);
    let (pieces, received) = tokio::sync::mpsc::channel(4);
    pieces.try_send(Piece::Chunk(gzipped.clone())).unwrap();
    pieces.try_send(Piece::Complete).unwrap();
    drop(pieces);
    assert!(matches!(writer.write(received), Ok(Written::Done(..))));
    assert_eq!(std::fs::read(temp.path().join("t.json")).unwrap(), tileset);

    // A buffer may hold anything, those two bytes included.
    let (temp, writer) = writer_of("t.bin", FileKind::Leaf);
    assert!(matches!(
        writer.write_whole(vec![gzipped.clone()]),
        Ok(Written::Done(..))
    ));
    assert_eq!(std::fs::read(temp.path().join("t.bin")).unwrap(), gzipped);
}
