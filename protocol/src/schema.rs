//! Generation of the protocol's JSON Schema from the types of this crate.
//!
//! `spec/schema/protocol.schema.json` is the output of [`generate_text`]; the
//! protocol crate's `schema_drift` test regenerates it and fails on any
//! difference (run it with `UPDATE_SCHEMA=1` to rewrite the file).
//!
//! The document validates one JSON-RPC message (its root `$ref`), defines
//! every wire type under `$defs`, and adds two tables of its own:
//! `x-methods` (each method's kind, direction, params and result) and
//! `x-errors` (each error code, its name, and the schema of its `data`).

use std::collections::BTreeMap;

use schemars::{generate::SchemaSettings, JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::{
    error_codes::{self, BusyData, LimitExceededData},
    methods, *,
};

/// Fields that are always on the wire but may be `null`. Serde writes them
/// every time (they have no `skip_serializing_if`), yet schemars treats every
/// `Option` as optional; this table makes the schema say what the wire does.
const ALWAYS_PRESENT: &[(&str, &str)] = &[
    ("RunResult", "exitCode"),
    ("RunResult", "signal"),
    ("StageResult", "exitCode"),
    ("StageResult", "signal"),
    ("Response", "id"),
];

/// The whole protocol as one JSON Schema document.
pub fn generate() -> Value {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());

    fn request<M: methods::Request>(g: &mut SchemaGenerator) -> (String, Value)
    where
        M::Params: JsonSchema,
        M::Result: JsonSchema,
    {
        let entry = json!({
            "kind": "request",
            "direction": "clientToServer",
            "params": g.subschema_for::<M::Params>(),
            "result": g.subschema_for::<M::Result>(),
        });
        (M::METHOD.to_owned(), entry)
    }

    fn notification<M: methods::Notification>(g: &mut SchemaGenerator, direction: &str) -> (String, Value)
    where
        M::Params: JsonSchema,
    {
        let entry = json!({
            "kind": "notification",
            "direction": direction,
            "params": g.subschema_for::<M::Params>(),
        });
        (M::METHOD.to_owned(), entry)
    }

    let methods: Map<String, Value> = [
        request::<methods::Initialize>(&mut generator),
        request::<methods::Run>(&mut generator),
        notification::<methods::JobStatus>(&mut generator, "serverToClient"),
        notification::<methods::JobOutput>(&mut generator, "serverToClient"),
        notification::<methods::JobDiagnostics>(&mut generator, "serverToClient"),
        notification::<methods::JobStdin>(&mut generator, "clientToServer"),
        notification::<methods::Cancel>(&mut generator, "clientToServer"),
    ]
    .into_iter()
    .collect();

    let message = generator.subschema_for::<Message>().to_value();
    let limit_exceeded = generator.subschema_for::<LimitExceededData>().to_value();
    let busy = generator.subschema_for::<BusyData>().to_value();
    let errors: Vec<Value> = error_codes::ALL
        .iter()
        .map(|&(code, name)| {
            let mut e = json!({ "code": code, "name": name });
            let data = match code {
                error_codes::LIMIT_EXCEEDED => Some(&limit_exceeded),
                error_codes::BUSY => Some(&busy),
                _ => None,
            };
            if let Some(data) = data {
                e["data"] = data.clone();
            }
            e
        })
        .collect();

    let mut defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    for (def, field) in ALWAYS_PRESENT {
        let schema = defs.get_mut(*def).unwrap_or_else(|| panic!("no definition {def}"));
        assert!(schema["properties"].get(*field).is_some(), "{def} has no field {field}");
        let required = schema["required"].as_array_mut().expect("a struct has required fields");
        if !required.iter().any(|r| r == field) {
            required.push(json!(field));
        }
    }
    for schema in defs.values_mut() {
        tidy_descriptions(schema);
    }

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:coderun:protocol:1",
        "title": "coderun protocol, version 1",
        "description": "One JSON-RPC 2.0 message of the coderun protocol. Generated from the coderun-protocol crate by `cargo test -p coderun-protocol --test schema_drift` with UPDATE_SCHEMA=1; do not edit by hand.",
        "x-protocolVersion": crate::PROTOCOL_VERSION,
        "$ref": message["$ref"],
        "x-methods": methods,
        "x-errors": errors,
        "$defs": defs,
    })
}

/// [`generate`] as the text checked in under `spec/schema/`: pretty-printed,
/// keys sorted at every level, one final newline. Sorting here keeps the text
/// the same whether or not some other crate in the build turns on
/// serde_json's `preserve_order`.
pub fn generate_text() -> String {
    let mut text = serde_json::to_string_pretty(&sorted(generate())).expect("schema serializes");
    text.push('\n');
    text
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let map: BTreeMap<String, Value> = map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(map.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Rustdoc links mean nothing in a schema: "[`BUSY`]" becomes "`BUSY`".
fn tidy_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if key == "description" => {
                        *s = s.replace("[`", "`").replace("`]", "`");
                    }
                    _ => tidy_descriptions(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tidy_descriptions),
        _ => {}
    }
}
