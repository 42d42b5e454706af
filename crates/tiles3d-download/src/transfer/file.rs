//! The transfer of one file as the scheduler sees it: skipped when the manifest of an earlier
//! run lists it and the file on disk matches, else fetched; then what it names, or why that
//! cannot be read.

use std::collections::HashMap;

use super::fetcher::Fetcher;
use crate::errors::FileError;
use crate::limit::Outcome;
use crate::store::manifest::{ManifestEntry, Recorded};
use crate::store::output::checksum_of;
use crate::store::writer::{References, references_on_disk};
use crate::url::TileFile;
use tiles3d::TilePath;
use tiles3d::walk::{Document, FileKind, Reference, WalkError};

/// What every file transfer of a download needs.
pub(crate) struct FileTransfer {
    pub(crate) fetcher: Fetcher,
    /// The files an earlier run completed, by path.
    pub(crate) known: HashMap<Box<str>, Recorded>,
    /// The tileset's entry file, which must be a tileset.
    pub(crate) entry: TilePath,
}

/// A file complete on disk.
pub(crate) struct Fetched {
    /// Its path, size and checksum.
    pub(crate) entry: ManifestEntry,
    /// Whether it was found complete on disk rather than fetched.
    pub(crate) skipped: bool,
    /// Bytes received over the network for it, as sent (gzip before decoding).
    pub(crate) received: u64,
    /// The worst sign of load its transfer met; [`Outcome::Other`] when found on disk.
    pub(crate) load: Outcome,
    /// The files it names, not yet resolved.
    pub(crate) references: Vec<Reference>,
    /// Why the file arrived but what it names cannot be read, or cannot all be interpreted.
    pub(crate) problems: Vec<FileError>,
}

impl FileTransfer {
    /// Transfers `file`: nothing when it is complete on disk, else a fetch with retries; then
    /// what it names.
    pub(crate) async fn fetch(
        &self,
        file: &TileFile,
        kind: &FileKind,
    ) -> Result<Fetched, FileError> {
        let progress = &self.fetcher.progress;
        if let Some((entry, references)) = self.complete_on_disk(file.path(), kind).await {
            progress.send_modify(|p| {
                p.files_done += 1;
                p.files_skipped += 1;
                p.bytes_done += entry.size;
            });
            let (references, problems) = self.classify_references(file.path(), kind, references);
            return Ok(Fetched {
                entry,
                skipped: true,
                received: 0,
                load: Outcome::Other,
                references,
                problems,
            });
        }
        let arrived = self.fetcher.fetch_with_retries(file, kind).await?;
        progress.send_modify(|p| p.files_done += 1);
        let (references, problems) =
            self.classify_references(file.path(), kind, arrived.references);
        Ok(Fetched {
            entry: arrived.entry,
            skipped: false,
            received: arrived.received,
            load: arrived.load,
            references,
            problems,
        })
    }

    /// The manifest entry of `path` and what it names, if the file on disk matches the entry.
    async fn complete_on_disk(
        &self,
        path: &TilePath,
        kind: &FileKind,
    ) -> Option<(ManifestEntry, References)> {
        let known = *self.known.get(path.as_str())?;
        let dir = self.fetcher.dir.clone();
        let verify = self.fetcher.options.verify_existing;
        let limits = self.fetcher.read_limits();
        let (path, kind) = (path.clone(), kind.clone());
        tokio::task::spawn_blocking(move || {
            let size = dir.metadata(path.relative()).ok()?.len();
            if size != known.size {
                return None;
            }
            if verify && checksum_of(&dir, &path.relative()).ok()? != known.checksum {
                return None;
            }
            Some((
                known.entry(path.as_str()),
                references_on_disk(&dir, &path, &kind, limits),
            ))
        })
        .await
        .ok()
        .flatten()
    }

    /// What a file's references mean for the download. What the walker cannot read or
    /// interpret is a failure with its reason, so a partial download is never called
    /// complete. Only a JSON object named where no tileset can be (a metadata schema, read
    /// as [`FileKind::Json`]) may be neither a tileset nor a glTF, and then names nothing; the
    /// entry must be a tileset, and a tile's `.json` content a tileset or a glTF.
    fn classify_references(
        &self,
        path: &TilePath,
        kind: &FileKind,
        read: References,
    ) -> (Vec<Reference>, Vec<FileError>) {
        let Some(read) = read else {
            return (Vec::new(), Vec::new());
        };
        let unsupported = |e: WalkError| FileError::uninterpretable_part(path, e);
        let entry = *path == self.entry;
        match (read, kind) {
            (Ok(walked), _) if entry && walked.document != Document::Tileset => {
                let what = match walked.document {
                    Document::Gltf => "a glTF, not a 3D Tiles tileset",
                    _ => "not a 3D Tiles tileset: no `root` tile",
                };
                (Vec::new(), vec![FileError::NotATileset(what.to_owned())])
            }
            // A tile's `.json` content must be a tileset (or a glTF): an object without a
            // `root` (an error body served with 200, a replaced child) would drop its subtree.
            (Ok(walked), FileKind::Tileset) if walked.document == Document::Other => {
                let why = "not a 3D Tiles tileset: no `root` tile".to_owned();
                (Vec::new(), vec![FileError::NotATileset(why)])
            }
            (Ok(walked), _) => (
                walked.references,
                walked.problems.into_iter().map(unsupported).collect(),
            ),
            (Err(WalkError::TooDeep { limit }), _) => {
                (Vec::new(), vec![FileError::TooDeep { limit }])
            }
            (Err(WalkError::TooManyFiles { named, .. }), _) => (
                Vec::new(),
                vec![FileError::TooManyFiles {
                    named,
                    max_files: self.fetcher.options.max_files,
                }],
            ),
            (Err(e @ WalkError::Unsupported { .. }), _)
            | (Err(e), FileKind::Subtree(_) | FileKind::SubtreeBuffer(_)) => {
                (Vec::new(), vec![unsupported(e)])
            }
            (Err(e), _) if entry => {
                let why = http_policy::redact::quote(&e.to_string());
                (Vec::new(), vec![FileError::NotATileset(why)])
            }
            (Err(e), _) => {
                let why = http_policy::redact::quote(&e.to_string());
                (Vec::new(), vec![FileError::Uninterpretable(why)])
            }
        }
    }
}
