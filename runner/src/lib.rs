//! coderun-runner: the supervisor that runs inside every sandbox.
//!
//! The server never runs student code itself. It starts `coderun-runner` as
//! the first process of a sandbox (the native backend's namespaces, or a
//! Docker container) and talks to it over the runner's stdin and stdout with
//! the framed protocol of [`wire`]: write these files, run this stage under
//! these limits, here is stdin, kill; and back, output chunks as they come
//! and each stage's exit with its resource usage.
//!
//! The library half of the crate is that protocol, shared with the server;
//! the binary half (`main.rs` and the modules it uses) is the supervisor.
//! Nothing here knows which backend started it.

pub mod wire;
