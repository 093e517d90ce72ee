//! The language catalog: what each language is called, how it is built and
//! run, and which of them this host can offer.
//!
//! The catalog is data (`languages.toml`, built in; `--config`'s `catalog`
//! replaces it). At startup [`Catalog::detect`] runs each language's
//! `detect` command on the host with the sandbox's `PATH` and keeps the
//! languages whose toolchain answers; the rest are left out of
//! `initialize`, which is not an error.

mod command;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use serde::Deserialize;

pub use command::{expand, Placeholders};

use crate::sandbox::BindMount;

/// The catalog that ships with the server.
pub const BUILTIN: &str = include_str!("languages.toml");

/// `PATH` inside every sandbox, before a language's own `path` entries.
pub const SANDBOX_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How long a toolchain's `detect` command may take at startup.
const DETECT_TIMEOUT: Duration = Duration::from_secs(20);

/// One language as written in the catalog file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageDef {
    pub id: String,
    pub name: String,
    pub extensions: Vec<String>,
    pub entry: String,
    pub detect: Vec<String>,
    #[serde(default)]
    pub build: Option<Vec<String>>,
    /// Extensions of the files `{sources}` names in `build`; all of
    /// `extensions` when absent (headers are not compiled on their own).
    #[serde(default)]
    pub build_sources_filter: Option<Vec<String>>,
    pub run: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Directories put before [`SANDBOX_PATH`].
    #[serde(default)]
    pub path: Vec<String>,
    #[serde(default)]
    pub mounts: Vec<MountDef>,
    pub image: String,
}

/// A read-only mount as written in the catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountDef {
    /// A host path, or `sysroot:PROGRAM` for the directory
    /// `PROGRAM --print sysroot` names.
    pub host: String,
    pub sandbox: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    language: Vec<LanguageDef>,
}

/// A language this host can run.
#[derive(Debug, Clone)]
pub struct Language {
    pub def: LanguageDef,
    /// The toolchain's version, as read from `detect`.
    pub version: String,
    /// `def.mounts` resolved to host paths.
    pub mounts: Vec<BindMount>,
    /// The stage environment: a fixed base, then the language's own.
    pub env: Vec<(String, String)>,
}

impl Language {
    pub fn new(def: LanguageDef, version: String, mounts: Vec<BindMount>) -> Language {
        let env = stage_env(&def);
        Language { def, version, mounts, env }
    }

    pub fn id(&self) -> &str {
        &self.def.id
    }

    pub fn compiled(&self) -> bool {
        self.def.build.is_some()
    }

    /// The files `{sources}` expands to, from the job's file paths.
    pub fn sources<'a>(&self, paths: impl Iterator<Item = &'a str>) -> Vec<String> {
        let exts = self.def.build_sources_filter.as_ref().unwrap_or(&self.def.extensions);
        let mut v: Vec<String> =
            paths.filter(|p| exts.iter().any(|e| p.ends_with(e.as_str()))).map(str::to_owned).collect();
        v.sort();
        v
    }
}

/// The stage environment of a language: a fixed base, then its own.
fn stage_env(def: &LanguageDef) -> Vec<(String, String)> {
    let mut path: Vec<&str> = def.path.iter().map(String::as_str).collect();
    path.push(SANDBOX_PATH);
    let mut env: BTreeMap<String, String> = [
        ("PATH", path.join(":")),
        ("HOME", "/tmp".to_owned()),
        ("TMPDIR", "/tmp".to_owned()),
        ("LANG", "C.UTF-8".to_owned()),
        ("LC_ALL", "C.UTF-8".to_owned()),
        ("TERM", "dumb".to_owned()),
        ("USER", "student".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(def.env.clone());
    env.into_iter().collect()
}

/// Errors loading the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("failed to parse the language catalog")]
    Parse(#[from] toml::de::Error),
    #[error("failed to read the language catalog {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("language {0:?} is defined twice")]
    Duplicate(String),
}

/// The languages this server offers, in catalog order.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    languages: Vec<Arc<Language>>,
}

impl Catalog {
    /// Parses a catalog file's text.
    pub fn parse(text: &str) -> Result<Vec<LanguageDef>, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        let mut seen = std::collections::HashSet::new();
        for l in &file.language {
            if !seen.insert(l.id.clone()) {
                return Err(CatalogError::Duplicate(l.id.clone()));
            }
        }
        Ok(file.language)
    }

    /// Reads the catalog at `path`, or the built-in one.
    pub fn load(path: Option<&Path>) -> Result<Vec<LanguageDef>, CatalogError> {
        match path {
            None => Catalog::parse(BUILTIN),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|source| CatalogError::Read { path: p.to_owned(), source })?;
                Catalog::parse(&text)
            }
        }
    }

    /// Keeps the languages whose toolchains answer on this host.
    pub async fn detect(defs: Vec<LanguageDef>) -> Catalog {
        let mut languages = Vec::new();
        for def in defs {
            match detect_one(&def).await {
                Ok(lang) => {
                    tracing::info!(language = %def.id, version = %lang.version, "language available");
                    languages.push(Arc::new(lang));
                }
                Err(why) => tracing::info!(language = %def.id, %why, "language not available"),
            }
        }
        Catalog { languages }
    }

    /// A catalog of exactly these languages, for tests.
    pub fn from_languages(languages: Vec<Language>) -> Catalog {
        Catalog { languages: languages.into_iter().map(Arc::new).collect() }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Language>> {
        self.languages.iter().find(|l| l.def.id == id).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Language>> {
        self.languages.iter()
    }
}

async fn detect_one(def: &LanguageDef) -> Result<Language, String> {
    let mut mounts = Vec::new();
    for m in &def.mounts {
        let host = match m.host.strip_prefix("sysroot:") {
            Some(program) => sysroot(program).await?,
            None => PathBuf::from(&m.host),
        };
        if !host.exists() {
            return Err(format!("{} does not exist", host.display()));
        }
        mounts.push(BindMount { host, sandbox: PathBuf::from(&m.sandbox) });
    }
    // The sandbox's PATH, with directories that come from mounts mapped back
    // to where they are on the host.
    let mut path = Vec::new();
    for dir in def.path.iter().map(String::as_str).chain(SANDBOX_PATH.split(':')) {
        let mapped =
            mounts.iter().find_map(|m| Path::new(dir).strip_prefix(&m.sandbox).ok().map(|rest| m.host.join(rest)));
        path.push(mapped.unwrap_or_else(|| PathBuf::from(dir)).display().to_string());
    }
    let (program, args) = def.detect.split_first().ok_or("empty detect command")?;
    let output =
        run_with_timeout(tokio::process::Command::new(program).args(args).env_clear().env("PATH", path.join(":")))
            .await?;
    let text = format!("{}\n{}", output.0, output.1);
    let version = parse_version(&text).ok_or_else(|| format!("no version in {text:?}"))?;
    Ok(Language::new(def.clone(), version, mounts))
}

async fn sysroot(program: &str) -> Result<PathBuf, String> {
    let (out, _) = run_with_timeout(tokio::process::Command::new(program).args(["--print", "sysroot"])).await?;
    Ok(PathBuf::from(out.trim()))
}

async fn run_with_timeout(cmd: &mut tokio::process::Command) -> Result<(String, String), String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let out = tokio::time::timeout(DETECT_TIMEOUT, cmd.output())
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("exited with {}", out.status));
    }
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned()))
}

/// The first version-looking word of the first line that has one:
/// `Python 3.11.2` → `3.11.2`, `v20.1.0` → `20.1.0`, `gcc (Debian 12.2.0-14) 12.2.0` → `12.2.0`.
pub fn parse_version(text: &str) -> Option<String> {
    for line in text.lines() {
        for word in line.split_whitespace() {
            let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let word = word.strip_prefix('v').unwrap_or(word);
            let prefix: String = word.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            let prefix = prefix.trim_end_matches('.');
            if prefix.contains('.') && prefix.starts_with(|c: char| c.is_ascii_digit()) {
                return Some(prefix.to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses() {
        let defs = Catalog::parse(BUILTIN).unwrap();
        let ids: Vec<&str> = defs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["python", "javascript", "c", "cpp", "bash", "java", "rust", "typescript", "go", "ruby"]);
    }

    #[test]
    fn versions_are_read_from_toolchain_banners() {
        assert_eq!(parse_version("Python 3.11.2").as_deref(), Some("3.11.2"));
        assert_eq!(parse_version("v20.20.2\n").as_deref(), Some("20.20.2"));
        assert_eq!(parse_version("gcc (Debian 12.2.0-14+deb12u1) 12.2.0\nCopyright").as_deref(), Some("12.2.0"));
        assert_eq!(
            parse_version("GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)").as_deref(),
            Some("5.2.15")
        );
        assert_eq!(parse_version("openjdk version \"17.0.15\" 2025-04-15").as_deref(), Some("17.0.15"));
        assert_eq!(parse_version("javac 17.0.15").as_deref(), Some("17.0.15"));
        assert_eq!(parse_version("no digits here"), None);
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let one = r#"[[language]]
id = "x"
name = "X"
extensions = [".x"]
entry = "main.x"
detect = ["true"]
run = ["x"]
image = "i"
"#;
        assert!(matches!(Catalog::parse(&format!("{one}\n{one}")), Err(CatalogError::Duplicate(_))));
    }

    #[test]
    fn sources_are_filtered_and_sorted() {
        let defs = Catalog::parse(BUILTIN).unwrap();
        let c = Language::new(defs[2].clone(), "1".into(), vec![]);
        let got = c.sources(["b.c", "a.h", "lib/a.c", "notes.txt"].into_iter());
        assert_eq!(got, ["b.c", "lib/a.c"]);
    }
}
