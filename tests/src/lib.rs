//! The harness shared by coderun's black-box suites.
//!
//! Every suite under `tests/tests/` talks to a real `coderun serve` process
//! the way a course page or a course platform's back end would: raw JSON
//! text over a WebSocket at `/rpc` ([`client`]), or a plain HTTP/1.1 request
//! ([`http`]). [`server`] starts and stops that process on a free port with
//! its own configuration; [`host`] looks at the host from outside the
//! sandbox (processes, cgroups, mounts, files) to check that a job left
//! nothing behind; [`programs`] builds `run` params; [`docker`] looks at
//! the Docker engine for the Docker backend's own suites.
//!
//! The harness never skips: a missing binary, a server that does not come
//! up, or a peer that goes quiet is a failure with a message saying which.
//! Every wait has a timeout, so a broken server fails a test instead of
//! hanging the suite.

pub mod client;
pub mod contain;
pub mod docker;
pub mod host;
pub mod http;
pub mod programs;
pub mod server;

pub use client::{Client, JobRun};
pub use server::{Server, ServerOptions};

use std::time::Duration;

/// The longest a test waits for any one message, response or process.
/// Generous on purpose: the machines that run these suites are shared and
/// noisy, and a hang should fail, not flake.
pub const WAIT: Duration = Duration::from_secs(60);
