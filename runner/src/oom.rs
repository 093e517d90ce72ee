//! The OOM-kill counter of the runner's own memory cgroup, when it can see it.
//!
//! In a Docker container the runner's cgroup is the container's, mounted
//! read-only at `/sys/fs/cgroup`: `memory.events` (cgroup v2, `oom_kill N`)
//! or `memory/memory.oom_control` (v1, `oom_kill N` since Linux 4.13). The
//! kernel bumps the counter before it delivers the SIGKILL, so reading it
//! after every process of a stage is reaped tells, without a race, whether
//! the memory limit ended the stage. The native backend reads its job's
//! cgroup from the host instead; there the files are absent and this says
//! nothing (`None`).

use std::path::Path;

/// The counter files, v2 first.
const FILES: [&str; 2] = ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"];

/// How many processes the OOM killer has killed in this cgroup, if known.
pub fn oom_kills() -> Option<u64> {
    FILES.iter().find_map(|f| read(Path::new(f)))
}

fn read(path: &Path) -> Option<u64> {
    parse(&std::fs::read_to_string(path).ok()?)
}

/// The `oom_kill` line of a `memory.events` or `memory.oom_control` file.
fn parse(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_both_formats() {
        assert_eq!(parse("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), Some(3));
        assert_eq!(parse("low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\noom_group_kill 0\n"), Some(2));
        assert_eq!(parse("oom_kill_disable 0\nunder_oom 0\n"), None);
    }
}
