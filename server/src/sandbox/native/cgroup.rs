//! Per-job cgroups, on the unified (v2) hierarchy or on v1 controllers.
//!
//! Each job gets `<controller root>/<cgroup_parent>/job-<server pid>-<job>`
//! in every controller used: memory (the job's memory, tmpfs included,
//! without swap), pids (processes and threads) and cpu (a CFS quota). The
//! server's pid in the name keeps two servers on one host (tests, a restart
//! beside an old instance) from taking each other's directories; a job
//! directory whose server is gone is stale, and the next server to start
//! kills what is left in it and removes it.
//!
//! v2 is used when a cgroup2 mount offers both memory and pids; otherwise
//! the v1 mounts of each controller are used.
//!
//! Invariant: a job's cgroup directories are removed only once no process
//! is left in them, and [`JobCgroup::remove`] keeps killing until that is so.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::sandbox::{HostLimits, HostUsage, JobId, SandboxError};

/// The CFS period the CPU quota is expressed in, in microseconds.
const CPU_PERIOD_US: u64 = 100_000;

/// Which cgroup controllers are usable for jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupFeatures {
    pub memory: bool,
    pub pids: bool,
    pub cpu: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
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
    version: Version,
    /// v2: the root of the unified hierarchy.
    v2_root: Option<PathBuf>,
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
    cpu: Option<PathBuf>,
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
            let Ok(entries) = fs::read_dir(parent) else { continue };
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

/// The cgroups of one job.
#[derive(Debug)]
pub struct JobCgroup {
    version: Version,
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
    cpu: Option<PathBuf>,
    /// Each distinct directory once, in creation order.
    dirs: Vec<PathBuf>,
    /// Processes and threads of the sandbox's machinery, beyond the limit.
    extra_pids: u64,
    /// v2: `memory.peak`, kept open because a reset applies to one open file.
    peak: Option<File>,
}

impl JobCgroup {
    /// Creates the job's directories and sets the first stage's limits.
    pub fn create(
        host: &CgroupHost,
        job: JobId,
        limits: HostLimits,
        cpus: f64,
        extra_pids: u64,
    ) -> Result<JobCgroup, SandboxError> {
        let name = dir_name(std::process::id(), job);
        let at = |p: &Option<PathBuf>| p.as_ref().map(|p| p.join(&name));
        let mut cg = JobCgroup {
            version: host.version,
            memory: at(&host.memory),
            pids: at(&host.pids),
            cpu: at(&host.cpu),
            dirs: Vec::new(),
            extra_pids,
            peak: None,
        };
        if let Err(e) = cg.make_dirs().and_then(|()| cg.configure(limits, cpus)) {
            // Invariant: a failed start leaves no cgroup behind either.
            let _ = remove_dirs(cg.version, &cg.dirs, Duration::from_secs(1));
            return Err(e);
        }
        Ok(cg)
    }

    fn make_dirs(&mut self) -> Result<(), SandboxError> {
        for dir in [&self.memory, &self.pids, &self.cpu].into_iter().flatten().cloned().collect::<Vec<_>>() {
            if self.dirs.contains(&dir) {
                continue;
            }
            if dir.exists() {
                // Left by an earlier server with this pid: job ids are unique
                // within one server, so nothing of ours is in it.
                let _ = remove_dirs(self.version, std::slice::from_ref(&dir), Duration::from_secs(1));
            }
            fs::create_dir(&dir).map_err(|source| SandboxError::Cgroup { path: dir.clone(), source })?;
            self.dirs.push(dir);
        }
        Ok(())
    }

    fn configure(&mut self, limits: HostLimits, cpus: f64) -> Result<(), SandboxError> {
        self.set_limits(limits)?;
        if let Some(cpu) = &self.cpu {
            if self.version == Version::V1 {
                write(&cpu.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
            }
            let (file, value) = cpu_quota(self.version, cpus);
            write(&cpu.join(file), &value)?;
        }
        if self.version == Version::V2 {
            // Kernels from 6.12 reset memory.peak for one open file when it
            // is written; older ones only let it be read.
            self.peak = self.memory.as_ref().and_then(|m| {
                let path = m.join("memory.peak");
                File::options().read(true).write(true).open(&path).or_else(|_| File::open(&path)).ok()
            });
        }
        Ok(())
    }

    /// The `cgroup.procs` files the sandbox's first process joins.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    pub fn set_limits(&mut self, limits: HostLimits) -> Result<(), SandboxError> {
        if let Some(mem) = &self.memory {
            let bytes = limits.memory_bytes.to_string();
            match self.version {
                Version::V1 => {
                    // memsw (memory + swap) may never be below the memory
                    // limit, so it is written before a raise and after a cut.
                    let memsw = mem.join("memory.memsw.limit_in_bytes");
                    let has_memsw = memsw.exists();
                    if has_memsw {
                        let _ = fs::write(&memsw, &bytes);
                    }
                    write(&mem.join("memory.limit_in_bytes"), &bytes)?;
                    if has_memsw {
                        write(&memsw, &bytes)?;
                    } else {
                        // Without swap accounting, at least ask not to swap.
                        let _ = fs::write(mem.join("memory.swappiness"), "0");
                    }
                }
                Version::V2 => {
                    write(&mem.join("memory.max"), &bytes)?;
                    let swap = mem.join("memory.swap.max");
                    if swap.exists() {
                        write(&swap, "0")?;
                    }
                }
            }
        }
        if let Some(pids) = &self.pids {
            let max = limits.processes.saturating_add(self.extra_pids);
            write(&pids.join("pids.max"), &max.to_string())?;
        }
        Ok(())
    }

    pub fn usage(&self) -> HostUsage {
        let Some(mem) = &self.memory else { return HostUsage::default() };
        let read = |name: &str| fs::read_to_string(mem.join(name)).unwrap_or_default();
        match self.version {
            Version::V1 => HostUsage {
                oom_kills: keyed_value(&read("memory.oom_control"), "oom_kill").unwrap_or(0),
                memory_peak_bytes: read("memory.max_usage_in_bytes").trim().parse().ok(),
            },
            Version::V2 => HostUsage {
                oom_kills: keyed_value(&read("memory.events"), "oom_kill").unwrap_or(0),
                memory_peak_bytes: self.peak.as_ref().and_then(|f| {
                    let mut buf = [0u8; 32];
                    let n = f.read_at(&mut buf, 0).ok()?;
                    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
                }),
            },
        }
    }

    pub fn reset_peak(&mut self) {
        match self.version {
            Version::V1 => {
                if let Some(mem) = &self.memory {
                    let _ = fs::write(mem.join("memory.max_usage_in_bytes"), "0");
                }
            }
            Version::V2 => {
                // Kernels before 6.12 cannot reset memory.peak; a peak that
                // is not since the reset is not reported at all.
                if let Some(f) = &self.peak {
                    if f.write_at(b"reset\n", 0).is_err() {
                        self.peak = None;
                    }
                }
            }
        }
    }

    /// SIGKILLs every process in the job's cgroups, once.
    pub fn kill_all(&self) {
        kill_in(self.version, &self.dirs);
    }

    /// Kills until the cgroups are empty, then removes them; gives up after
    /// `timeout`, naming the directory that is left.
    pub fn remove(self, timeout: Duration) -> Result<(), String> {
        remove_dirs(self.version, &self.dirs, timeout)
    }
}

fn write(path: &Path, value: &str) -> Result<(), SandboxError> {
    fs::write(path, value).map_err(|source| SandboxError::Cgroup { path: path.to_path_buf(), source })
}

fn cpu_quota(version: Version, cpus: f64) -> (&'static str, String) {
    let quota = (cpus > 0.0).then(|| ((cpus * CPU_PERIOD_US as f64) as u64).max(1000));
    match (version, quota) {
        (Version::V1, Some(q)) => ("cpu.cfs_quota_us", q.to_string()),
        (Version::V1, None) => ("cpu.cfs_quota_us", "-1".to_string()),
        (Version::V2, Some(q)) => ("cpu.max", format!("{q} {CPU_PERIOD_US}")),
        (Version::V2, None) => ("cpu.max", format!("max {CPU_PERIOD_US}")),
    }
}

fn kill_in(version: Version, dirs: &[PathBuf]) {
    for dir in dirs {
        if version == Version::V2 && fs::write(dir.join("cgroup.kill"), "1").is_ok() {
            continue;
        }
        for pid in fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default().lines() {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

fn remove_dirs(version: Version, dirs: &[PathBuf], timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut left: Vec<&PathBuf> = dirs.iter().collect();
    loop {
        let owned: Vec<PathBuf> = left.iter().map(|d| d.to_path_buf()).collect();
        kill_in(version, &owned);
        let mut last = None;
        left.retain(|d| match fs::remove_dir(d) {
            Ok(()) => false,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                last = Some(e);
                true
            }
        });
        match (left.first(), last) {
            (None, _) => return Ok(()),
            (Some(d), e) if Instant::now() >= deadline => {
                return Err(format!("{} is not empty: {}", d.display(), e.map(|e| e.to_string()).unwrap_or_default()));
            }
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn alive(pid: u32) -> bool {
    !matches!(kill(Pid::from_raw(pid as i32), None), Err(nix::errno::Errno::ESRCH))
}

/// `job-<server pid>-<job>`.
fn dir_name(server_pid: u32, job: JobId) -> String {
    format!("job-{server_pid}-{job}")
}

/// The server pid of a `job-*` or `probe-*` directory name.
fn parse_dir_name(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("job-").or_else(|| name.strip_prefix("probe-"))?;
    let pid = rest.split('-').next()?;
    pid.parse().ok()
}

/// The `N` of a `key N` line, as in `memory.oom_control` and `memory.events`.
fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn parse_mounts(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split(' ');
            let (_, path, fstype, options) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let path = PathBuf::from(path.replace("\\040", " "));
            match fstype {
                "cgroup2" => Some(CgroupMount { path, v1_controllers: None }),
                "cgroup" => Some(CgroupMount {
                    path,
                    v1_controllers: Some(options.split(',').map(str::to_string).collect()),
                }),
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
    let host = CgroupHost { version: Version::V1, v2_root: None, memory: v1("memory"), pids: v1("pids"), cpu: v1("cpu") };
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

    #[test]
    fn job_directories_carry_the_server_pid() {
        assert_eq!(dir_name(4242, 17), "job-4242-17");
        assert_eq!(parse_dir_name("job-4242-17"), Some(4242));
        assert_eq!(parse_dir_name("probe-99"), Some(99));
        assert_eq!(parse_dir_name("job-17"), Some(17));
        assert_eq!(parse_dir_name("tasks"), None);
        assert_eq!(parse_dir_name("job-x-1"), None);
    }

    #[test]
    fn oom_kills_are_read_from_v1_and_v2_files() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        let v2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(keyed_value(v1, "oom_kill"), Some(3));
        assert_eq!(keyed_value(v2, "oom_kill"), Some(2));
        assert_eq!(keyed_value(v2, "oom"), Some(2));
        assert_eq!(keyed_value("", "oom_kill"), None);
    }

    #[test]
    fn cpu_quota_is_written_per_version() {
        assert_eq!(cpu_quota(Version::V1, 1.5), ("cpu.cfs_quota_us", "150000".into()));
        assert_eq!(cpu_quota(Version::V1, 0.0), ("cpu.cfs_quota_us", "-1".into()));
        assert_eq!(cpu_quota(Version::V2, 0.5), ("cpu.max", "50000 100000".into()));
        assert_eq!(cpu_quota(Version::V2, 0.0), ("cpu.max", "max 100000".into()));
    }
}
