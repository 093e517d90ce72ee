//! The runner's view of `/proc`: which processes descend from it, and how
//! much CPU each has used.
//!
//! Kill-all (when the runner is not PID 1) and CPU accounting both need the
//! live processes of a stage. Every one of them descends from the runner:
//! the runner is a child subreaper, so even a daemon that double-forks and
//! `setsid`s is reparented to the runner, never to an outside init.
//!
//! `/proc` is only trusted when it belongs to the runner's PID namespace
//! (`/proc/self` names the runner's own pid). A backend that left the
//! host's `/proc` mounted in a new PID namespace would otherwise have the
//! runner kill host pids; then [`ProcFs::open`] returns `None` and the
//! runner falls back to what works without it (see `reap.rs`, `cpu.rs`).

use std::collections::HashMap;
use std::time::Duration;

/// What the runner reads of one `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub ppid: i32,
    /// The state letter; `Z` for a zombie.
    pub state: u8,
    /// User plus system time of the process itself and of the children it
    /// has waited for, in clock ticks.
    pub cpu_ticks: u64,
}

/// A `/proc` known to belong to the runner's PID namespace.
#[derive(Debug, Clone, Copy)]
pub struct ProcFs {
    self_pid: i32,
    ticks_per_sec: u64,
}

impl ProcFs {
    /// `Some` when `/proc` is mounted and is the runner's own.
    pub fn open() -> Option<ProcFs> {
        let self_pid = std::process::id() as i32;
        let link = std::fs::read_link("/proc/self").ok()?;
        if link.to_str()? != self_pid.to_string() {
            return None;
        }
        // Safety: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let ticks_per_sec = if ticks > 0 { ticks as u64 } else { 100 };
        Some(ProcFs { self_pid, ticks_per_sec })
    }

    /// Every process descending from the runner, zombies included, found
    /// by following parent pids down from the runner's own.
    pub fn descendants(&self) -> Vec<ProcStat> {
        descendants_of(self.self_pid, &snapshot())
    }

    /// CPU time of the live descendants plus the children they have waited
    /// for. Children the runner itself reaped are not included: the caller
    /// adds them from `getrusage(RUSAGE_CHILDREN)`.
    pub fn descendants_cpu(&self) -> Duration {
        let ticks: u64 = self.descendants().iter().map(|p| p.cpu_ticks).sum();
        Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / self.ticks_per_sec)
    }
}

/// All processes `/proc` shows that could be read; processes that vanish
/// while being read are skipped.
fn snapshot() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut procs = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some(stat) = parse_stat(&text) {
                procs.push(stat);
            }
        }
    }
    procs
}

/// The processes of `all` below `root` in the parent tree.
fn descendants_of(root: i32, all: &[ProcStat]) -> Vec<ProcStat> {
    let mut children: HashMap<i32, Vec<&ProcStat>> = HashMap::new();
    for p in all {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for child in children.get(&pid).into_iter().flatten() {
            // pid 0 is the kernel's; a self-loop would never end.
            if child.pid != root && child.pid > 0 {
                found.push(**child);
                queue.push(child.pid);
            }
        }
    }
    found
}

/// Parses `/proc/<pid>/stat`. The command name is in parentheses and may
/// itself contain spaces and parentheses, so fields are counted from the
/// last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // Field numbers as in proc(5): 3 state, 4 ppid, 14 utime, 15 stime,
    // 16 cutime, 17 cstime; fields[0] is field 3.
    let field = |n: usize| fields.get(n - 3).copied();
    let state = *field(3)?.as_bytes().first()?;
    let ppid = field(4)?.parse().ok()?;
    let mut cpu_ticks = 0u64;
    for n in 14..=17 {
        // cutime and cstime are signed in proc(5); never negative in practice.
        cpu_ticks += field(n)?.parse::<i64>().ok()?.max(0) as u64;
    }
    Some(ProcStat { pid, ppid, state, cpu_ticks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_awkward_command_name_parses() {
        let text = "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 12345 1000 100 18446744073709551615\n";
        let s = parse_stat(text).unwrap();
        assert_eq!(s, ProcStat { pid: 4242, ppid: 17, state: b'S', cpu_ticks: 13 });
    }

    #[test]
    fn truncated_stat_is_refused() {
        assert_eq!(parse_stat("12 (x) R 1 2 3"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn descendants_follow_parent_links_only_below_the_root() {
        let p = |pid, ppid| ProcStat { pid, ppid, state: b'S', cpu_ticks: 0 };
        let all = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(13, 10), p(20, 1), p(21, 20)];
        let mut got: Vec<i32> = descendants_of(10, &all).iter().map(|s| s.pid).collect();
        got.sort();
        assert_eq!(got, vec![11, 12, 13]);
    }

    #[test]
    fn own_proc_is_trusted_on_an_ordinary_host() {
        let procfs = ProcFs::open().expect("tests run with the host's /proc");
        assert!(procfs.descendants().iter().all(|p| p.pid != std::process::id() as i32));
    }
}
