//! Files created without a name and named once complete (Linux `O_TMPFILE` and `linkat`).
//!
//! A file that arrived whole is written into an unnamed inode in its final directory and
//! linked under its final name once it is checked and journaled. Compared with a part file
//! renamed into place, that is one directory entry written instead of three (create, rename
//! and the removal the rename implies), and the inode is allocated without the directory's
//! lock, which parallel writers otherwise queue (and spin) on. A reader never sees a partial
//! file, and a crash leaves nothing behind.
//!
//! Everything goes through a directory handle opened under the confined output directory, and
//! the names given here are single checked path components.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use cap_std::fs::Dir;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

/// Where an unnamed file will be named: a directory under the output directory.
pub(crate) struct Unnamed {
    /// `None`: the output directory itself.
    parent: Option<Dir>,
    /// Where the file's descriptor has the entry the link is made from.
    proc_fd: &'static str,
}

/// The descriptors of this process, as entries a file can be linked from.
const PROC_FD: &str = "/proc/self/fd";

/// Creates an unnamed file (open for reading and writing) in `parent`, relative to `dir` and
/// already created. An error of kind `Unsupported` means this file system or kernel cannot;
/// another, that this file could not be (`parent` is not under `dir`, no descriptor or space
/// left). The caller falls back to a part file.
pub(crate) fn create(dir: &Dir, parent: &Path) -> io::Result<(Unnamed, std::fs::File)> {
    create_linked_through(dir, parent, PROC_FD)
}

/// [`create`], for a file to be linked from its descriptor's entry in `proc_fd`.
fn create_linked_through(
    dir: &Dir,
    parent: &Path,
    proc_fd: &'static str,
) -> io::Result<(Unnamed, std::fs::File)> {
    let parent = if parent.as_os_str().is_empty() {
        None
    } else {
        Some(dir.open_dir(parent)?)
    };
    let at = parent.as_ref().unwrap_or(dir);
    let fd = rustix::fs::openat(
        at,
        ".",
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        // As a part file is created: what the umask allows.
        Mode::from_raw_mode(0o666),
    )
    .map_err(|e| match e {
        // A file system without `O_TMPFILE`; a kernel older than it (which takes the flag for
        // `O_DIRECTORY`); a filter that refuses the call.
        Errno::OPNOTSUPP | Errno::ISDIR | Errno::NOSYS => {
            io::Error::new(io::ErrorKind::Unsupported, io::Error::from(e))
        }
        e => e.into(),
    })?;
    // Without the descriptor's entry (/proc not mounted, or another pid namespace's) the file
    // could be written, checked and journaled but never named: refused here instead, so the
    // caller writes a part file.
    let source = format!("{proc_fd}/{}", fd.as_raw_fd());
    if let Err(error) = rustix::fs::statat(rustix::fs::CWD, &source, AtFlags::SYMLINK_NOFOLLOW) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{proc_fd} ({error}): an unnamed file could not be linked"),
        ));
    }
    Ok((Unnamed { parent, proc_fd }, std::fs::File::from(fd)))
}

impl Unnamed {
    /// Gives `file` (created by [`create`]) the name `name` in its directory, replacing a
    /// file of that name (through the name `spare` and a rename, as a link cannot replace).
    /// `spare` is the caller's own (its part file's name): a file left under it by an earlier
    /// attempt, or by an interrupted run of a process with the same id, is removed. `dir` is
    /// the output directory the file was created under.
    pub(crate) fn link(
        &self,
        file: &std::fs::File,
        dir: &Dir,
        name: &str,
        spare: &str,
    ) -> io::Result<()> {
        let at = self.parent.as_ref().unwrap_or(dir);
        // Linking by descriptor (`AT_EMPTY_PATH`) needs a privilege; the descriptor's entry
        // in /proc needs none.
        let source = format!("{}/{}", self.proc_fd, file.as_raw_fd());
        let link = |to: &str| {
            rustix::fs::linkat(rustix::fs::CWD, &source, at, to, AtFlags::SYMLINK_FOLLOW)
        };
        match link(name) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::EXIST) => {
                match link(spare) {
                    Err(rustix::io::Errno::EXIST) => {
                        rustix::fs::unlinkat(at, spare, AtFlags::empty())?;
                        link(spare)?;
                    }
                    linked => linked?,
                }
                rustix::fs::renameat(at, spare, at, name).map_err(|e| {
                    let _ = rustix::fs::unlinkat(at, spare, AtFlags::empty());
                    io::Error::from(e)
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output() -> (tempfile::TempDir, Dir) {
        let temp = tempfile::tempdir().unwrap();
        let dir = Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).unwrap();
        (temp, dir)
    }

    fn write(file: &std::fs::File, bytes: &[u8]) {
        use std::io::Write;
        (&*file).write_all(bytes).unwrap();
    }

    #[test]
    fn an_unnamed_file_appears_only_when_linked_and_with_its_whole_content() {
        let (temp, dir) = output();
        dir.create_dir_all("a/b").unwrap();
        let (unnamed, file) = create(&dir, Path::new("a/b")).unwrap();
        write(&file, b"whole");
        let names = || {
            std::fs::read_dir(temp.path().join("a/b"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect::<Vec<_>>()
        };
        assert!(names().is_empty(), "{:?}", names());

        unnamed.link(&file, &dir, "t.glb", ".spare").unwrap();

        assert_eq!(names(), ["t.glb"]);
        assert_eq!(
            std::fs::read(temp.path().join("a/b/t.glb")).unwrap(),
            b"whole"
        );
    }

    #[test]
    fn linking_over_an_existing_file_replaces_it_and_leaves_no_spare() {
        // The second time, a stale file holds the spare name: left by an earlier attempt, or
        // by an interrupted run whose process had this id.
        for stale_spare in [false, true] {
            let (temp, dir) = output();
            std::fs::write(temp.path().join("t.json"), b"old").unwrap();
            if stale_spare {
                std::fs::write(temp.path().join(".spare-1"), b"stale part").unwrap();
            }
            let (unnamed, file) = create(&dir, Path::new("")).unwrap();
            write(&file, b"new");

            unnamed.link(&file, &dir, "t.json", ".spare-1").unwrap();

            let json = std::fs::read(temp.path().join("t.json")).unwrap();
            assert_eq!(json, b"new", "stale spare: {stale_spare}");
            assert!(!temp.path().join(".spare-1").exists());
        }
    }

    #[test]
    fn a_file_system_without_unnamed_files_is_reported_unsupported() {
        // procfs refuses `O_TMPFILE` (EOPNOTSUPP), as some file systems do.
        let proc = Dir::open_ambient_dir("/proc", cap_std::ambient_authority()).unwrap();
        let error = create(&proc, Path::new("")).err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::Unsupported, "{error}");
    }

    #[test]
    fn without_proc_no_unnamed_file_is_handed_out_that_could_not_be_linked() {
        let (temp, dir) = output();

        let created = create_linked_through(&dir, Path::new(""), "/no-proc-here/self/fd");

        let error = created.err().expect("a file that no link could name");
        assert_eq!(error.kind(), io::ErrorKind::Unsupported, "{error}");
        assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_parent_outside_the_output_directory_is_refused() {
        let (_temp, dir) = output();
        assert!(create(&dir, Path::new("../")).is_err());
        assert!(create(&dir, Path::new("/tmp")).is_err());
    }
}
