//! The output directory: one handle that every write goes through, and the lock that keeps a
//! second run out.
//!
//! Writes use a [`cap_std::fs::Dir`] opened on the output directory; it resolves every path
//! beneath itself and refuses `..`, absolute paths and symlinks that lead out, so a name that
//! slipped past the name check still could not escape: confinement by construction, not by
//! checking. Every function here blocks; callers run them on blocking threads.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, OpenOptions};

use super::checksum::{self, Checksum};
use crate::errors::DownloadError;
#[cfg(not(unix))]
use crate::reserved::LOCK_FILE;
use crate::reserved::PART_SUFFIX;
use tiles3d::TilePath;

/// The output directory of one run, opened and locked.
pub(crate) struct OutputDir {
    pub(crate) dir: Dir,
    /// Held for the run; dropping it releases the lock.
    pub(crate) lock: std::fs::File,
}

impl OutputDir {
    /// Creates `path` if needed, opens it, and takes its lock, failing at once with
    /// [`DownloadError::Locked`] when another run holds it.
    pub(crate) fn open_locked(path: &Path) -> Result<OutputDir, DownloadError> {
        let output = |source| DownloadError::Output {
            path: path.to_path_buf(),
            source,
        };
        // The directory itself is the caller's choice: created with the caller's authority.
        std::fs::create_dir_all(path).map_err(output)?;
        let (dir, lock) = open_dir_and_lock(path).map_err(output)?;
        if !fs4::fs_std::FileExt::try_lock_exclusive(&lock).map_err(output)? {
            return Err(DownloadError::Locked {
                dir: path.to_path_buf(),
            });
        }
        Ok(OutputDir { dir, lock })
    }
}

/// The directory handle, and what its lock is taken on: the directory itself where the
/// platform can lock a directory (no file is left behind), else a lock file at its root.
#[cfg(unix)]
fn open_dir_and_lock(path: &Path) -> std::io::Result<(Dir, std::fs::File)> {
    // A plain read-only descriptor: cap-std's own may be `O_PATH`, which cannot be locked.
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_dir() {
        return Err(std::io::Error::other("not a directory"));
    }
    // The handle gets a descriptor of its own: a lock belongs to an open file description,
    // so a duplicate held by a task still winding down would keep the lock after the run.
    let handle = std::fs::File::open(path)?;
    Ok((Dir::from_std_file(handle), file))
}

#[cfg(not(unix))]
fn open_dir_and_lock(path: &Path) -> std::io::Result<(Dir, std::fs::File)> {
    let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority())?;
    let lock = dir
        .open_with(
            LOCK_FILE,
            OpenOptions::new().read(true).write(true).create(true),
        )?
        .into_std();
    Ok((dir, lock))
}

/// A fresh temporary name beside `target` (relative to the output directory): hidden, in the
/// same directory so the rename stays on one file system, short whatever the target's length,
/// and unique within the process.
pub(crate) fn part_path(target: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{:x}-{n:x}{PART_SUFFIX}", std::process::id()))
}

/// Writes `bytes` to `path` under `dir` through a temporary file and a rename.
pub(crate) fn write_atomically(
    dir: &Dir,
    path: &Path,
    contents: impl FnOnce(&mut std::io::BufWriter<cap_std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let temp = part_path(path);
    let file = dir.open_with(&temp, OpenOptions::new().write(true).create_new(true))?;
    let mut out = std::io::BufWriter::new(file);
    let written = contents(&mut out)
        .and_then(|()| out.into_inner().map_err(|e| e.into_error()))
        .and_then(|file| file.sync_all());
    written
        .and_then(|()| dir.rename(&temp, dir, path))
        .inspect_err(|_| {
            let _ = dir.remove_file(&temp);
        })
}

/// Removes temporary files that interrupted runs left in `dirs` (relative to `dir`).
pub(crate) fn remove_stale_parts<'a>(dir: &Dir, dirs: impl Iterator<Item = &'a Path>) {
    for sub in dirs {
        let entries = if sub.as_os_str().is_empty() {
            dir.entries()
        } else {
            dir.read_dir(sub)
        };
        let Ok(entries) = entries else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().ends_with(PART_SUFFIX) {
                let _ = dir.remove_file(sub.join(name));
            }
        }
    }
}

/// Removes files that are not part of the download (fetched on a listing's word, then not
/// named by the tileset), and the folders that held only them.
pub(crate) fn remove_unnamed(dir: &Dir, paths: &[TilePath]) {
    for path in paths {
        if dir.remove_file(path.relative()).is_err() {
            continue;
        }
        let mut folder = path.parent_relative();
        // Fails, and stops, at the first folder that still holds something.
        while !folder.as_os_str().is_empty() && dir.remove_dir(&folder).is_ok() {
            folder.pop();
        }
    }
}

/// The checksum of a file under `dir`.
pub(crate) fn checksum_of(dir: &Dir, path: &Path) -> std::io::Result<[u8; checksum::LEN]> {
    let mut file = dir.open(path)?;
    let mut hasher = Checksum::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_second_run_on_the_same_directory_is_refused_until_the_first_ends() {
        let temp = tempfile::tempdir().unwrap();
        let first = OutputDir::open_locked(temp.path()).unwrap();
        let second = OutputDir::open_locked(temp.path());
        assert!(
            matches!(second, Err(DownloadError::Locked { .. })),
            "{:?}",
            second.err()
        );
        drop(first);
        OutputDir::open_locked(temp.path()).unwrap();
    }

    #[test]
    fn the_handle_refuses_paths_that_leave_the_directory() {
        let parent = tempfile::tempdir().unwrap();
        let out = parent.path().join("out");
        let output = OutputDir::open_locked(&out).unwrap();
        for escape in ["../x.json", "/tmp/x.json", "a/../../x.json"] {
            assert!(
                write_atomically(&output.dir, Path::new(escape), |out| out.write_all(b"{}"))
                    .is_err(),
                "{escape}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(parent.path(), out.join("link")).unwrap();
            assert!(
                write_atomically(&output.dir, Path::new("link/x.json"), |out| out
                    .write_all(b"{}"))
                .is_err()
            );
        }
        let names: Vec<_> = std::fs::read_dir(parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["out"],
            "nothing written beside the output directory"
        );
    }

    #[test]
    fn part_names_stay_short_for_long_targets() {
        let long = "a".repeat(255);
        let part = part_path(Path::new(&format!("d/{long}")));
        assert!(part.starts_with("d"));
        assert!(part.file_name().unwrap().len() < 64, "{}", part.display());
    }
}
