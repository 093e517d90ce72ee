//! The runner's main loop between stages.
//!
//! It says `Ready`, then takes the host's frames one at a time, in order:
//! `WriteFiles` is answered at once, `Stage` hands control to `stage.rs`
//! until that stage's `StageExit`. `Stdin`, `StdinEof` and `Kill` that
//! arrive between stages belong to a stage that has already ended (the host
//! sent them while its `StageExit` was on the way) and are ignored.
//!
//! When the host goes away (end of file on stdin, a broken frame, or
//! `SIGTERM`/`SIGINT`/`SIGHUP`) a running stage is killed and reaped, and
//! the runner exits: 0 after a clean end of file, 1 otherwise.

use coderun_runner::wire::{HostMsg, RunnerMsg};

use crate::files::{self, Modes};
use crate::host::{Departure, FromHost, Inbox, Outbox};
use crate::procs::ProcFs;
use crate::reap::Reaper;
use crate::stage::{self, Flow};

/// What every stage shares: the host link, the reaper and facts about the
/// place the runner runs in.
pub struct Supervisor {
    pub inbox: Inbox,
    pub outbox: Outbox,
    pub reaper: Reaper,
    /// `/proc`, when it is this PID namespace's.
    pub procfs: Option<ProcFs>,
    /// Whether the runner is (namespace) root, so may switch stages to
    /// another user and makes written files shared.
    pub root: bool,
}

impl Supervisor {
    /// Sets up signal handling and the host link; call inside the runtime.
    pub fn new() -> std::io::Result<Supervisor> {
        let procfs = ProcFs::open();
        Ok(Supervisor {
            reaper: Reaper::new(procfs)?,
            inbox: Inbox::start()?,
            outbox: Outbox::new(),
            procfs,
            root: nix::unistd::geteuid().is_root(),
        })
    }

    /// Serves the host until it goes away; returns the exit status.
    pub async fn run(mut self) -> i32 {
        let ready = RunnerMsg::Ready { version: env!("CARGO_PKG_VERSION").to_string() };
        if let Err(e) = self.outbox.send(&ready).await {
            return self.depart(Departure::Broken(e));
        }
        loop {
            let msg = match self.inbox.recv().await {
                FromHost::Msg(msg) => msg,
                FromHost::Gone(d) => return self.depart(d),
            };
            let flow = match msg {
                HostMsg::WriteFiles(list) => {
                    let reply = match files::write_files(&list, Modes::for_root(self.root)) {
                        Ok(()) => RunnerMsg::FilesWritten,
                        Err(e) => RunnerMsg::Error { message: e.to_string() },
                    };
                    match self.outbox.send(&reply).await {
                        Ok(()) => Flow::Continue,
                        Err(e) => Flow::Exit(Departure::Broken(e)),
                    }
                }
                HostMsg::Stage(spec) => stage::run(&mut self, spec).await,
                HostMsg::Stdin(_) | HostMsg::StdinEof | HostMsg::Kill => Flow::Continue,
            };
            if let Flow::Exit(d) = flow {
                return self.depart(d);
            }
        }
    }

    fn depart(&self, d: Departure) -> i32 {
        match &d {
            Departure::Eof => {}
            Departure::Broken(e) => eprintln!("coderun-runner: lost the host: {e}"),
            Departure::Signal => eprintln!("coderun-runner: stopped by a signal"),
        }
        d.exit_code()
    }
}
