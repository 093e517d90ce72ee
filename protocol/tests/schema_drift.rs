//! The checked-in JSON Schema must be exactly what the protocol crate
//! generates, so that `spec/schema/` can never drift from the Rust types.
//!
//! After changing a wire type, regenerate the file with
//! `UPDATE_SCHEMA=1 cargo test -p coderun-protocol --test schema_drift`
//! and commit it with the change.

use std::path::PathBuf;

use coderun_protocol::{error_codes, methods, schema};
use serde_json::Value;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/schema/protocol.schema.json")
}

#[test]
fn checked_in_schema_matches_the_generated_one() {
    let generated = schema::generate_text();
    let path = schema_path();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "{} is out of date with the protocol crate (first difference at line {}).\n\
             Regenerate it with:\n\n    UPDATE_SCHEMA=1 cargo test -p coderun-protocol --test schema_drift\n\n\
             and commit the result together with the change to the wire types.",
            path.display(),
            line + 1,
        );
    }
}

#[test]
fn schema_defines_every_method_with_its_params_and_result() {
    let schema = schema::generate();
    let defs = schema["$defs"].as_object().expect("$defs is an object");
    let x_methods = schema["x-methods"].as_object().expect("x-methods is an object");
    let resolves = |v: &Value| -> bool {
        let r = v["$ref"].as_str().unwrap_or_default();
        r.strip_prefix("#/$defs/").is_some_and(|name| defs.contains_key(name))
    };
    for method in methods::REQUESTS {
        let m = &x_methods[*method];
        assert_eq!(m["kind"], "request", "{method}");
        assert!(resolves(&m["params"]), "{method}: params do not resolve under $defs");
        assert!(resolves(&m["result"]), "{method}: result does not resolve under $defs");
    }
    for method in methods::NOTIFICATIONS {
        let m = &x_methods[*method];
        assert_eq!(m["kind"], "notification", "{method}");
        assert!(resolves(&m["params"]), "{method}: params do not resolve under $defs");
        assert!(m.get("result").is_none(), "{method}: a notification has no result");
    }
    assert_eq!(x_methods.len(), methods::REQUESTS.len() + methods::NOTIFICATIONS.len());
}

#[test]
fn schema_lists_every_error_code() {
    let schema = schema::generate();
    let codes: Vec<i64> = schema["x-errors"]
        .as_array()
        .expect("x-errors is an array")
        .iter()
        .map(|e| e["code"].as_i64().expect("code is an integer"))
        .collect();
    let expected: Vec<i64> = error_codes::ALL.iter().map(|(c, _)| i64::from(*c)).collect();
    assert_eq!(codes, expected);
}
