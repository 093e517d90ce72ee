//! Where the host's cgroup controllers are, and which of them work.
//!
//! v2 is used when a cgroup2 mount offers both memory and pids (all the
//! controllers are then enabled down to `cgroup_parent`); otherwise the v1
//! mount of each controller, found by its mount options. A probe cgroup
//! shows which controllers accept limits. At startup, job directories whose
//! server is gone are stale: what is left in them is killed and they are
//! removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::cgroup::{parse_dir_name, remove_dirs, Version};

/// Which cgroup controllers are usable for jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupFeatures {
    pub memory: bool,
    pub pids: bool,
    pub cpu: bool,
}

/// A cgroup filesystem found in `/proc/self/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    path: PathBuf,
    /// `None` for cgroup2; the controllers of a v1 mount otherwise.
    v1_controllers: Option<Vec<String>>,
}

/// The parent directories under which job cgroups are made, per controller.
#[derive(Debug, Clone)]
pub struct CgroupHost {
    pub version: Version,
    /// v2: the root of the unified hierarchy.
    v2_root: Option<PathBuf>,
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub cpu: Option<PathBuf>,
}

impl CgroupHost {
    /// Finds the controllers, creates `parent` in each, and keeps those in
    /// which a probe cgroup accepts a limit. `Err` says why none is usable.
    pub fn probe(parent: &str) -> Result<CgroupHost, String> {
        let mounts = fs::read_to_string("/proc/self/mounts").map_err(|e| format!("cannot read mounts: {e}"))?;
        let mounts = parse_mounts(&mounts);
        let mut host = discover(&mounts, parent).ok_or("no cgroup memory or pids controller is mounted")?;
        if let Some(root) = &host.v2_root {
            // On v2 a controller reaches a cgroup only if every ancestor
            // enables it for its children.
            let mut dir = root.clone();
            for level in Path::new(parent).components() {
                for controller in ["memory", "pids", "cpu"] {
                    let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{controller}"));
                }
                dir.push(level);
                let _ = fs::create_dir(&dir);
            }
            for controller in ["memory", "pids", "cpu"] {
                let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{controller}"));
            }
        }
        let probe = format!("probe-{}", std::process::id());
        let try_in = |dir: &Option<PathBuf>, file: &str, value: &str| -> Option<PathBuf> {
            let dir = dir.as_ref()?;
            fs::create_dir_all(dir).ok()?;
            let cg = dir.join(&probe);
            let _ = fs::create_dir(&cg);
            let ok = fs::write(cg.join(file), value).is_ok();
            let _ = fs::remove_dir(&cg);
            ok.then(|| dir.clone())
        };
        let (mem_file, cpu_file, cpu_value) = match host.version {
            Version::V1 => ("memory.limit_in_bytes", "cpu.cfs_quota_us", "-1"),
            Version::V2 => ("memory.max", "cpu.max", "max 100000"),
        };
        host.memory = try_in(&host.memory, mem_file, "9223372036854771712");
        host.pids = try_in(&host.pids, "pids.max", "max");
        host.cpu = try_in(&host.cpu, cpu_file, cpu_value);
        if host.memory.is_none() && host.pids.is_none() {
            return Err(format!("cannot create cgroups under {parent}"));
        }
        Ok(host)
    }

    pub fn features(&self) -> CgroupFeatures {
        CgroupFeatures { memory: self.memory.is_some(), pids: self.pids.is_some(), cpu: self.cpu.is_some() }
    }

    fn parents(&self) -> Vec<&PathBuf> {
        let mut out: Vec<&PathBuf> = Vec::new();
        for p in [&self.memory, &self.pids, &self.cpu].into_iter().flatten() {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    /// Kills what is left in job cgroups of servers that are gone (or of an
    /// earlier server that had this pid) and removes them.
    pub fn sweep_stale(&self, timeout: Duration) {
        for parent in self.parents() {
            let Ok(entries) = fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let stale = match parse_dir_name(&name) {
                    Some(pid) => pid != std::process::id() && !alive(pid),
                    None => false,
                };
                if stale {
                    let dir = entry.path();
                    tracing::warn!(cgroup = %dir.display(), "removing a stale job cgroup");
                    if let Err(e) = remove_dirs(self.version, std::slice::from_ref(&dir), timeout) {
                        tracing::error!(cgroup = %dir.display(), error = %e, "failed to remove a stale job cgroup");
                    }
                }
            }
        }
    }
}

fn alive(pid: u32) -> bool {
    !matches!(kill(Pid::from_raw(pid as i32), None), Err(nix::errno::Errno::ESRCH))
}

fn parse_mounts(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(' ');
            let (_, path, fstype, options) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let path = PathBuf::from(path.replace("\\040", " "));
            match fstype {
                "cgroup2" => Some(CgroupMount { path, v1_controllers: None }),
                "cgroup" => {
                    Some(CgroupMount { path, v1_controllers: Some(options.split(',').map(str::to_string).collect()) })
                }
                _ => None,
            }
        })
        .collect()
}

/// Chooses v2 when a cgroup2 mount offers memory and pids, v1 otherwise.
fn discover(mounts: &[CgroupMount], parent: &str) -> Option<CgroupHost> {
    for m in mounts.iter().filter(|m| m.v1_controllers.is_none()) {
        let controllers = fs::read_to_string(m.path.join("cgroup.controllers")).unwrap_or_default();
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        if has("memory") && has("pids") {
            let dir = m.path.join(parent);
            return Some(CgroupHost {
                version: Version::V2,
                v2_root: Some(m.path.clone()),
                memory: Some(dir.clone()),
                pids: Some(dir.clone()),
                cpu: has("cpu").then_some(dir),
            });
        }
    }
    let v1 = |controller: &str| {
        mounts
            .iter()
            .find(|m| m.v1_controllers.as_ref().is_some_and(|cs| cs.iter().any(|c| c == controller)))
            .map(|m| m.path.join(parent))
    };
    let host =
        CgroupHost { version: Version::V1, v2_root: None, memory: v1("memory"), pids: v1("pids"), cpu: v1("cpu") };
    (host.memory.is_some() || host.pids.is_some()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n\
        cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\n\
        cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n\
        cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n\
        cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";

    #[test]
    fn mounts_parse_into_v1_controllers_and_v2_roots() {
        let m = parse_mounts(MOUNTS);
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].path, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(m[0].v1_controllers.as_ref().unwrap().contains(&"cpuacct".to_string()));
        assert_eq!(m[3], CgroupMount { path: "/sys/fs/cgroup/unified".into(), v1_controllers: None });
    }

    #[test]
    fn v1_controllers_are_found_by_option_not_by_directory_name() {
        // The cgroup2 mount in MOUNTS does not exist here, so v1 is chosen.
        let host = discover(&parse_mounts(MOUNTS).into_iter().take(3).collect::<Vec<_>>(), "coderun").unwrap();
        assert_eq!(host.version, Version::V1);
        assert_eq!(host.cpu.unwrap(), Path::new("/sys/fs/cgroup/cpu,cpuacct/coderun"));
        assert_eq!(host.memory.unwrap(), Path::new("/sys/fs/cgroup/memory/coderun"));
        assert!(discover(&[], "coderun").is_none());
    }
}
