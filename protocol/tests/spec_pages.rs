//! The prose of `spec/` must cover the protocol crate: a page for every
//! method, a row of the error table for every error code, and JSON examples
//! that are real messages.
//!
//! - Every method in `methods::REQUESTS` and `methods::NOTIFICATIONS` has a
//!   page in `spec/methods/` (named after the method: `job/status` is
//!   `job-status.md`, `$/cancelRequest` is `cancel-request.md`) whose title
//!   and `method:` line name it, with the sections of the LSP format, and
//!   `spec/README.md` links it.
//! - Every code in `error_codes::ALL` has a row, with its name, in the error
//!   table of `spec/README.md`, and the table has no other code.
//! - Every fenced `json` block in `spec/README.md` and `spec/methods/*.md` is
//!   one message. Its params decode into the type of its method, a result
//!   into the result type of the request with the same id earlier on the same
//!   page, error data into its code's type, and each re-encodes to exactly
//!   the JSON of the block.

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
};

use coderun_protocol::{
    error_codes::{self, BusyData, LimitExceededData},
    methods::{self, Notification as _, Request as _},
    Message, RequestId,
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The page file of a method: `job/status` -> `job-status.md`,
/// `$/cancelRequest` -> `cancel-request.md`.
fn page_name(method: &str) -> String {
    let mut name = String::new();
    for c in method.trim_start_matches("$/").chars() {
        match c {
            '/' => name.push('-'),
            c if c.is_ascii_uppercase() => {
                name.push('-');
                name.push(c.to_ascii_lowercase());
            }
            c => name.push(c),
        }
    }
    name + ".md"
}

#[test]
fn every_method_has_a_page_in_the_lsp_format() {
    let readme = read(&spec_dir().join("README.md"));
    let mut problems = Vec::new();
    let all = methods::REQUESTS.iter().map(|m| (*m, true)).chain(methods::NOTIFICATIONS.iter().map(|m| (*m, false)));
    for (method, is_request) in all {
        let file = page_name(method);
        let path = spec_dir().join("methods").join(&file);
        let Ok(page) = fs::read_to_string(&path) else {
            problems.push(format!("{method}: no page spec/methods/{file}"));
            continue;
        };
        let title = page.lines().next().unwrap_or_default();
        if !(title.starts_with("# ") && title.contains(&format!("`{method}`"))) {
            problems.push(format!("{file}: the title must name `{method}`, found {title:?}"));
        }
        if !page.contains(&format!("- method: `'{method}'`")) {
            problems.push(format!("{file}: no line \"- method: `'{method}'`\""));
        }
        let sections: &[&str] = if is_request {
            &["## Request", "## Notifications while in flight", "## Response", "## Cancellation", "## Example"]
        } else {
            &["## Notification", "## Response", "## Errors", "## Cancellation", "## Example"]
        };
        for section in sections {
            if !page.lines().any(|l| l == *section) {
                problems.push(format!("{file}: no section {section:?}"));
            }
        }
        if !page.contains("```typescript\ninterface ") {
            problems.push(format!("{file}: no TypeScript interface for the params"));
        }
        if !readme.contains(&format!("(methods/{file})")) {
            problems.push(format!("README.md does not link methods/{file}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_error_code_is_in_the_readme_error_table() {
    let readme = read(&spec_dir().join("README.md"));
    let section =
        readme.split("\n## ").find(|s| s.starts_with("7. Errors")).expect("README.md has a section \"## 7. Errors\"");
    // Rows of the error table start with the code in backticks.
    let rows: HashMap<i32, &str> = section
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("| `")?;
            let (code, rest) = rest.split_once("` | ")?;
            Some((code.parse().ok()?, rest.split(" |").next()?))
        })
        .collect();
    let mut problems = Vec::new();
    for &(code, name) in error_codes::ALL {
        match rows.get(&code) {
            None => problems.push(format!("{code} ({name}) has no row in the error table")),
            Some(row_name) if *row_name != name => {
                problems.push(format!("{code} is named {row_name:?} in the table, {name:?} in error_codes.rs"))
            }
            Some(_) => {}
        }
    }
    for code in rows.keys() {
        if !error_codes::ALL.iter().any(|(c, _)| c == code) {
            problems.push(format!("the error table has {code}, which error_codes::ALL does not"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The fenced `json` blocks of a markdown text.
fn json_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == "```json" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.push(current.take().unwrap()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```json block");
    blocks
}

/// Decodes `value` into `T` and checks that `T` encodes it back unchanged.
fn round_trip<T: DeserializeOwned + Serialize>(value: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(value.clone())
        .map_err(|e| format!("does not decode as {}: {e}", std::any::type_name::<T>()))?;
    let back = serde_json::to_value(&typed).expect("wire types serialize");
    if &back != value {
        return Err(format!("{} re-encodes differently: {back}", std::any::type_name::<T>()));
    }
    Ok(())
}

fn check_params(method: &str, params: &Value) -> Result<(), String> {
    match method {
        m if m == methods::Initialize::METHOD => {
            round_trip::<<methods::Initialize as methods::Request>::Params>(params)
        }
        m if m == methods::Run::METHOD => round_trip::<<methods::Run as methods::Request>::Params>(params),
        m if m == methods::JobStatus::METHOD => {
            round_trip::<<methods::JobStatus as methods::Notification>::Params>(params)
        }
        m if m == methods::JobOutput::METHOD => {
            round_trip::<<methods::JobOutput as methods::Notification>::Params>(params)
        }
        m if m == methods::JobDiagnostics::METHOD => {
            round_trip::<<methods::JobDiagnostics as methods::Notification>::Params>(params)
        }
        m if m == methods::JobStdin::METHOD => {
            round_trip::<<methods::JobStdin as methods::Notification>::Params>(params)
        }
        m if m == methods::Cancel::METHOD => round_trip::<<methods::Cancel as methods::Notification>::Params>(params),
        other => Err(format!("unknown method {other:?}")),
    }
}

fn check_result(method: &str, result: &Value) -> Result<(), String> {
    match method {
        m if m == methods::Initialize::METHOD => {
            round_trip::<<methods::Initialize as methods::Request>::Result>(result)
        }
        m if m == methods::Run::METHOD => round_trip::<<methods::Run as methods::Request>::Result>(result),
        other => Err(format!("a result for {other:?}, which is not a request")),
    }
}

fn check_block(text: &str, requests: &mut HashMap<RequestId, String>) -> Result<(), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let msg = Message::parse(text).map_err(|f| format!("not a message: {}", f.error.message))?;
    if serde_json::to_value(&msg).unwrap() != value {
        return Err("the message does not round-trip".into());
    }
    match &msg {
        Message::Request(r) => {
            requests.insert(r.id.clone(), r.method.clone());
            check_params(&r.method, r.params.as_ref().ok_or("a request without params")?)
        }
        Message::Notification(n) => check_params(&n.method, n.params.as_ref().ok_or("a notification without params")?),
        Message::Response(r) => match (&r.result, &r.error) {
            (Some(result), None) => {
                let id = r.id.as_ref().ok_or("a result with a null id")?;
                let method = requests.get(id).ok_or_else(|| {
                    format!("a result for id {id}, but no request with that id comes before it on the page")
                })?;
                check_result(method, result)
            }
            (None, Some(e)) => {
                if !error_codes::ALL.iter().any(|(c, _)| *c == e.code) {
                    return Err(format!("error code {} is not in error_codes::ALL", e.code));
                }
                match (e.code, &e.data) {
                    (error_codes::LIMIT_EXCEEDED, Some(d)) => round_trip::<LimitExceededData>(d),
                    (error_codes::BUSY, Some(d)) => round_trip::<BusyData>(d),
                    (error_codes::LIMIT_EXCEEDED | error_codes::BUSY, None) => Err("error data missing".into()),
                    (_, Some(_)) => Err(format!("error {} carries no data", e.code)),
                    (_, None) => Ok(()),
                }
            }
            _ => Err("a response has exactly one of result and error".into()),
        },
    }
}

#[test]
fn json_blocks_in_the_spec_are_real_messages() {
    let mut pages = vec![spec_dir().join("README.md")];
    let mut method_pages: Vec<PathBuf> = fs::read_dir(spec_dir().join("methods"))
        .expect("spec/methods exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    method_pages.sort();
    pages.extend(method_pages);

    let mut problems = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let name = page.strip_prefix(spec_dir()).unwrap().display().to_string();
        let mut requests = HashMap::new();
        for (i, block) in json_blocks(&read(page)).iter().enumerate() {
            checked += 1;
            if let Err(why) = check_block(block, &mut requests) {
                problems.push(format!("{name}, json block {}: {why}", i + 1));
            }
        }
    }
    assert!(checked > 0, "no json blocks found under {}", spec_dir().display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn page_names_follow_the_method_names() {
    assert_eq!(page_name("initialize"), "initialize.md");
    assert_eq!(page_name("job/status"), "job-status.md");
    assert_eq!(page_name("$/cancelRequest"), "cancel-request.md");
}
