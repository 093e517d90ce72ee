//! The create request of a job's container: every hardening setting of
//! [`DockerConfig`] in one place, so that a test can read them back from a
//! live container.
//!
//! The container attaches its stdio (the runner's protocol), keeps stdin
//! open until the server closes it (`stdin_once`: the runner then sees end
//! of file and exits), and removes itself once it has exited, so even a
//! server killed with SIGKILL leaves nothing running: its attach connection
//! closes, the runner exits, the engine removes the container.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, ResourcesUlimits};

use super::ContainerShape;
use crate::{
    config::DockerConfig,
    sandbox::{HostLimits, JobId},
};

/// The label naming the server instance a container belongs to.
pub const INSTANCE_LABEL: &str = "org.coderun.instance";
/// The label naming the job (or pool sandbox) id.
pub const JOB_LABEL: &str = "org.coderun.job";
/// Where the job's files live, a tmpfs.
pub const WORKDIR: &str = "/work";

/// A readable, unique container name: `coderun-INSTANCE-RUN-JOB`, where RUN
/// is random per server process. Not the pid: two servers that each run as
/// PID 1 of their own container share one engine, and so would their names.
pub fn name(instance: &str, job: JobId) -> String {
    let clean: String =
        instance.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("coderun-{clean}-{}-{job}", run_token())
}

/// Eight hex digits, random once per process (std's hasher keys are random).
fn run_token() -> &'static str {
    use std::hash::{BuildHasher, Hasher};
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        format!("{:08x}", h.finish() as u32)
    })
}

/// The pids limit of a container: the stage's processes and the runner's.
pub fn pids_limit(c: &DockerConfig, limits: HostLimits) -> i64 {
    to_i64(limits.processes.saturating_add(c.runner_processes))
}

/// The create request for one job's container.
pub fn create_body(c: &DockerConfig, shape: &ContainerShape, job: JobId, limits: HostLimits) -> ContainerCreateBody {
    let tmpfs_opts = |bytes: u64, exec: bool| {
        let exec = if exec { "exec" } else { "noexec" };
        let (uid, gid) = c.user.split_once(':').unwrap_or((c.user.as_str(), c.user.as_str()));
        format!("rw,{exec},nosuid,nodev,size={bytes},mode=0700,uid={uid},gid={gid}")
    };
    let tmpfs = HashMap::from([
        (WORKDIR.to_owned(), tmpfs_opts(c.workdir_bytes, shape.exec_workdir)),
        ("/tmp".to_owned(), tmpfs_opts(c.tmp_bytes, false)),
    ]);
    let ulimit = |name: &str, value: u64| ResourcesUlimits {
        name: Some(name.to_owned()),
        soft: Some(to_i64(value)),
        hard: Some(to_i64(value)),
    };
    let memory = to_i64(limits.memory_bytes);
    let host = HostConfig {
        network_mode: Some(c.network.clone()),
        cap_drop: Some(c.cap_drop.clone()),
        security_opt: c.no_new_privileges.then(|| vec!["no-new-privileges:true".to_owned()]),
        readonly_rootfs: Some(c.read_only_root),
        tmpfs: Some(tmpfs),
        memory: Some(memory),
        // Equal to memory: no swap, so the limit is the limit.
        memory_swap: Some(memory),
        pids_limit: Some(pids_limit(c, limits)),
        nano_cpus: (c.cpus > 0.0).then_some((c.cpus * 1e9) as i64),
        ulimits: Some(vec![
            ulimit("nofile", c.ulimit_open_files),
            ulimit("fsize", c.ulimit_file_size_bytes),
            ulimit("core", c.ulimit_core_bytes),
        ]),
        log_config: Some(HostConfigLogConfig { typ: Some(c.log_driver.clone()), config: None }),
        init: Some(c.init),
        oom_score_adj: Some(c.oom_score_adj),
        runtime: shape.runtime.clone(),
        auto_remove: Some(true),
        ipc_mode: Some("private".to_owned()),
        ..Default::default()
    };
    let labels =
        HashMap::from([(INSTANCE_LABEL.to_owned(), c.instance.clone()), (JOB_LABEL.to_owned(), job.to_string())]);
    ContainerCreateBody {
        image: Some(shape.image.clone()),
        user: Some(c.user.clone()),
        working_dir: Some(WORKDIR.to_owned()),
        // The runner's own environment; each stage gets the language's.
        env: Some(vec!["PATH=/usr/local/bin:/usr/bin:/bin".into(), "HOME=/tmp".into(), "LANG=C.UTF-8".into()]),
        entrypoint: Some(vec!["/usr/local/bin/coderun-runner".to_owned()]),
        cmd: Some(Vec::new()),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(true),
        stdin_once: Some(true),
        tty: Some(false),
        network_disabled: Some(c.network == "none"),
        hostname: Some("sandbox".to_owned()),
        labels: Some(labels),
        host_config: Some(host),
        ..Default::default()
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(exec: bool) -> ContainerShape {
        ContainerShape { image: "coderun/python".into(), exec_workdir: exec, runtime: None }
    }

    #[test]
    fn defaults_harden_everything() {
        let c = DockerConfig::default();
        let b = create_body(&c, &shape(false), 7, HostLimits { memory_bytes: 256 << 20, processes: 64 });
        let h = b.host_config.unwrap();
        assert_eq!(h.network_mode.as_deref(), Some("none"));
        assert_eq!(h.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(h.security_opt, Some(vec!["no-new-privileges:true".to_owned()]));
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(h.memory, Some(256 << 20));
        assert_eq!(h.memory_swap, h.memory);
        assert_eq!(h.pids_limit, Some(64 + 32));
        assert_eq!(h.nano_cpus, Some(1_000_000_000));
        assert_eq!(h.log_config.unwrap().typ.as_deref(), Some("none"));
        assert_eq!(h.oom_score_adj, Some(1000));
        let tmpfs = h.tmpfs.unwrap();
        assert!(tmpfs["/work"].contains("noexec") && tmpfs["/work"].contains("uid=1000"));
        assert!(tmpfs["/tmp"].contains("noexec"));
        let ulimits: Vec<_> = h.ulimits.unwrap().into_iter().map(|u| (u.name.unwrap(), u.hard.unwrap())).collect();
        assert!(ulimits.contains(&("core".to_owned(), 0)));
        assert_eq!(b.user.as_deref(), Some("1000:1000"));
        assert_eq!(b.labels.unwrap()[INSTANCE_LABEL], "default");
    }

    #[test]
    fn compiled_languages_may_exec_in_work_only() {
        let c = DockerConfig::default();
        let b = create_body(&c, &shape(true), 1, HostLimits { memory_bytes: 1 << 30, processes: 8 });
        let tmpfs = b.host_config.unwrap().tmpfs.unwrap();
        assert!(tmpfs["/work"].contains(",exec,"));
        assert!(tmpfs["/tmp"].contains("noexec"));
    }

    #[test]
    fn names_are_safe() {
        assert!(name("a b/c", 3).starts_with("coderun-a_b_c-"));
    }
}
