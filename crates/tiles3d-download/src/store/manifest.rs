//! What a download records: `manifest.json` when it ends, and the journal it appends to while
//! it runs, so an interrupted run resumes without fetching complete files again.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};

use super::checksum;
use super::output::write_atomically;
use crate::reserved::JOURNAL_FILE;
pub use crate::reserved::MANIFEST_FILE;
use tiles3d::TilePath;

/// The manifest format this module writes.
pub(crate) const MANIFEST_VERSION: u32 = 2;

/// One file in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The path under the output directory, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// XXH3-128 of the content: 32 lower-case hex digits, as `xxhsum -H2` prints it.
    pub xxh3_128: String,
}

/// A file's size and checksum as a download holds them for each of its files until the
/// manifest is written: 24 bytes, where a [`ManifestEntry`]'s hex checksum alone takes 32 on
/// the heap. A download may hold hundreds of thousands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) size: u64,
    pub(crate) checksum: [u8; checksum::LEN],
}

impl Recorded {
    /// The record of `entry`; `None` when its checksum is not 32 hex digits.
    pub(crate) fn of(entry: &ManifestEntry) -> Option<Recorded> {
        let mut checksum = [0u8; checksum::LEN];
        hex::decode_to_slice(&entry.xxh3_128, &mut checksum).ok()?;
        Some(Recorded {
            size: entry.size,
            checksum,
        })
    }

    /// The manifest entry of the file at `path`.
    pub(crate) fn entry(&self, path: &str) -> ManifestEntry {
        ManifestEntry {
            path: path.to_owned(),
            size: self.size,
            xxh3_128: hex::encode(self.checksum),
        }
    }
}

/// Something of the tileset that is not on disk, and why: a file that failed, a URI that was
/// refused, content the walker could not interpret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestGap {
    /// The file's path, or the refused URI as the tileset wrote it.
    pub what: String,
    /// The file that names it, for a refused URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_file: Option<String>,
    /// Why it is missing.
    pub reason: String,
}

/// `manifest.json`: what a download wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The format version: 2 (version 1 recorded SHA-256 digests).
    pub version: u32,
    /// The tileset root the files came from, without its signature.
    pub source: String,
    /// Whether every file of the tileset was downloaded and every URI it names followed.
    pub complete: bool,
    /// The tileset's entry file (`tileset.json`).
    pub tileset: String,
    /// The files, sorted by path.
    pub files: Vec<ManifestEntry>,
    /// What is missing when `complete` is false, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<ManifestGap>,
}

impl Manifest {
    /// Reads `DIR/manifest.json`; `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// When the file cannot be read, is not a manifest, or is a manifest of another format
    /// version (an error of kind `InvalidData`).
    pub fn read(dir: &Path) -> std::io::Result<Option<Manifest>> {
        Self::parse(std::fs::read(dir.join(MANIFEST_FILE)))
    }

    /// Reads the manifest through the confined directory handle.
    pub(crate) fn read_in(dir: &Dir) -> std::io::Result<Option<Manifest>> {
        Self::parse(dir.read(MANIFEST_FILE))
    }

    fn parse(read: std::io::Result<Vec<u8>>) -> std::io::Result<Option<Manifest>> {
        let invalid = |e| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        match read {
            Ok(bytes) => {
                // The version first, so a manifest of another format is named as such rather
                // than as a field it lacks.
                #[derive(Deserialize)]
                struct Version {
                    version: u32,
                }
                let Version { version } = serde_json::from_slice(&bytes).map_err(invalid)?;
                if version != MANIFEST_VERSION {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "a manifest of format version {version}; this version of tiles3d-download reads version {MANIFEST_VERSION}"
                        ),
                    ));
                }
                serde_json::from_slice(&bytes).map(Some).map_err(invalid)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes it as `manifest.json`, atomically.
    #[cfg(test)]
    pub(crate) fn write_in(&self, dir: &Dir) -> std::io::Result<()> {
        let files: Vec<(Box<str>, Recorded)> = self
            .files
            .iter()
            .map(|e| {
                (
                    e.path.as_str().into(),
                    Recorded::of(e).expect("a hex digest"),
                )
            })
            .collect();
        ManifestOut {
            version: self.version,
            source: &self.source,
            complete: self.complete,
            tileset: &self.tileset,
            files: RecordedFiles(&files),
            missing: &self.missing,
        }
        .write_in(dir)
    }
}

/// A manifest written straight from a download's records: the same document as [`Manifest`],
/// streamed, so the files are never held twice nor the text at all.
#[derive(Serialize)]
pub(crate) struct ManifestOut<'a> {
    pub(crate) version: u32,
    pub(crate) source: &'a str,
    pub(crate) complete: bool,
    pub(crate) tileset: &'a str,
    pub(crate) files: RecordedFiles<'a>,
    #[serde(skip_serializing_if = "<[ManifestGap]>::is_empty")]
    pub(crate) missing: &'a [ManifestGap],
}

/// Files sorted by path, serialized as [`ManifestEntry`]s.
pub(crate) struct RecordedFiles<'a>(pub(crate) &'a [(Box<str>, Recorded)]);

impl Serialize for RecordedFiles<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(path, recorded)| recorded.entry(path)))
    }
}

impl ManifestOut<'_> {
    /// Writes it as `manifest.json`, atomically.
    pub(crate) fn write_in(&self, dir: &Dir) -> std::io::Result<()> {
        write_atomically(dir, Path::new(MANIFEST_FILE), |out| {
            serde_json::to_writer_pretty(out, self).map_err(std::io::Error::other)
        })
    }
}

/// Files recorded complete by earlier runs into `dir` from the same `source`: the manifest,
/// then the journal of an interrupted run. Unreadable records are ignored (the files are then
/// fetched again), never trusted; a manifest of another format version, paths that are not
/// portable and checksums that are not XXH3-128 in hex are dropped.
pub(crate) fn previous_entries(dir: &Dir, source: &str) -> HashMap<Box<str>, Recorded> {
    let mut known = HashMap::new();
    let mut record = |entry: ManifestEntry| {
        if let Some(recorded) = Recorded::of(&entry)
            && TilePath::parse(&entry.path).is_some()
        {
            known.insert(entry.path.into_boxed_str(), recorded);
        }
    };
    match Manifest::read_in(dir) {
        // Another format version is an error of `Manifest::read_in`.
        Ok(Some(manifest)) if manifest.source == source => {
            manifest.files.into_iter().for_each(&mut record);
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "ignoring an unreadable manifest"),
    }
    if let Ok(file) = dir.open(JOURNAL_FILE) {
        Journal::read(std::io::BufReader::new(file), source)
            .into_iter()
            .for_each(&mut record);
    }
    known
}

#[derive(Serialize, Deserialize)]
struct JournalHeader {
    source: String,
    /// The manifest format of the entries; absent in version 1.
    #[serde(default = "first_version")]
    version: u32,
}

fn first_version() -> u32 {
    1
}

/// An append-only record of files completed by the running download, so a killed run can
/// resume: one JSON object a line after a header naming the source.
pub(crate) struct Journal {
    file: Box<dyn Write + Send>,
}

impl Journal {
    /// Starts a journal at the root of `dir` that carries the entries already known.
    pub(crate) fn start(
        dir: &Dir,
        source: &str,
        known: impl Iterator<Item = ManifestEntry>,
    ) -> std::io::Result<Journal> {
        let text = Self::text(source, known)?;
        write_atomically(dir, Path::new(JOURNAL_FILE), |out| out.write_all(&text))?;
        let file = dir.open_with(JOURNAL_FILE, cap_std::fs::OpenOptions::new().append(true))?;
        Ok(Journal {
            file: Box::new(file.into_std()),
        })
    }

    /// The header and `known` as journal text.
    fn text(source: &str, known: impl Iterator<Item = ManifestEntry>) -> std::io::Result<Vec<u8>> {
        let mut text = serde_json::to_string(&JournalHeader {
            source: source.to_owned(),
            version: MANIFEST_VERSION,
        })?;
        text.push('\n');
        for entry in known {
            text.push_str(&serde_json::to_string(&entry)?);
            text.push('\n');
        }
        Ok(text.into_bytes())
    }

    /// The entries of a journal of `source`; nothing for another source's or another format
    /// version's. A torn last line (a run killed mid-write) is skipped.
    fn read(reader: impl BufRead, source: &str) -> Vec<ManifestEntry> {
        let mut lines = reader.lines();
        let header: Option<JournalHeader> = lines
            .next()
            .and_then(Result::ok)
            .and_then(|l| serde_json::from_str(&l).ok());
        if header.is_none_or(|h| h.source != source || h.version != MANIFEST_VERSION) {
            return Vec::new();
        }
        lines
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<ManifestEntry>(&line).ok())
            .collect()
    }

    /// Records one complete file.
    pub(crate) fn append(&mut self, entry: &ManifestEntry) -> std::io::Result<()> {
        let mut line = serde_json::to_string(entry)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> ManifestEntry {
        ManifestEntry {
            path: path.to_owned(),
            size: 3,
            xxh3_128: "ab".repeat(16),
        }
    }

    fn temp_dir() -> (tempfile::TempDir, Dir) {
        let temp = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap();
        (temp, dir)
    }

    #[test]
    fn no_manifest_is_none_and_one_that_cannot_be_read_is_an_error() {
        let (temp, dir) = temp_dir();
        assert!(Manifest::read(temp.path()).unwrap().is_none());
        assert!(Manifest::read_in(&dir).unwrap().is_none());
        // A manifest that exists but cannot be read must not pass for a fresh directory.
        std::fs::create_dir(temp.path().join(MANIFEST_FILE)).unwrap();
        assert!(Manifest::read(temp.path()).is_err());
        assert!(Manifest::read_in(&dir).is_err());
    }

    #[test]
    fn a_journal_reads_back_what_was_appended_after_the_known_entries() {
        let (_temp, dir) = temp_dir();
        let mut journal = Journal::start(&dir, "src", [entry("a.glb")].into_iter()).unwrap();
        journal.append(&entry("b/c.glb")).unwrap();
        drop(journal);
        let known = previous_entries(&dir, "src");
        let mut paths: Vec<&str> = known.keys().map(|k| &**k).collect();
        paths.sort();
        assert_eq!(paths, ["a.glb", "b/c.glb"]);
    }

    #[test]
    fn a_journal_of_another_source_is_ignored() {
        let (_temp, dir) = temp_dir();
        Journal::start(&dir, "one", [entry("a.glb")].into_iter()).unwrap();
        assert!(previous_entries(&dir, "two").is_empty());
    }

    #[test]
    fn a_torn_last_line_and_unportable_paths_are_not_trusted() {
        let text = format!(
            "{}\n{}\n{}\n{{\"path\":\"c.gl",
            r#"{"source":"s","version":2}"#,
            serde_json::to_string(&entry("a.glb")).unwrap(),
            serde_json::to_string(&entry("../x.glb")).unwrap(),
        );
        let read = Journal::read(text.as_bytes(), "s");
        assert_eq!(read.len(), 2, "the torn line is skipped");
        let not_a_digest = ManifestEntry {
            xxh3_128: "not hex".into(),
            ..entry("b.glb")
        };
        let text = text.replace(
            "{\"path\":\"c.gl",
            &format!("{}\n", serde_json::to_string(&not_a_digest).unwrap()),
        );
        let (_temp, dir) = temp_dir();
        dir.write(JOURNAL_FILE, &text).unwrap();
        let known = previous_entries(&dir, "s");
        assert_eq!(
            known.keys().map(|k| &**k).collect::<Vec<_>>(),
            ["a.glb"],
            "`../x.glb` and the entry without a digest dropped"
        );
    }

    #[test]
    fn a_manifest_round_trips_and_lists_what_is_missing_only_when_something_is() {
        let (_temp, dir) = temp_dir();
        assert_eq!(Manifest::read_in(&dir).unwrap(), None);
        let mut manifest = Manifest {
            version: MANIFEST_VERSION,
            source: "https://h/c/".into(),
            complete: true,
            tileset: "tileset.json".into(),
            files: vec![entry("a.glb")],
            missing: Vec::new(),
        };
        manifest.write_in(&dir).unwrap();
        let text = dir.read_to_string(MANIFEST_FILE).unwrap();
        assert!(!text.contains("missing"), "{text}");
        assert_eq!(Manifest::read_in(&dir).unwrap().as_ref(), Some(&manifest));

        manifest.complete = false;
        manifest.missing.push(ManifestGap {
            what: "b.glb".into(),
            in_file: None,
            reason: "HTTP 500".into(),
        });
        manifest.write_in(&dir).unwrap();
        assert_eq!(Manifest::read_in(&dir).unwrap(), Some(manifest));
    }

    #[test]
    fn a_manifest_from_another_source_is_not_trusted_and_a_broken_one_is_an_error() {
        let (_temp, dir) = temp_dir();
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            source: "one".into(),
            complete: true,
            tileset: "tileset.json".into(),
            files: vec![entry("a.glb")],
            missing: Vec::new(),
        };
        manifest.write_in(&dir).unwrap();
        assert_eq!(previous_entries(&dir, "one").len(), 1);
        assert!(previous_entries(&dir, "two").is_empty());
        dir.write(MANIFEST_FILE, "<html>").unwrap();
        assert!(Manifest::read_in(&dir).is_err());
        assert!(previous_entries(&dir, "one").is_empty());
    }

    #[test]
    fn records_of_the_first_format_are_not_trusted() {
        // Version 1 recorded SHA-256 digests, which a file on disk cannot be checked against
        // now: its files are fetched again.
        let (_temp, dir) = temp_dir();
        let sha256 = "ab".repeat(32);
        dir.write(
            MANIFEST_FILE,
            format!(
                r#"{{"version":1,"source":"s","complete":true,"tileset":"tileset.json","files":[{{"path":"a.glb","size":3,"sha256":"{sha256}"}}]}}"#
            ),
        )
        .unwrap();
        let error = Manifest::read_in(&dir).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("format version 1"), "{error}");
        assert!(previous_entries(&dir, "s").is_empty());

        // A version-1 journal has no version in its header; an entry with a checksum of the
        // right shape does not make it trusted.
        let journal = format!(
            "{}\n{}\n",
            r#"{"source":"s"}"#,
            serde_json::to_string(&entry("b.glb")).unwrap()
        );
        dir.write(JOURNAL_FILE, &journal).unwrap();
        assert!(previous_entries(&dir, "s").is_empty());
        dir.write(
            JOURNAL_FILE,
            journal.replace(r#""s"}"#, r#""s","version":2}"#),
        )
        .unwrap();
        assert_eq!(previous_entries(&dir, "s").len(), 1);
    }
}
