//! The sandbox's root filesystem, built by G inside its own mount namespace.
//!
//! Nothing of the host is visible but what is bound in read-only: the
//! configured `ro_binds` at their own paths, the job's extra mounts, and
//! the runner at `/.coderun/runner`. Everything else is fresh: a `/proc` of
//! the sandbox's pid namespace, a `/dev` of six device nodes, tmpfs
//! `/work`, `/tmp` and `/dev/shm`, and a generated `/etc` with root and a
//! `student` user. The root itself is a small tmpfs, read-only once built.
//!
//! As bubblewrap does, G first mounts a tmpfs on `/tmp` (hiding nothing of
//! the host, since the mount namespace is private) and pivots into it, so
//! the host stays reachable at `/oldroot` while `/newroot` is assembled,
//! whatever host paths are bound; then it pivots into `/newroot` and
//! detaches the host's tree entirely.
//!
//! Invariant: nothing of the student's files is ever written to the host
//! disk; `/work`, `/tmp` and `/dev/shm` are tmpfs mounts that exist only in
//! this mount namespace and vanish with it.

use std::fs;
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd;

use super::setup::{SandboxSetup, HOSTNAME, RUNNER_IN_SANDBOX, STUDENT_ID};
use super::step::{Step, StepError};

/// The host directory the staging tmpfs is mounted on.
const BASE: &str = "/tmp";
/// Where the host's root is while the new root is built.
const OLD: &str = "/oldroot";
/// Where the new root is built.
const NEW: &str = "/newroot";

/// Device nodes bound from the host into the sandbox's `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Parts of `/proc` that would let a root of the sandbox touch the host's
/// kernel settings; bound read-only over themselves, as bubblewrap does.
const PROC_READ_ONLY: [&str; 4] = ["sys", "sysrq-trigger", "irq", "bus"];

/// Builds the new root and makes it the process's root, read-only.
pub fn build_root(s: &SandboxSetup) -> Result<(), StepError> {
    let none = None::<&str>;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).step("make / private")?;
    mount_tmpfs(Path::new(BASE), "size=64k,mode=0755", MsFlags::empty())?;
    for dir in ["oldroot", "newroot"] {
        fs::create_dir(Path::new(BASE).join(dir)).step(format_args!("create {BASE}/{dir}"))?;
    }
    unistd::chdir(BASE).step("enter the staging tmpfs")?;
    unistd::pivot_root(".", "oldroot").step("pivot into the staging tmpfs")?;
    unistd::chdir("/").step("enter the staging root")?;

    mount_tmpfs(Path::new(NEW), "size=1m,nr_inodes=4096,mode=0755", MsFlags::empty())?;
    write_etc(s.student_host_ids.is_some())?;
    for path in &s.ro_binds {
        bind_same_path(path)?;
    }
    for (host, inside) in &s.mounts {
        bind_from_host(host, inside)?;
    }
    bind_from_host(&s.runner, Path::new(RUNNER_IN_SANDBOX))?;
    mount_proc()?;
    make_dev(s.shm_bytes)?;
    let owner = if s.student_host_ids.is_some() { STUDENT_ID } else { 0 };
    let work = format!("size={},mode=0755,uid={owner},gid={owner}", tmpfs_size(s.workdir_bytes));
    mount_tmpfs(&new_path(Path::new("/work"))?, &work, MsFlags::empty())?;
    let tmp = format!("size={},mode=1777", tmpfs_size(s.tmp_bytes));
    mount_tmpfs(&new_path(Path::new("/tmp"))?, &tmp, MsFlags::empty())?;

    umount2(OLD, MntFlags::MNT_DETACH).step("detach the host's root")?;
    unistd::chdir(NEW).step("enter the new root")?;
    // pivot_root(".", ".") stacks the staging root on top of the new one;
    // detaching "." then removes it (see pivot_root(2)).
    unistd::pivot_root(".", ".").step("pivot into the new root")?;
    umount2(".", MntFlags::MNT_DETACH).step("detach the staging root")?;
    unistd::chdir("/").step("enter /")?;
    let ro = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(none, "/", none, ro, none).step("make the new root read-only")?;
    Ok(())
}

/// tmpfs takes `size=0` as "no limit"; a zero-byte limit means one page.
fn tmpfs_size(bytes: u64) -> u64 {
    bytes.max(4096)
}

/// Where a sandbox path is while the new root is being built. Refuses
/// relative paths and `..`, which could reach outside it.
fn new_path(inside: &Path) -> Result<PathBuf, StepError> {
    let rel = inside.strip_prefix("/").ok().filter(|rel| rel.components().all(|c| matches!(c, Component::Normal(_))));
    match rel {
        Some(rel) => Ok(Path::new(NEW).join(rel)),
        None => Err(StepError::new(
            format_args!("place {}", inside.display()),
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an absolute path without `..`"),
        )),
    }
}

/// Where a host path is while the new root is being built.
fn old_path(host: &Path) -> Result<PathBuf, StepError> {
    let rel = new_path(host)?;
    Ok(Path::new(OLD).join(rel.strip_prefix(NEW).expect("new_path is under NEW")))
}

fn mount_tmpfs(at: &Path, options: &str, extra: MsFlags) -> Result<(), StepError> {
    fs::create_dir_all(at).step(format_args!("create {}", at.display()))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | extra;
    mount(Some("tmpfs"), at, Some("tmpfs"), flags, Some(options))
        .step(format_args!("mount a tmpfs on {}", at.display()))
}

/// Binds a configured host path at the same path, when it exists. A
/// symbolic link is recreated rather than bound, so that merged-usr links
/// such as `/bin -> usr/bin` keep pointing into the sandbox's own `/usr`.
fn bind_same_path(path: &Path) -> Result<(), StepError> {
    let host = old_path(path)?;
    let Ok(meta) = fs::symlink_metadata(&host) else {
        return Ok(());
    };
    let target = new_path(path)?;
    if meta.file_type().is_symlink() {
        let link = fs::read_link(&host).step(format_args!("read the link {}", path.display()))?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).step(format_args!("create {}", parent.display()))?;
        }
        return std::os::unix::fs::symlink(&link, &target).step(format_args!("link {}", path.display()));
    }
    bind_ro(&host, &target, meta.is_dir())
}

/// Binds an existing host path (links followed) read-only at `inside`.
fn bind_from_host(host: &Path, inside: &Path) -> Result<(), StepError> {
    let source = old_path(host)?;
    let meta = fs::metadata(&source).step(format_args!("find {}", host.display()))?;
    bind_ro(&source, &new_path(inside)?, meta.is_dir())
}

/// Creates the mount point, binds `source` there recursively, and makes
/// every mount of the bound tree read-only, nosuid and nodev.
fn bind_ro(source: &Path, target: &Path, dir: bool) -> Result<(), StepError> {
    create_mount_point(target, dir)?;
    let none = None::<&str>;
    mount(Some(source), target, none, MsFlags::MS_BIND | MsFlags::MS_REC, none)
        .step(format_args!("bind {}", target.display()))?;
    // The host's /proc is still the one at hand; its `self` is this process.
    let info = fs::read_to_string(Path::new(OLD).join("proc/self/mountinfo")).step("read mountinfo")?;
    for point in mount_points(&info).into_iter().filter(|p| p == target || p.starts_with(target)) {
        let kept = kept_flags(&point)?;
        let flags =
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | kept;
        mount(none, &point, none, flags, none).step(format_args!("make {} read-only", point.display()))?;
    }
    Ok(())
}

fn create_mount_point(target: &Path, dir: bool) -> Result<(), StepError> {
    if fs::symlink_metadata(target).is_ok() {
        return Ok(());
    }
    if dir {
        return fs::create_dir_all(target).step(format_args!("create {}", target.display()));
    }
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).step(format_args!("create {}", parent.display()))?;
    }
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(target)
        .map(drop)
        .step(format_args!("create {}", target.display()))
}

/// The flags of a mount that the kernel may have locked (when the mount
/// came from a more privileged namespace) and a remount must therefore
/// repeat, as read back through statvfs.
fn kept_flags(point: &Path) -> Result<MsFlags, StepError> {
    let f = statvfs(point).step(format_args!("statvfs {}", point.display()))?.flags();
    let pairs = [
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    Ok(pairs.iter().filter(|(st, _)| f.contains(*st)).fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms))
}

/// Mount points listed in `/proc/self/mountinfo`, in order, with the
/// kernel's octal escapes (`\040` for a space) decoded.
fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo.lines().filter_map(|line| line.split(' ').nth(4)).map(|p| PathBuf::from(unescape_octal(p))).collect()
}

fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A `/proc` of the sandbox's own pid namespace. It must be mounted while
/// the host's `/proc` is still reachable: the kernel lets a user namespace
/// mount proc only where a full proc is already visible.
fn mount_proc() -> Result<(), StepError> {
    let proc = new_path(Path::new("/proc"))?;
    fs::create_dir_all(&proc).step("create /proc")?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), &proc, Some("proc"), flags, None::<&str>).step("mount /proc")?;
    for name in PROC_READ_ONLY {
        let p = proc.join(name);
        if p.exists() {
            bind_ro(&p, &p, p.is_dir())?;
        }
    }
    Ok(())
}

/// A minimal `/dev`: six host device nodes bound onto empty files (a user
/// namespace cannot create device nodes), the usual links, and a small
/// tmpfs `/dev/shm`.
fn make_dev(shm_bytes: u64) -> Result<(), StepError> {
    let dev = new_path(Path::new("/dev"))?;
    mount_tmpfs(&dev, "size=64k,mode=0755", MsFlags::MS_NOEXEC)?;
    let none = None::<&str>;
    for name in DEVICES {
        let host = Path::new(OLD).join("dev").join(name);
        if !host.exists() {
            continue;
        }
        let target = dev.join(name);
        create_mount_point(&target, false)?;
        mount(Some(&host), &target, none, MsFlags::MS_BIND, none).step(format_args!("bind /dev/{name}"))?;
    }
    let links = [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    for (name, to) in links {
        std::os::unix::fs::symlink(to, dev.join(name)).step(format_args!("link /dev/{name}"))?;
    }
    let shm = format!("size={},mode=1777", tmpfs_size(shm_bytes));
    mount_tmpfs(&dev.join("shm"), &shm, MsFlags::empty())
}

/// The generated `/etc`: accounts, hosts and name service switch only.
fn write_etc(student: bool) -> Result<(), StepError> {
    let etc = new_path(Path::new("/etc"))?;
    fs::create_dir_all(&etc).step("create /etc")?;
    let files = [
        ("passwd", passwd(student)),
        ("group", group(student)),
        ("hosts", format!("127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n")),
        ("nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n".to_string()),
        ("hostname", format!("{HOSTNAME}\n")),
    ];
    for (name, text) in files {
        fs::write(etc.join(name), text).step(format_args!("write /etc/{name}"))?;
    }
    Ok(())
}

fn passwd(student: bool) -> String {
    let mut text = "root:x:0:0:root:/work:/bin/sh\n".to_string();
    if student {
        text += &format!("student:x:{STUDENT_ID}:{STUDENT_ID}:student:/work:/bin/sh\n");
    }
    text + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
}

fn group(student: bool) -> String {
    let mut text = "root:x:0:\n".to_string();
    if student {
        text += &format!("student:x:{STUDENT_ID}:\n");
    }
    text + "nogroup:x:65534:\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_paths_must_be_absolute_without_dot_dot() {
        assert_eq!(new_path(Path::new("/opt/rust")).unwrap(), Path::new("/newroot/opt/rust"));
        assert_eq!(old_path(Path::new("/usr")).unwrap(), Path::new("/oldroot/usr"));
        assert!(new_path(Path::new("opt/rust")).is_err());
        assert!(new_path(Path::new("/opt/../etc")).is_err());
        assert!(new_path(Path::new("/")).is_ok());
    }

    #[test]
    fn mount_points_are_read_from_mountinfo_and_unescaped() {
        let info = "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    37 36 0:5 / /home/a\\040b rw - tmpfs tmpfs rw\n";
        assert_eq!(mount_points(info), vec![PathBuf::from("/mnt/parent"), PathBuf::from("/home/a b")]);
    }

    #[test]
    fn octal_escapes_decode_and_stray_backslashes_stay() {
        assert_eq!(unescape_octal("a\\011b\\134c"), "a\tb\\c");
        assert_eq!(unescape_octal("x\\9y\\"), "x\\9y\\");
    }

    #[test]
    fn accounts_list_the_student_only_when_mapped() {
        assert!(passwd(true).contains("student:x:1000:1000:student:/work:/bin/sh\n"));
        assert!(!passwd(false).contains("student"));
        assert!(group(true).contains("student:x:1000:\n"));
        assert!(passwd(false).starts_with("root:x:0:0:"));
    }

    #[test]
    fn zero_sized_tmpfs_is_one_page_not_unlimited() {
        assert_eq!(tmpfs_size(0), 4096);
        assert_eq!(tmpfs_size(1 << 20), 1 << 20);
    }
}
