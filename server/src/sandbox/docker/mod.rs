//! The Docker backend: a fresh, hardened container per job, through the
//! Docker Engine API (bollard, over the engine's socket; never the CLI).
//!
//! A sandbox is one container of the language's image whose entry process
//! is `coderun-runner`, the same runner as the native backend's. The server
//! attaches to the container's stdio before starting it, so nothing the
//! runner writes is lost, and speaks the runner's framed protocol over it.
//! The container is the job's: it is removed when its [`DockerControl`] is
//! dropped (exit, limit, cancel, disconnect, shutdown alike), never reused.
//!
//! Files: `container.rs` builds the create request (every hardening
//! setting), `control.rs` is the host's handle (limits between stages,
//! removal on drop), `removals.rs` tracks removals still in flight and
//! sweeps what a crashed run left, `detect.rs` finds which languages have
//! an image and asks each toolchain its version inside one.
//!
//! The container's memory cgroup is the job's; its OOM kills are counted by
//! the runner inside (`StageReport::oom_kills`), which also works when the
//! server itself runs in a container without the host's `/sys`.

mod container;
mod control;
mod detect;
mod removals;

use std::{sync::Arc, time::Duration};

use bollard::{
    query_parameters::{AttachContainerOptionsBuilder, CreateContainerOptionsBuilder},
    Docker,
};
use coderun_runner::wire::RunnerMsg;
use futures_util::StreamExt;

pub use control::DockerControl;
pub use detect::detect_languages;

use self::removals::Removals;
use super::{Control, RunnerLink, Sandbox, SandboxError, SandboxShape, SandboxSpec};
use crate::{catalog::Language, config::DockerConfig};

/// What a job's container is made from; containers of one shape are
/// interchangeable, so the warm pool keys on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContainerShape {
    pub image: String,
    /// Whether `/work` may hold executables: only for languages that run a
    /// binary they built (`./main`); interpreted ones get `noexec`.
    pub exec_workdir: bool,
    /// The OCI runtime, when not the engine's default (`runsc`).
    pub runtime: Option<String>,
}

impl ContainerShape {
    /// Whether the container's limits are fixed at creation. gVisor's
    /// `runsc` has no `update` command, so the engine cannot change a
    /// running container's memory or pids limit under it.
    pub fn limits_fixed(&self) -> bool {
        self.runtime.as_deref().is_some_and(|rt| rt == "runsc" || rt.ends_with("/runsc"))
    }
}

/// Errors from the engine.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker engine at {socket}")]
    Connect {
        socket: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the Docker engine failed to {what}")]
    Engine {
        what: &'static str,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the image {0} is missing on the Docker engine")]
    MissingImage(String),
    #[error("the Docker engine did not {0} in time")]
    Timeout(&'static str),
    #[error("the container ended before its runner was ready")]
    EndedEarly,
}

impl DockerError {
    /// What a client may be told: image names and engine states, never
    /// host paths.
    pub fn public_message(&self) -> String {
        match self {
            DockerError::MissingImage(image) => {
                format!("the sandbox image {image} of this language is missing on the server")
            }
            DockerError::Connect { .. } => "the server cannot reach its container engine".to_owned(),
            DockerError::Timeout(what) => format!("the container engine did not {what} in time"),
            DockerError::Engine { what, .. } => format!("the container engine failed to {what}"),
            DockerError::EndedEarly => "the sandbox container ended before it was ready".to_owned(),
        }
    }
}

/// The Docker backend: one engine connection and the settings of every
/// container.
pub struct DockerBackend {
    docker: Docker,
    config: Arc<DockerConfig>,
    removals: Removals,
}

impl DockerBackend {
    /// Connects to the engine, agrees on an API version and checks that it
    /// answers. `longest_stage` is the largest wall time a stage may have:
    /// bollard's own timeout is set above it, so that no request is cut
    /// short while a job legitimately runs.
    pub async fn connect(config: DockerConfig, longest_stage: Duration) -> Result<DockerBackend, DockerError> {
        let socket = config
            .socket
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| h.starts_with("unix://")))
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned());
        let timeout = longest_stage.max(Duration::from_millis(config.api_timeout_ms)) + Duration::from_secs(60);
        let connect_error = |source| DockerError::Connect { socket: socket.clone(), source };
        let docker = Docker::connect_with_unix(&socket, timeout.as_secs(), bollard::API_DEFAULT_VERSION)
            .map_err(connect_error)?;
        let api = Duration::from_millis(config.api_timeout_ms);
        let docker = tokio::time::timeout(api, docker.negotiate_version())
            .await
            .map_err(|_| DockerError::Timeout("answer"))?
            .map_err(connect_error)?;
        let version = tokio::time::timeout(api, docker.version())
            .await
            .map_err(|_| DockerError::Timeout("answer"))?
            .map_err(connect_error)?;
        tracing::info!(
            engine = version.version.as_deref().unwrap_or("?"),
            api = docker.client_version().to_string(),
            instance = %config.instance,
            "connected to the Docker engine"
        );
        let config = Arc::new(config);
        let removals = Removals::new(docker.clone(), config.clone());
        Ok(DockerBackend { docker, config, removals })
    }

    /// Removes the containers of this instance that a crashed run left.
    pub async fn sweep(&self) {
        self.removals.sweep().await;
    }

    /// The container shape of a language.
    pub fn shape(&self, language: &Language) -> ContainerShape {
        let runtime = self.config.runtimes.get(language.id()).or(self.config.runtime.as_ref()).cloned();
        ContainerShape {
            image: language.def.image.clone(),
            exec_workdir: language.def.run.first().is_some_and(|p| p.starts_with("./")),
            runtime,
        }
    }

    /// Feature names for `initialize`: the names of the native backend
    /// where they mean the same, and what only a container adds.
    pub fn features(&self) -> Vec<String> {
        let c = &self.config;
        let non_root = c.user.split(':').next().is_some_and(|u| u != "0" && u != "root");
        let on = [
            (true, "container"),
            (true, "pidNamespace"),
            (true, "mountNamespace"),
            (c.network == "none", "networkNamespace"),
            (true, "ipcNamespace"),
            (true, "utsNamespace"),
            (true, "cgroupMemory"),
            (true, "cgroupPids"),
            (c.cpus > 0.0, "cgroupCpu"),
            (non_root, "separateUid"),
            (true, "rlimits"),
            (c.no_new_privileges, "noNewPrivs"),
            (c.cap_drop.iter().any(|d| d.eq_ignore_ascii_case("ALL")), "noCapabilities"),
            (c.read_only_root, "readOnlyRoot"),
        ];
        let mut out = vec!["sandbox:docker".to_owned()];
        out.extend(on.iter().filter(|(b, _)| *b).map(|(_, name)| format!("isolation:{name}")));
        if let Some(rt) = &c.runtime {
            out.push(format!("runtime:{rt}"));
        }
        out
    }

    /// Whether the image exists on the engine.
    pub async fn image_exists(&self, image: &str) -> Result<bool, DockerError> {
        let api = Duration::from_millis(self.config.api_timeout_ms);
        match tokio::time::timeout(api, self.docker.inspect_image(image)).await {
            Err(_) => Err(DockerError::Timeout("inspect an image")),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) if is_not_found(&e) => Ok(false),
            Ok(Err(source)) => Err(DockerError::Engine { what: "inspect an image", source }),
        }
    }

    /// The image's id, which changes whenever the image is rebuilt.
    pub async fn image_id(&self, image: &str) -> Option<String> {
        let api = Duration::from_millis(self.config.api_timeout_ms);
        tokio::time::timeout(api, self.docker.inspect_image(image)).await.ok()?.ok()?.id
    }

    /// Starts a container for one job and waits for its runner's Ready.
    pub async fn start(&self, spec: SandboxSpec) -> Result<Sandbox, SandboxError> {
        let SandboxShape::Docker(shape) = &spec.shape else {
            return Err(SandboxError::Unsupported("a native sandbox shape given to the Docker backend".into()));
        };
        let limit = Duration::from_millis(self.config.start_timeout_ms);
        match tokio::time::timeout(limit, self.start_inner(&spec, shape)).await {
            Ok(result) => result,
            Err(_) => Err(DockerError::Timeout("start a container").into()),
        }
    }

    async fn start_inner(&self, spec: &SandboxSpec, shape: &ContainerShape) -> Result<Sandbox, SandboxError> {
        let name = container::name(&self.config.instance, spec.job);
        let body = container::create_body(&self.config, shape, spec.job, spec.limits);
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        // The create call runs in a task of its own, counted by `removals`:
        // a caller that gives up while the engine creates the container (a
        // start timeout, a cancelled job, the pool stopping at shutdown)
        // would otherwise drop the call after the engine made a container
        // and before anyone held the control that removes it. The task
        // hands the control back, or drops it (removing the container)
        // when nobody waits any more; shutdown's drain waits for the task.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (docker, config, removals) = (self.docker.clone(), self.config.clone(), self.removals.clone());
        let (job, limits, image) = (spec.job, spec.limits, shape.image.clone());
        self.removals.spawn_tracked(async move {
            let created = docker.create_container(Some(options), body).await.map_err(|e| {
                if is_not_found(&e) {
                    DockerError::MissingImage(image)
                } else {
                    DockerError::Engine { what: "create a container", source: e }
                }
            });
            let control = created.map(|c| DockerControl::new(c.id, job, limits, docker, config, removals));
            // Unsent, the control is dropped here, which removes the container.
            drop(tx.send(control));
        });
        // From here on, dropping `control` removes the container.
        let control = rx.await.map_err(|_| DockerError::EndedEarly)??;
        let created_id = control.id().to_owned();
        let attach =
            AttachContainerOptionsBuilder::default().stdin(true).stdout(true).stderr(true).stream(true).build();
        let attached = self
            .docker
            .attach_container(&created_id, Some(attach))
            .await
            .map_err(|source| DockerError::Engine { what: "attach to a container", source })?;
        self.docker
            .start_container(&created_id, None)
            .await
            .map_err(|source| DockerError::Engine { what: "start a container", source })?;

        let job = spec.job;
        let stdout = attached.output.filter_map(move |frame| {
            std::future::ready(match frame {
                Ok(bollard::container::LogOutput::StdOut { message }) => Some(Ok(message)),
                Ok(other) => {
                    // The runner's stderr: its own diagnostics, for the log.
                    let text = String::from_utf8_lossy(other.as_ref()).trim_end().to_owned();
                    if !text.is_empty() {
                        tracing::warn!(job, runner_stderr = %text, "container stderr");
                    }
                    None
                }
                Err(e) => Some(Err(std::io::Error::other(e))),
            })
        });
        let mut link = RunnerLink::new(tokio_util::io::StreamReader::new(Box::pin(stdout)), attached.input);
        match link.recv().await {
            None => Err(DockerError::EndedEarly.into()),
            Some(Err(e)) => Err(SandboxError::Wire(e)),
            Some(Ok(RunnerMsg::Ready { version })) => {
                tracing::debug!(job, container = %name, runner_version = %version, "container ready");
                Ok(Sandbox { link, control: Control::Docker(control) })
            }
            Some(Ok(other)) => Err(SandboxError::Protocol(format!("expected Ready first, got {other:?}"))),
        }
    }

    /// Waits until the containers dropped so far are removed, for at most `limit`.
    pub async fn drain(&self, limit: Duration) {
        self.removals.drain(limit).await;
    }
}

/// Whether the engine answered 404.
fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
}
