//! Writing the job's files (`WriteFiles`) under the working directory.
//!
//! The runner may be root of its namespace, and an earlier stage may have
//! left symbolic links behind, so every step is relative to an open
//! directory descriptor and refuses to follow links: parent directories are
//! opened with `O_DIRECTORY | O_NOFOLLOW` (a link there is an error), and a
//! file is written by removing whatever entry has its name (a link is
//! removed, never followed) and creating a fresh one with
//! `O_CREAT | O_EXCL | O_NOFOLLOW`.
//!
//! Permissions. `WriteFiles` carries no user, yet a later stage may run as
//! an unprivileged `user` that must edit its sources and create files beside
//! them (a compiler writing `a.out`). So when the runner runs as uid 0 the
//! tree is made shared: the working directory and every directory created
//! here get mode 0777 and files 0666 (0777 when executable). The sandbox
//! holds one job, so world-writable means writable by that job only. When
//! the runner is not root, stages run as the runner's own uid and the usual
//! 0755 / 0644 / 0755 apply. Modes are set with `fchmod`, so the umask does
//! not matter. Directories that already exist keep their mode.

use std::fs::File as StdFile;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use coderun_runner::wire::File;
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmod, mkdirat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::paths::{self, PathError};

/// Why `WriteFiles` failed.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("refused path {path:?}: {source}")]
    Path {
        path: String,
        #[source]
        source: PathError,
    },
    #[error("failed to open the working directory: {0}")]
    WorkDir(#[source] Errno),
    #[error("failed to write {path:?}: {what}: {source}")]
    Write {
        path: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// The modes files and directories get; see the module comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modes {
    dir: u32,
    file: u32,
    exec: u32,
    /// Whether the working directory itself is opened up too.
    shared: bool,
}

impl Modes {
    /// Shared modes when the runner is root, private ones otherwise.
    pub fn for_root(root: bool) -> Modes {
        if root {
            Modes { dir: 0o777, file: 0o666, exec: 0o777, shared: true }
        } else {
            Modes { dir: 0o755, file: 0o644, exec: 0o755, shared: false }
        }
    }
}

/// Writes every file, in order, under the current directory. All paths are
/// checked before anything is written; a failure part way leaves the files
/// before it in place.
pub fn write_files(files: &[File], modes: Modes) -> Result<(), FilesError> {
    let mut checked = Vec::with_capacity(files.len());
    for f in files {
        let segments =
            paths::file_segments(&f.path).map_err(|source| FilesError::Path { path: f.path.clone(), source })?;
        checked.push((f, segments));
    }
    let root = open_dir(None, ".").map_err(FilesError::WorkDir)?;
    if modes.shared {
        fchmod(root.as_raw_fd(), Mode::from_bits_truncate(modes.dir)).map_err(FilesError::WorkDir)?;
    }
    for (f, segments) in checked {
        write_one(&root, &segments, f, modes).map_err(|(what, e)| FilesError::Write {
            path: f.path.clone(),
            what,
            source: e.into(),
        })?;
    }
    Ok(())
}

/// Writes one file whose path has already been checked lexically.
fn write_one(root: &OwnedFd, segments: &[&str], f: &File, modes: Modes) -> Result<(), (&'static str, Errno)> {
    let (name, parents) = segments.split_last().expect("file_segments never returns no segment");
    let mut dir: Option<OwnedFd> = None;
    for seg in parents {
        let at = dir.as_ref().unwrap_or(root).as_raw_fd();
        dir = Some(open_or_create_dir(at, seg, modes.dir)?);
    }
    let at = dir.as_ref().unwrap_or(root).as_raw_fd();
    // Whatever has this name goes first: an old file, or a link a stage
    // planted. unlinkat removes a link itself, never its target.
    match unlinkat(Some(at), *name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(("cannot replace the existing entry", e)),
    }
    let mode = if f.executable { modes.exec } else { modes.file };
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(Some(at), *name, flags, Mode::from_bits_truncate(mode)).map_err(|e| ("cannot create", e))?;
    // Safety: openat just returned this descriptor and nothing else owns it.
    let mut file = unsafe { StdFile::from_raw_fd(fd) };
    fchmod(file.as_raw_fd(), Mode::from_bits_truncate(mode)).map_err(|e| ("cannot set its mode", e))?;
    file.write_all(&f.content).map_err(|e| ("cannot write", io_errno(&e)))?;
    Ok(())
}

/// Opens the directory `name` inside `at`, creating it with `mode` if it is
/// missing. A symbolic link in its place is an error (`ELOOP`/`ENOTDIR`).
fn open_or_create_dir(at: i32, name: &str, mode: u32) -> Result<OwnedFd, (&'static str, Errno)> {
    match open_dir(Some(at), name) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(("cannot open a parent directory", e)),
    }
    match mkdirat(Some(at), name, Mode::from_bits_truncate(mode)) {
        Ok(()) => {
            let fd = open_dir(Some(at), name).map_err(|e| ("cannot open a parent directory", e))?;
            fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(mode)).map_err(|e| ("cannot set a directory's mode", e))?;
            Ok(fd)
        }
        // Created meanwhile: open what is there, with the same care.
        Err(Errno::EEXIST) => open_dir(Some(at), name).map_err(|e| ("cannot open a parent directory", e)),
        Err(e) => Err(("cannot create a parent directory", e)),
    }
}

fn open_dir(at: Option<i32>, name: &str) -> Result<OwnedFd, Errno> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(at, name, flags, Mode::empty())?;
    // Safety: openat just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_gets_shared_modes_and_others_private_ones() {
        let shared = Modes::for_root(true);
        assert_eq!((shared.dir, shared.file, shared.exec, shared.shared), (0o777, 0o666, 0o777, true));
        let private = Modes::for_root(false);
        assert_eq!((private.dir, private.file, private.exec, private.shared), (0o755, 0o644, 0o755, false));
    }
}
