//! `run` params for the suites' programs, and the languages every server
//! on a machine like this one must offer.

use serde_json::{json, Value};

/// `(id, default entry file, compiled)` of each language the contract names.
pub const LANGUAGES: &[(&str, &str, bool)] = &[
    ("python", "main.py", false),
    ("javascript", "main.js", false),
    ("c", "main.c", true),
    ("cpp", "main.cpp", true),
    ("bash", "main.sh", false),
    ("java", "Main.java", true),
    ("rust", "main.rs", true),
];

/// `run` params for these files.
pub fn job(language: &str, files: &[(&str, &str)]) -> Value {
    let files: Vec<Value> = files.iter().map(|(path, content)| json!({"path": path, "content": content})).collect();
    json!({"language": language, "files": files})
}

/// A Python job with one file, `main.py`.
pub fn python(code: &str) -> Value {
    job("python", &[("main.py", code)])
}

/// A Bash job with one file, `main.sh`.
pub fn bash(code: &str) -> Value {
    job("bash", &[("main.sh", code)])
}

/// The params with one more member set.
pub fn with(mut params: Value, key: &str, value: Value) -> Value {
    params[key] = value;
    params
}

/// A job that sleeps for `seconds` in a `sleep` process whose command line
/// carries `marker` (see [`crate::host::Marker::sleep_args`]).
pub fn sleeper(marker: &crate::host::Marker, seconds: u32) -> Value {
    bash(&format!("echo started\nsleep {}\necho woke\n", marker.sleep_args(seconds)))
}
