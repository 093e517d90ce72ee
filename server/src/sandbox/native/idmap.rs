//! User namespace id maps: what the sandbox's ids are on the host, and
//! writing them.
//!
//! Sandbox root is the server's own uid and gid. When the server is root it
//! may also map the student id (1000) to an unprivileged host id of its own
//! per job; otherwise the kernel allows only the single self-mapping, and
//! students run as the sandbox's root.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::fcntl::OFlag;
use nix::unistd::Pid;

use super::setup::STUDENT_ID;
use super::step::{Step, StepError};

/// The contents of `/proc/PID/{uid_map,gid_map,setgroups}` for a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMaps {
    pub uid_map: String,
    pub gid_map: String,
    /// Whether `setgroups` must be set to `deny` before `gid_map` is
    /// written: the kernel demands it when the writer is not privileged.
    pub deny_setgroups: bool,
}

impl IdMaps {
    /// Sandbox root is the server's own uid and gid; the student id maps to
    /// `student` when given, which only a root server may write.
    pub fn new(own_uid: u32, own_gid: u32, student: Option<(u32, u32)>) -> IdMaps {
        let line = |inner: u32, outer: u32| format!("{inner} {outer} 1\n");
        let mut uid_map = line(0, own_uid);
        let mut gid_map = line(0, own_gid);
        if let Some((uid, gid)) = student {
            uid_map += &line(STUDENT_ID, uid);
            gid_map += &line(STUDENT_ID, gid);
        }
        IdMaps { uid_map, gid_map, deny_setgroups: own_uid != 0 }
    }
}

/// The host uid (and gid) of a job's student user: one of 10,000 ids from
/// `base`, so that sandboxes running at once have distinct host ids.
pub fn student_host_id(base: u32, job: u64) -> u32 {
    base.saturating_add((job % 10_000) as u32)
}

/// Writes the setgroups policy and id maps of process `child`, through
/// `proc`, a descriptor of the `/proc` that shows it.
pub fn write_id_maps(proc: BorrowedFd<'_>, child: Pid, maps: &IdMaps) -> Result<(), StepError> {
    let write = |name: &str, text: &str| -> io::Result<()> {
        let path = format!("{child}/{name}");
        let fd = nix::fcntl::openat(
            Some(proc.as_raw_fd()),
            path.as_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        // SAFETY: openat just returned this descriptor and nothing else owns it.
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        file.write_all(text.as_bytes())
    };
    if maps.deny_setgroups {
        write("setgroups", "deny").step("deny setgroups")?;
    }
    write("uid_map", &maps.uid_map).step("write the uid map")?;
    write("gid_map", &maps.gid_map).step("write the gid map")?;
    Ok(())
}

/// Opens the `/proc` this process sees now, to reach a child's files even
/// after the child has moved the mount namespace's root.
pub fn open_proc() -> Result<OwnedFd, StepError> {
    let fd =
        nix::fcntl::open("/proc", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
            .step("open /proc")?;
    // SAFETY: open just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_server_maps_root_and_student() {
        let m = IdMaps::new(0, 0, Some((200_007, 200_007)));
        assert_eq!(m.uid_map, "0 0 1\n1000 200007 1\n");
        assert_eq!(m.gid_map, "0 0 1\n1000 200007 1\n");
        assert!(!m.deny_setgroups);
    }

    #[test]
    fn unprivileged_server_maps_only_itself_and_denies_setgroups() {
        let m = IdMaps::new(1001, 1002, None);
        assert_eq!(m.uid_map, "0 1001 1\n");
        assert_eq!(m.gid_map, "0 1002 1\n");
        assert!(m.deny_setgroups);
    }

    #[test]
    fn student_host_ids_wrap_every_ten_thousand_jobs() {
        assert_eq!(student_host_id(200_000, 7), 200_007);
        assert_eq!(student_host_id(200_000, 10_007), 200_007);
        assert_eq!(student_host_id(u32::MAX, 1), u32::MAX);
    }
}
