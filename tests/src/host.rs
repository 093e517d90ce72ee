//! The host seen from outside the sandbox: what a job must not leave behind.
//!
//! A hostile job carries a [`Marker`], a string of digits unique to the test,
//! in its command line (as an argument, or as a `sleep` duration) and in the
//! names of the files it writes. After the job, no process on the host may
//! have the marker in its command line, and no file on the host may have it
//! in its name. Cgroups and mounts carry no marker, so they are compared
//! with a [`Snapshot`] taken before the job: any cgroup of a job, or any
//! mount mentioning coderun, that was not there before is a leftover.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{bail, Context, Result};

/// A string of digits unique to one test run, so that it can appear both in
/// an argument list and as the fraction of a `sleep` duration.
#[derive(Debug, Clone)]
pub struct Marker(String);

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Marker {
    pub fn new() -> Marker {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Marker(format!("7{:07}{:03}{:09}", std::process::id(), n % 1000, nanos))
    }

    /// The digits themselves.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// Arguments for `sleep` that add up to just over `seconds` and carry
    /// the marker: `sleep 3600 0.7...` sleeps an hour and a bit.
    pub fn sleep_args(&self, seconds: u32) -> String {
        format!("{seconds} 0.{}", self.0)
    }
}

impl Default for Marker {
    fn default() -> Self {
        Marker::new()
    }
}

/// Resident memory of a process, in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status =
        fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS line")?;
    let kb: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).context("bad VmRSS line")?;
    Ok(kb * 1024)
}

/// Whether a process exists (and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// Processes on the host whose command line contains `needle`, as
/// `(pid, command line)`.
pub fn processes_with(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(raw) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) && pid != std::process::id() {
            found.push((pid, cmdline.trim_end().to_owned()));
        }
    }
    found
}

/// Waits (up to `limit`) until no process carries `needle`.
pub async fn wait_until_no_process_with(needle: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let left = processes_with(needle);
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} process(es) of the job still run on the host {limit:?} after it ended: {left:?}", left.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to `limit`) until some process carries `needle`.
pub async fn wait_until_process_with(needle: &str, limit: Duration) -> Result<Vec<(u32, String)>> {
    let deadline = Instant::now() + limit;
    loop {
        let found = processes_with(needle);
        if !found.is_empty() {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!("no process with {needle:?} in its command line appeared within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Cgroup directories below a cgroup named `parent` (the server's
/// `native.cgroup_parent`) in every hierarchy under /sys/fs/cgroup.
pub fn cgroups_under(parent: &str) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    for hierarchy in fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        walk(&hierarchy.path().join(parent), 5, &mut |path, is_dir| {
            if is_dir {
                found.insert(path.to_owned());
            }
        });
    }
    found
}

/// Removes the (empty) cgroup `parent` from every hierarchy, once its
/// server has stopped. Errors are ignored: a leftover is reported elsewhere.
pub fn remove_cgroup_parent(parent: &str) {
    for hierarchy in fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        let _ = fs::remove_dir(hierarchy.path().join(parent));
    }
}

/// Lines of the host's mount table that mention `needle`.
pub fn mounts_mentioning(needle: &str) -> BTreeSet<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Files and directories on the host whose name contains `needle`, in the
/// places a sandbox's files could leak to.
pub fn files_named_with(needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut visit = |path: &Path, _is_dir: bool| {
        if path.file_name().is_some_and(|n| n.to_string_lossy().contains(needle)) {
            found.push(path.to_owned());
        }
    };
    for (root, depth) in
        [("/tmp", 8), ("/var/tmp", 8), ("/dev/shm", 8), ("/run", 6), ("/var/lib", 5), ("/work", 3), ("/root", 3)]
    {
        walk(Path::new(root), depth, &mut visit);
    }
    found
}

/// Visits every entry under `root` down to `depth` levels, never following
/// symbolic links and skipping build trees.
fn walk(root: &Path, depth: usize, visit: &mut dyn FnMut(&Path, bool)) {
    if depth == 0 {
        return;
    }
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        visit(&path, kind.is_dir());
        let name = entry.file_name();
        let skip = matches!(name.to_str(), Some("target" | ".git" | "node_modules" | "proc" | "sys"));
        if kind.is_dir() && !kind.is_symlink() && !skip {
            walk(&path, depth - 1, visit);
        }
    }
}

/// What the host looked like before a job, to compare with after it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    cgroup_parent: String,
    cgroups: BTreeSet<PathBuf>,
    mounts: BTreeSet<String>,
    /// The Docker instance whose containers must all be gone.
    instance: Option<String>,
}

impl Snapshot {
    /// The host now, for a server whose `native.cgroup_parent` is `cgroup_parent`.
    pub fn take(cgroup_parent: &str) -> Snapshot {
        Snapshot {
            cgroup_parent: cgroup_parent.to_owned(),
            cgroups: cgroups_under(cgroup_parent),
            mounts: mounts_mentioning("coderun"),
            instance: None,
        }
    }

    /// Also require that no container of this Docker instance is left
    /// (a server with its pool off). `None` (native) checks nothing more.
    pub fn with_containers_of(mut self, instance: Option<&str>) -> Snapshot {
        self.instance = instance.map(str::to_owned);
        self
    }

    /// Fails, listing every leftover, unless the job marked `marker` left no
    /// process, no cgroup, no coderun mount and no file behind. Leftovers get
    /// a few seconds to be cleaned up; the message says how long they took.
    pub async fn assert_nothing_left(&self, marker: &Marker) -> Result<()> {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(5);
        loop {
            let problems = self.leftovers(marker);
            if problems.is_empty() {
                let took = started.elapsed();
                if took > Duration::from_millis(500) {
                    println!("note: the job's leftovers took {took:?} to disappear");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the job left things behind (still there after {:?}):\n{}",
                    started.elapsed(),
                    problems.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn leftovers(&self, marker: &Marker) -> Vec<String> {
        let mut problems = Vec::new();
        let processes = processes_with(marker.text());
        if !processes.is_empty() {
            problems.push(format!("processes of the job: {processes:?}"));
        }
        let cgroups: Vec<_> = cgroups_under(&self.cgroup_parent).difference(&self.cgroups).cloned().collect();
        if !cgroups.is_empty() {
            problems.push(format!("cgroups: {cgroups:?}"));
        }
        let mounts: Vec<_> = mounts_mentioning("coderun").difference(&self.mounts).cloned().collect();
        let marked: Vec<_> = mounts_mentioning(marker.text()).into_iter().collect();
        if !mounts.is_empty() || !marked.is_empty() {
            problems.push(format!("mounts: {mounts:?} {marked:?}"));
        }
        if let Some(instance) = &self.instance {
            let containers = containers_of(instance);
            if !containers.is_empty() {
                problems.push(format!("containers: {containers:?}"));
            }
        }
        let files = files_named_with(marker.text());
        if !files.is_empty() {
            problems.push(format!("files: {files:?}"));
        }
        problems
    }
}

/// The ids of every container, running or not, labelled with this Docker
/// instance. Uses the docker CLI: the tests look at the engine from outside,
/// as an operator would.
pub fn containers_of(instance: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "-q", "--filter", &format!("label=org.coderun.instance={instance}")])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_owned).collect()
        }
        Ok(o) => vec![format!("(docker ps failed: {})", String::from_utf8_lossy(&o.stderr).trim())],
        Err(e) => vec![format!("(cannot run docker: {e})")],
    }
}
