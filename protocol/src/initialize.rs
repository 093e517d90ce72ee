//! `initialize`: the handshake that opens every WebSocket session.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Limits;

/// Params of `initialize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    /// The protocol version the client speaks; `"1"` for this one.
    pub protocol_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientInfo>,
    /// The server's access token, when it requires one and the client did
    /// not send it in an `Authorization: Bearer` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Who the client is, for the server's logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Result of `initialize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResult {
    /// The protocol version the server speaks on this connection: `"1"`.
    pub protocol_version: String,
    pub server: ServerInfo,
    /// The languages this server can run now, in a stable order.
    pub languages: Vec<LanguageInfo>,
    pub limits: LimitsInfo,
    /// Open set of feature names, e.g. `"interactive"`, `"sandbox:native"`,
    /// `"isolation:pidNamespace"`. Clients ignore names they do not know.
    pub features: Vec<String>,
}

/// The server's name and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
}

/// One language the server runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LanguageInfo {
    /// The id to send as `run`'s `language`, e.g. `"python"`.
    pub id: String,
    /// A name for people, e.g. `"Python"`.
    pub name: String,
    /// The toolchain's version as it reports it, e.g. `"3.11.2"`.
    pub version: String,
    /// File extensions of the language, with the dot, e.g. `[".py"]`.
    pub extensions: Vec<String>,
    /// The file run when `run` names no `entry`, e.g. `"main.py"`.
    pub entry: String,
    /// Whether a build stage runs before the run stage.
    pub compiled: bool,
}

/// The limits a client may ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitsInfo {
    /// What a `run` gets for each limit it does not name.
    pub defaults: Limits,
    /// The largest value accepted for each limit.
    pub maximums: Limits,
    /// The limits of the build stage of compiled languages, set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Limits>,
}
