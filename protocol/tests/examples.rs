//! Every file under `spec/examples/` is one protocol message, and this test
//! holds each to the types of this crate and to the generated schema.
//!
//! A file's name says what it is: `<kind>.<case>.json`, where `<kind>` is a
//! prefix in [`rules`] (`run.request`, `job-status`, `error.busy`, ...) and
//! `<case>` is free. For each file the test checks that:
//!
//! - `Message::parse` reads it, and the message serializes back to exactly
//!   the same JSON value;
//! - it is the kind of message its name says (request, notification, result
//!   or error response; the method; the error code);
//! - its params, result or error data decode into the Rust type of that
//!   method or code and re-encode to exactly the same JSON value, so an
//!   example cannot carry a field the types do not know;
//! - the message, and its params, result or error data, validate against
//!   `spec/schema/protocol.schema.json` as generated now.
//!
//! A file whose name matches no rule fails the test, so no example goes
//! unchecked; and every method, error code, job state and run status must
//! have at least one example.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use coderun_protocol::{
    error_codes::{self, BusyData, LimitExceededData},
    methods::{self, Request as _},
    schema, Message, RunResult,
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/examples")
}

/// The parts of a message to validate against the schema, each as
/// (`$defs` name, value), or why the message is not what its name says.
type Checked = Result<Vec<(String, Value)>, String>;

/// What one example must be.
struct Rule {
    prefix: String,
    check: Box<dyn Fn(&Message) -> Checked>,
}

fn rule(prefix: impl Into<String>, check: impl Fn(&Message) -> Checked + 'static) -> Rule {
    Rule { prefix: prefix.into(), check: Box::new(check) }
}

/// Every prefix an example may have. Adding an example of a new kind means
/// adding its rule here.
fn rules() -> Vec<Rule> {
    let mut rules = vec![
        rule("initialize.request", request::<methods::Initialize>),
        rule("initialize.response", response::<methods::Initialize>),
        rule("run.request", request::<methods::Run>),
        rule("run.response", |m| {
            // Over the WebSocket, output and diagnostics arrive as notifications.
            let parts = response::<methods::Run>(m)?;
            let r: RunResult = decode(&parts[0].1)?;
            if r.output.is_some() || r.diagnostics.is_some() {
                return Err("a WebSocket run result has no `output` or `diagnostics`".into());
            }
            Ok(parts)
        }),
        rule("http-run.request", request::<methods::Run>),
        rule("http-run.response", |m| {
            let parts = response::<methods::Run>(m)?;
            let r: RunResult = decode(&parts[0].1)?;
            if r.output.is_none() || r.diagnostics.is_none() {
                return Err("a POST /rpc run result carries `output` and `diagnostics`".into());
            }
            Ok(parts)
        }),
        rule("job-status", notification::<methods::JobStatus>),
        rule("job-output", notification::<methods::JobOutput>),
        rule("job-diagnostics", notification::<methods::JobDiagnostics>),
        rule("job-stdin", notification::<methods::JobStdin>),
        rule("cancel-request", notification::<methods::Cancel>),
    ];
    for &(code, name) in error_codes::ALL {
        rules.push(rule(format!("error.{}", name.replace(' ', "-")), move |m| error(m, code)));
    }
    rules
}

/// Decodes `value` into `T` and checks that `T` encodes it back unchanged.
fn decode<T: DeserializeOwned + Serialize>(value: &Value) -> Result<T, String> {
    let typed: T = serde_json::from_value(value.clone())
        .map_err(|e| format!("does not decode as {}: {e}", std::any::type_name::<T>()))?;
    let back = serde_json::to_value(&typed).expect("wire types serialize");
    if &back != value {
        return Err(format!(
            "{} does not round-trip:\n  file:     {value}\n  re-encoded: {back}",
            std::any::type_name::<T>()
        ));
    }
    Ok(typed)
}

fn def_name<T>() -> String {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full).to_owned()
}

fn request<M: methods::Request>(msg: &Message) -> Checked {
    let Message::Request(r) = msg else {
        return Err("expected a request".into());
    };
    if r.method != M::METHOD {
        return Err(format!("expected method {:?}, found {:?}", M::METHOD, r.method));
    }
    let params = r.params.clone().ok_or("a request of this protocol always has params")?;
    decode::<M::Params>(&params)?;
    Ok(vec![(def_name::<M::Params>(), params)])
}

fn notification<M: methods::Notification>(msg: &Message) -> Checked {
    let Message::Notification(n) = msg else {
        return Err("expected a notification".into());
    };
    if n.method != M::METHOD {
        return Err(format!("expected method {:?}, found {:?}", M::METHOD, n.method));
    }
    let params = n.params.clone().ok_or("a notification of this protocol always has params")?;
    decode::<M::Params>(&params)?;
    Ok(vec![(def_name::<M::Params>(), params)])
}

fn response<M: methods::Request>(msg: &Message) -> Checked {
    let Message::Response(r) = msg else {
        return Err("expected a response".into());
    };
    if r.id.is_none() {
        return Err("a result answers a request, so its id is not null".into());
    }
    if r.error.is_some() {
        return Err("expected a result, found an error".into());
    }
    let result = r.result.clone().ok_or("expected a result")?;
    decode::<M::Result>(&result)?;
    Ok(vec![(def_name::<M::Result>(), result)])
}

fn error(msg: &Message, code: i32) -> Checked {
    let Message::Response(r) = msg else {
        return Err("expected a response".into());
    };
    if r.result.is_some() {
        return Err("an error response has no result".into());
    }
    let e = r.error.as_ref().ok_or("expected an error")?;
    if e.code != code {
        return Err(format!("the file name says error {code}, the file has {}", e.code));
    }
    if code == error_codes::PARSE_ERROR && r.id.is_some() {
        return Err("a parse error's id is null".into());
    }
    match (code, &e.data) {
        (error_codes::LIMIT_EXCEEDED, Some(data)) => {
            decode::<LimitExceededData>(data)?;
            Ok(vec![(def_name::<LimitExceededData>(), data.clone())])
        }
        (error_codes::BUSY, Some(data)) => {
            decode::<BusyData>(data)?;
            Ok(vec![(def_name::<BusyData>(), data.clone())])
        }
        (error_codes::LIMIT_EXCEEDED | error_codes::BUSY, None) => Err(format!("error {code} always carries data")),
        (_, Some(_)) => Err(format!("error {code} carries no data")),
        (_, None) => Ok(vec![]),
    }
}

/// Validates `value` against `#/$defs/<def>` of the generated schema, or
/// against the whole document (one message) when `def` is `None`.
fn schema_errors(schema: &Value, def: Option<&str>, value: &Value) -> Vec<String> {
    let mut doc = schema.clone();
    if let Some(def) = def {
        assert!(schema["$defs"].get(def).is_some(), "the schema has no $defs/{def}");
        doc["$ref"] = json!(format!("#/$defs/{def}"));
    }
    let validator = jsonschema::validator_for(&doc).expect("the generated schema compiles");
    validator.iter_errors(value).map(|e| format!("{} at {:?}", e, e.instance_path().to_string())).collect()
}

struct Example {
    name: String,
    value: Value,
    rule: usize,
}

fn load_examples(rules: &[Rule]) -> (Vec<Example>, Vec<String>) {
    let mut examples = Vec::new();
    let mut failures = Vec::new();
    let mut paths: Vec<PathBuf> = fs::read_dir(examples_dir())
        .expect("spec/examples exists")
        .map(|e| e.expect("readable directory entry").path())
        .collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            failures.push(format!("{name}: every file under spec/examples is a .json message"));
            continue;
        };
        let matching: Vec<usize> = (0..rules.len())
            .filter(|&i| stem == rules[i].prefix || stem.starts_with(&format!("{}.", rules[i].prefix)))
            .collect();
        let [rule] = matching[..] else {
            failures.push(format!(
                "{name}: the name must start with exactly one known kind (found {}); \
                 add a rule to protocol/tests/examples.rs for a new kind",
                matching.len()
            ));
            continue;
        };
        let text = fs::read_to_string(&path).expect("example is readable");
        match serde_json::from_str(&text) {
            Ok(value) => examples.push(Example { name, value, rule }),
            Err(e) => failures.push(format!("{name}: not JSON: {e}")),
        }
    }
    (examples, failures)
}

#[test]
fn every_example_is_a_valid_message_of_the_kind_its_name_says() {
    let rules = rules();
    let schema = schema::generate();
    let (examples, mut failures) = load_examples(&rules);
    assert!(!examples.is_empty(), "no examples found in {}", examples_dir().display());
    for ex in &examples {
        let text = serde_json::to_string(&ex.value).unwrap();
        let msg = match Message::parse(&text) {
            Ok(msg) => msg,
            Err(f) => {
                failures.push(format!("{}: Message::parse fails: {}", ex.name, f.error.message));
                continue;
            }
        };
        let back = serde_json::to_value(&msg).unwrap();
        if back != ex.value {
            failures.push(format!("{}: the message does not round-trip; re-encoded as {back}", ex.name));
        }
        let parts = match (rules[ex.rule].check)(&msg) {
            Ok(parts) => parts,
            Err(why) => {
                failures.push(format!("{}: {why}", ex.name));
                continue;
            }
        };
        for why in schema_errors(&schema, None, &ex.value) {
            failures.push(format!("{}: schema: {why}", ex.name));
        }
        for (def, value) in parts {
            for why in schema_errors(&schema, Some(&def), &value) {
                failures.push(format!("{}: schema {def}: {why}", ex.name));
            }
        }
    }
    assert!(failures.is_empty(), "{} example problem(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_method_and_error_code_has_an_example() {
    let rules = rules();
    let (examples, _) = load_examples(&rules);
    let covered: BTreeSet<&str> = examples.iter().map(|e| rules[e.rule].prefix.as_str()).collect();
    let mut needed: Vec<String> = vec![
        "initialize.request".into(),
        "initialize.response".into(),
        "run.request".into(),
        "run.response".into(),
        "http-run.request".into(),
        "http-run.response".into(),
        "job-status".into(),
        "job-output".into(),
        "job-diagnostics".into(),
        "job-stdin".into(),
        "cancel-request".into(),
    ];
    needed.extend(error_codes::ALL.iter().map(|(_, name)| format!("error.{}", name.replace(' ', "-"))));
    let missing: Vec<&String> = needed.iter().filter(|n| !covered.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "no example of: {missing:?}");

    // The prefixes above must stay in step with the methods the crate defines.
    assert_eq!(methods::REQUESTS, &[methods::Initialize::METHOD, methods::Run::METHOD]);
    assert_eq!(methods::NOTIFICATIONS.len(), 5, "a new notification needs a rule and an example");
}

/// The string values a closed enum of the schema allows, whether schemars
/// wrote it as `enum` or as `oneOf` of `const`s.
fn enum_values(schema: &Value, def: &str) -> BTreeSet<String> {
    let d = &schema["$defs"][def];
    let values: Vec<&Value> = match (d.get("enum"), d.get("oneOf")) {
        (Some(Value::Array(vs)), _) => vs.iter().collect(),
        (_, Some(Value::Array(vs))) => vs.iter().map(|v| &v["const"]).collect(),
        _ => panic!("{def} is not a closed enum in the schema"),
    };
    values.into_iter().map(|v| v.as_str().expect("string enum").to_owned()).collect()
}

#[test]
fn every_run_status_and_job_state_has_an_example() {
    let rules = rules();
    let schema = schema::generate();
    let (examples, _) = load_examples(&rules);
    let of_kind = |prefix: &str| -> Vec<&Value> {
        examples.iter().filter(|e| rules[e.rule].prefix == prefix).map(|e| &e.value).collect()
    };
    let statuses: BTreeSet<String> =
        of_kind("run.response").into_iter().filter_map(|v| v["result"]["status"].as_str().map(str::to_owned)).collect();
    assert_eq!(statuses, enum_values(&schema, "RunStatus"), "run.response examples vs RunStatus");
    let states: BTreeSet<String> =
        of_kind("job-status").into_iter().filter_map(|v| v["params"]["state"].as_str().map(str::to_owned)).collect();
    assert_eq!(states, enum_values(&schema, "JobState"), "job-status examples vs JobState");
}

#[test]
fn generated_schema_is_a_valid_draft_2020_12_schema() {
    let schema = schema::generate();
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("the generated schema is not a valid JSON Schema: {e}");
    }
}
