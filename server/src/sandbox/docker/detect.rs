//! Which languages the Docker backend offers: those whose image exists on
//! the engine, with the version their toolchain reports inside it.
//!
//! For each language of the catalog: a missing image leaves the language
//! out of `initialize` (logged, naming the image and how to build it);
//! otherwise the language's `detect` command runs as a stage in a container
//! of its image, through the same runner protocol as a job, which also
//! proves the image's runner works. Versions are cached by image id (which
//! changes whenever an image is rebuilt) in `~/.cache/coderun/`, so that a
//! restart does not start a container per language again.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use coderun_runner::wire::{self, HostMsg, RunnerMsg};
use futures_util::future::join_all;

use super::DockerBackend;
use crate::{
    catalog::{parse_version, Catalog, Language, LanguageDef},
    sandbox::{HostLimits, JobId, SandboxShape, SandboxSpec},
};

/// How long one language's detection may take.
const DETECT_TIMEOUT: Duration = Duration::from_secs(60);
/// Output kept from a `detect` command.
const DETECT_OUTPUT: u64 = 16 * 1024;

/// The languages whose images exist, in catalog order.
///
/// Languages are detected at once, each in a container of its own: `ids`
/// gives each a sandbox id of its own (the one the jobs' ids come from),
/// since containers are named after it.
pub async fn detect_languages(backend: &DockerBackend, defs: Vec<LanguageDef>, ids: &AtomicU64) -> Catalog {
    let mut cache = VersionCache::load();
    let found = join_all(defs.into_iter().map(|def| {
        let cached = cache.clone();
        async move {
            let id = def.id.clone();
            let job = ids.fetch_add(1, Ordering::Relaxed);
            let result = tokio::time::timeout(DETECT_TIMEOUT, detect_one(backend, def, &cached, job)).await;
            (id, result.unwrap_or_else(|_| Err("timed out".to_owned())))
        }
    }))
    .await;
    let mut languages = Vec::new();
    for (id, result) in found {
        match result {
            Ok((language, key)) => {
                tracing::info!(language = %id, version = %language.version, image = %language.def.image, "language available");
                cache.entries.insert(key, language.version.clone());
                languages.push(language);
            }
            Err(why) => tracing::warn!(language = %id, %why, "language not available"),
        }
    }
    cache.save();
    Catalog::from_languages(languages)
}

async fn detect_one(
    backend: &DockerBackend,
    def: LanguageDef,
    cache: &VersionCache,
    job: JobId,
) -> Result<(Language, String), String> {
    let image = def.image.clone();
    match backend.image_exists(&image).await {
        Ok(true) => {}
        Ok(false) => return Err(format!("the image {image} is missing (scripts/images builds it)")),
        Err(e) => return Err(e.to_string()),
    }
    let image_id = backend.image_id(&image).await.unwrap_or_default();
    let key = format!("{image_id} {}", def.detect.join(" "));
    let language = Language::new(def, String::new(), Vec::new());
    if let Some(version) = cache.entries.get(&key).filter(|_| !image_id.is_empty()) {
        return Ok((Language::new(language.def, version.clone(), Vec::new()), key));
    }
    let text = run_detect(backend, &language, job).await?;
    let version = parse_version(&text).ok_or_else(|| format!("no version in {text:?}"))?;
    Ok((Language::new(language.def, version, Vec::new()), key))
}

/// Runs the language's `detect` command in a container of its image.
async fn run_detect(backend: &DockerBackend, language: &Language, job: JobId) -> Result<String, String> {
    let spec = SandboxSpec {
        job,
        shape: SandboxShape::Docker(backend.shape(language)),
        limits: HostLimits { memory_bytes: 512 << 20, processes: 64 },
    };
    let mut sandbox = backend.start(spec).await.map_err(|e| format!("{e}: {}", source_chain(&e)))?;
    let stage = wire::StageSpec {
        argv: language.def.detect.clone(),
        env: language.env.clone(),
        cwd: ".".into(),
        stdin: wire::StdinMode::Bytes(Vec::new()),
        limits: wire::StageLimits {
            wall_time_ms: 30_000,
            cpu_time_ms: 30_000,
            output_bytes: DETECT_OUTPUT,
            file_size_bytes: 1 << 20,
            open_files: 256,
            processes: None,
        },
        user: None,
    };
    sandbox.link.send(HostMsg::Stage(stage)).await.map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    loop {
        match sandbox.link.recv().await {
            Some(Ok(RunnerMsg::Output { bytes, .. })) => text.extend(bytes),
            Some(Ok(RunnerMsg::StageExit(report))) if report.exit_code == Some(0) => break,
            Some(Ok(RunnerMsg::StageExit(report))) => {
                return Err(format!(
                    "{:?} exited with {report:?}: {}",
                    language.def.detect,
                    String::from_utf8_lossy(&text)
                ))
            }
            Some(Ok(RunnerMsg::StageStarted)) => {}
            Some(Ok(other)) => return Err(format!("unexpected {other:?}")),
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the runner exited".to_owned()),
        }
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push(s.to_string());
        cur = s.source();
    }
    out.join(": ")
}

/// Versions by image id and detect command.
#[derive(Clone, Default)]
struct VersionCache {
    entries: HashMap<String, String>,
}

impl VersionCache {
    fn path() -> PathBuf {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("coderun").join("docker-versions.json")
    }

    fn load() -> VersionCache {
        let entries =
            std::fs::read(Self::path()).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
        VersionCache { entries }
    }

    /// Writes the cache atomically; a failure only costs the next start time.
    fn save(&self) {
        let path = Self::path();
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().unwrap_or(&path))?;
            std::fs::write(&tmp, serde_json::to_vec(&self.entries)?)?;
            std::fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            tracing::debug!(error = %e, path = %path.display(), "could not save the image version cache");
        }
    }
}
