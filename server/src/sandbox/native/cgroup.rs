//! Per-job cgroups, on the unified (v2) hierarchy or on v1 controllers.
//!
//! Each job gets `<controller root>/<cgroup_parent>/job-<server pid>-<job>`
//! in every controller used (see `cgroup_host.rs` for which): memory (the
//! job's memory, tmpfs included, without swap), pids (processes and
//! threads) and cpu (a CFS quota). The server's pid in the name keeps two
//! servers on one host (tests, a restart beside an old instance) from
//! taking each other's directories.
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

use super::cgroup_host::CgroupHost;
use crate::sandbox::{HostLimits, HostUsage, JobId, SandboxError};

/// The CFS period the CPU quota is expressed in, in microseconds.
pub const CPU_PERIOD_US: u64 = 100_000;

/// Which cgroup hierarchy is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
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
        let Some(mem) = &self.memory else {
            return HostUsage::default();
        };
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

pub fn remove_dirs(version: Version, dirs: &[PathBuf], timeout: Duration) -> Result<(), String> {
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

/// `job-<server pid>-<job>`.
fn dir_name(server_pid: u32, job: JobId) -> String {
    format!("job-{server_pid}-{job}")
}

/// The server pid of a `job-*` or `probe-*` directory name.
pub fn parse_dir_name(name: &str) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
