//! Generation of the protocol's JSON Schema from the types of this crate.
//!
//! `spec/schema/protocol.schema.json` is the output of [`generate`]; the
//! protocol crate's `schema_drift` test regenerates it and fails on any
//! difference (run it with `UPDATE_SCHEMA=1` to rewrite the file).

use schemars::{generate::SchemaSettings, JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::{
    error_codes::{BusyData, LimitExceededData},
    methods::{self, Notification as _, Request as _},
    *,
};

/// The whole protocol as one JSON Schema document: every type under
/// `$defs`, and under `x-methods` each method's params and result by name.
pub fn generate() -> Value {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let mut methods = Map::new();

    fn entry<P: JsonSchema, R: JsonSchema>(
        g: &mut SchemaGenerator,
        direction: &str,
        with_result: bool,
    ) -> Value {
        let mut m = Map::new();
        m.insert("direction".into(), json!(direction));
        m.insert("params".into(), g.subschema_for::<P>().to_value());
        if with_result {
            m.insert("result".into(), g.subschema_for::<R>().to_value());
        }
        Value::Object(m)
    }

    methods.insert(
        methods::Initialize::METHOD.into(),
        entry::<InitializeParams, InitializeResult>(&mut generator, "clientToServer", true),
    );
    methods.insert(
        methods::Run::METHOD.into(),
        entry::<RunParams, RunResult>(&mut generator, "clientToServer", true),
    );
    methods.insert(
        methods::JobStatus::METHOD.into(),
        entry::<JobStatusParams, ()>(&mut generator, "serverToClient", false),
    );
    methods.insert(
        methods::JobOutput::METHOD.into(),
        entry::<JobOutputParams, ()>(&mut generator, "serverToClient", false),
    );
    methods.insert(
        methods::JobDiagnostics::METHOD.into(),
        entry::<JobDiagnosticsParams, ()>(&mut generator, "serverToClient", false),
    );
    methods.insert(
        methods::JobStdin::METHOD.into(),
        entry::<JobStdinParams, ()>(&mut generator, "clientToServer", false),
    );
    methods.insert(
        methods::Cancel::METHOD.into(),
        entry::<CancelParams, ()>(&mut generator, "clientToServer", false),
    );
    let message = generator.subschema_for::<Message>().to_value();
    generator.subschema_for::<LimitExceededData>();
    generator.subschema_for::<BusyData>();

    let defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    let errors: Vec<Value> =
        error_codes::ALL.iter().map(|(code, name)| json!({ "code": code, "name": name })).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://coderun.dev/spec/schema/protocol.schema.json",
        "title": "coderun protocol, version 1",
        "description": "Generated from the coderun-protocol crate; do not edit by hand.",
        "protocolVersion": crate::PROTOCOL_VERSION,
        "$ref": message["$ref"],
        "x-methods": methods,
        "x-errors": errors,
        "$defs": defs,
    })
}

/// [`generate`] as the pretty-printed text checked in under `spec/schema/`.
pub fn generate_text() -> String {
    let mut text = serde_json::to_string_pretty(&generate()).expect("schema serializes");
    text.push('\n');
    text
}
