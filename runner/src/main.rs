//! `coderun-runner`: the supervisor inside every sandbox.
//!
//! It is the first process of the sandbox (PID 1 of a fresh PID namespace
//! on the native backend, possibly an ordinary process in a container) and
//! speaks the framed protocol of `coderun_runner::wire` on its stdin and
//! stdout. The library (`lib.rs`) is that protocol only; every other file in
//! `src/` is a module of this binary:
//!
//! * `supervisor.rs`: the loop between stages (`WriteFiles`, `Stage`);
//! * `stage.rs`: one stage's event loop and its end;
//! * `spawn.rs`, `limits.rs`: starting the first process and what it does
//!   to itself before `exec`;
//! * `stdin.rs`, `output.rs`: the stage's pipes and the output limit;
//! * `reap.rs`, `procs.rs`, `cpu.rs`: reaping, kill-all, CPU accounting;
//! * `files.rs`, `paths.rs`: writing files without following links;
//! * `host.rs`: frames in and out.
//!
//! Task tree: one current-thread runtime; `host.rs` spawns the stdin reader
//! and the termination-signal listener. Everything else runs in the
//! supervisor's own task.
//!
//! What a backend and the server can rely on, and must provide:
//!
//! * The runner's working directory is the job's directory. As uid 0 it
//!   makes that directory and everything `WriteFiles` creates shared
//!   (dirs 0777, files 0666 or 0777), so a stage running as `user` can edit
//!   its files and create new ones beside them; otherwise 0755/0644/0755.
//! * `user` is applied only when the runner is uid 0; the uid and gid must
//!   be mapped in its user namespace, or the stage fails to start (126).
//! * A program that cannot start still gives `StageStarted`, a stderr line
//!   and `StageExit` (127 or 126); only a malformed spec gets `Error`.
//! * Kill-all is `kill(-1, SIGKILL)` when the runner is PID 1 of its PID
//!   namespace, and a `/proc` walk over its descendants otherwise, which
//!   needs a `/proc` of the runner's own PID namespace. A backend that does
//!   not make the runner PID 1 must run stages under another uid than the
//!   runner's: otherwise a stage's `kill -9 -1` kills the runner too.
//! * Closing the runner's stdin (or `SIGTERM`) kills the running stage and
//!   makes the runner exit.

mod cpu;
mod files;
mod host;
mod limits;
mod oom;
mod output;
mod paths;
mod procs;
mod reap;
mod spawn;
mod stage;
mod stdin;
mod supervisor;

fn main() {
    // Orphans of a stage (daemons, `sleep &`) must come back to the runner,
    // not to an init outside it, so that it can reap them and count their
    // CPU time. PID 1 of a namespace already is a reaper; this covers the
    // other cases.
    // Safety: prctl with these arguments has no memory-safety preconditions.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        eprintln!("coderun-runner: cannot become a child subreaper: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    // Files a stage creates get the same modes whatever umask the backend
    // started the runner with.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coderun-runner: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async {
        match supervisor::Supervisor::new() {
            Ok(sup) => sup.run().await,
            Err(e) => {
                eprintln!("coderun-runner: cannot start: {e}");
                1
            }
        }
    });
    // Exit without dropping the runtime: its stdin reader is blocked in a
    // read that cannot be cancelled, and would hold the shutdown up.
    std::process::exit(code);
}
