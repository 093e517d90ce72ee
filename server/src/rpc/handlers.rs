//! The method handlers shared by the WebSocket session and `POST /rpc`:
//! decoding params (naming the field that is wrong), `initialize`, and the
//! admission of a `run` (validation, then a place in the queue).

use serde::de::DeserializeOwned;
use serde_json::Value;

use coderun_protocol::{self as p, PROTOCOL_VERSION};

use super::{convert, errors::RpcError};
use crate::{
    job::{JobSpec, StdinSource},
    scheduler::Ticket,
    state::AppState,
};

/// Decodes a method's params. The error message names the field, e.g.
/// `invalid params: files[0].path: invalid type: integer, expected a string`.
pub fn params<T: DeserializeOwned>(params: Option<Value>) -> Result<T, RpcError> {
    let value = match params.unwrap_or(Value::Null) {
        Value::Null => Value::Object(Default::default()),
        // serde's derived structs would also take a sequence, field by
        // field; this protocol's params are always named.
        Value::Array(_) => return Err(RpcError::InvalidParams("params must be an object, not an array".into())),
        v => v,
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names a missing field itself ("missing field `files`").
        if path == "." || path.is_empty() {
            RpcError::InvalidParams(inner)
        } else {
            RpcError::InvalidParams(format!("{path}: {inner}"))
        }
    })
}

/// Compares tokens in time independent of where they differ.
pub fn token_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `initialize`: checks version and token, describes the server.
pub fn initialize(
    state: &AppState,
    params: p::InitializeParams,
    header_authorized: bool,
) -> Result<p::InitializeResult, RpcError> {
    if params.protocol_version != PROTOCOL_VERSION {
        return Err(RpcError::InvalidParams(format!(
            "protocolVersion: this server speaks version {PROTOCOL_VERSION:?}, not {:?}",
            params.protocol_version
        )));
    }
    if let Some(expected) = &state.config.token {
        let ok = header_authorized || params.token.as_deref().is_some_and(|t| token_matches(expected, t));
        if !ok {
            return Err(RpcError::Unauthorized);
        }
    }
    if let Some(client) = &params.client {
        tracing::info!(client = %client.name, version = ?client.version, "session initialized");
    }
    Ok(p::InitializeResult {
        protocol_version: PROTOCOL_VERSION.to_owned(),
        server: p::ServerInfo { name: "coderun".into(), version: env!("CARGO_PKG_VERSION").into() },
        languages: state
            .catalog
            .iter()
            .map(|l| p::LanguageInfo {
                id: l.def.id.clone(),
                name: l.def.name.clone(),
                version: l.version.clone(),
                extensions: l.def.extensions.clone(),
                entry: l.def.entry.clone(),
                compiled: l.compiled(),
            })
            .collect(),
        limits: p::LimitsInfo {
            defaults: state.config.limits.defaults,
            maximums: state.config.limits.maximums,
            build: Some(state.config.limits.build),
        },
        features: state.features.clone(),
    })
}

/// Where a `run` arrived, for the one rule that differs between bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    WebSocket,
    /// `POST /rpc` cannot carry `job/stdin`, so it takes no interactive job.
    Http,
}

/// Validates a `run` and takes a place in the queue for it, checking in the
/// spec's order: shutdown, params, the job itself, then the queue.
pub fn admit_run(state: &AppState, params: Option<Value>, binding: Binding) -> Result<(JobSpec, Ticket), RpcError> {
    if state.shutdown.stopping.is_cancelled() {
        return Err(RpcError::ShuttingDown);
    }
    let params: p::RunParams = self::params(params)?;
    let spec = convert::job_spec(params, &state.catalog, &state.config)?;
    if binding == Binding::Http && spec.stdin == StdinSource::Interactive {
        return Err(RpcError::InvalidParams(
            "interactive: POST /rpc cannot carry job/stdin; send the whole input as stdin".into(),
        ));
    }
    let ticket = state.scheduler.enqueue().map_err(|busy| RpcError::Busy { retry_after_ms: busy.retry_after_ms })?;
    Ok((spec, ticket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_errors_name_the_field() {
        let e = params::<p::RunParams>(Some(serde_json::json!({"language": 5, "files": []}))).unwrap_err();
        assert!(e.to_string().contains("language"), "{e}");
        let e =
            params::<p::RunParams>(Some(serde_json::json!({"language": "c", "files": [{"path": 1, "content": ""}]})))
                .unwrap_err();
        assert!(e.to_string().contains("files[0].path"), "{e}");
        let e = params::<p::RunParams>(Some(serde_json::json!({"language": "c"}))).unwrap_err();
        assert!(e.to_string().contains("files"), "{e}");
        let e = params::<p::RunParams>(Some(serde_json::json!(["c", []]))).unwrap_err();
        assert!(e.to_string().contains("object"), "{e}");
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("abc", "ab"));
    }
}
