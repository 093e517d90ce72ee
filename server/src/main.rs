//! The `coderun` binary: flags over the server library.
//!
//! `coderun serve` runs the server. `coderun __sandbox` is internal: the
//! native backend re-executes this binary with it to set up a sandbox in a
//! fresh, single-threaded process, before any async runtime exists.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use coderun_server::config::{Config, SandboxKind};

#[derive(Parser)]
#[command(name = "coderun", version, about = "Run students' code from course pages, streaming over JSON-RPC")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// A TOML configuration file (see server/src/config.rs for every key).
    #[arg(long, env = "CODERUN_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free one.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The sandbox backend.
    #[arg(long, value_enum)]
    sandbox: Option<SandboxKind>,
    /// Require this bearer token from every client.
    #[arg(long, env = "CODERUN_TOKEN")]
    token: Option<String>,
    /// An origin (e.g. https://course.example) whose pages may connect; repeatable.
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// Jobs that may run at once (default: one per CPU).
    #[arg(long)]
    run_slots: Option<usize>,
    /// Jobs that may wait for a slot.
    #[arg(long)]
    queue_length: Option<usize>,
    /// Jobs one connection may have in flight.
    #[arg(long)]
    jobs_per_connection: Option<usize>,
    /// Connections open at once.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Run without namespaces where the host has none. Trusted local use only.
    #[arg(long)]
    allow_unsandboxed: bool,
}

fn main() -> anyhow::Result<()> {
    // The sandbox helper must run before anything starts a thread.
    if std::env::args_os().nth(1).is_some_and(|a| a == "__sandbox") {
        coderun_server::sandbox::native::helper_main();
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Serve(args) => {
            let config = config(args)?;
            raise_open_files_limit();
            tokio::runtime::Runtime::new()?.block_on(serve(config))
        }
    }
}

fn config(args: ServeArgs) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            Config::from_toml(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => Config::default(),
    };
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.sandbox {
        config.sandbox = v;
    }
    if args.token.is_some() {
        config.token = args.token;
    }
    config.allowed_origins.extend(args.allowed_origins);
    if let Some(v) = args.run_slots {
        config.scheduler.run_slots = v;
    }
    if let Some(v) = args.queue_length {
        config.scheduler.queue_length = v;
    }
    if let Some(v) = args.jobs_per_connection {
        config.connection.jobs_per_connection = v;
    }
    if let Some(v) = args.max_connections {
        config.connection.max_connections = v;
    }
    if args.allow_unsandboxed {
        config.native.allow_unsandboxed = true;
    }
    Ok(config)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let state = coderun_server::start(config, addr.port()).await.context("starting the server")?;
    // Tests and scripts wait for exactly this line on stdout.
    println!("coderun listening on http://{addr}");
    tracing::info!(%addr, "listening");
    coderun_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Each connection holds a socket and each job a few pipes: raise the soft
/// limit on open files to the hard limit, as servers do.
fn raise_open_files_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!(error = %e, "could not raise the open-files limit");
            }
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
