//! Diagnostics in the shape of LSP's `Diagnostic`, addressed to a file of the
//! job rather than to a document URI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A position in a file: 0-based line and 0-based character offset in
/// UTF-16 code units, as in LSP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

/// A range in a file; `end` is exclusive, as in LSP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

/// How serious a diagnostic is. LSP encodes these as 1 to 4; this protocol
/// uses their names so that a page can read them without a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DiagnosticSeverity {
    Error,
    Warning,
    Information,
    Hint,
}

/// One compiler or runtime message about the student's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// The file's path as given in `run`'s `files`.
    pub file: String,
    pub range: Range,
    pub severity: DiagnosticSeverity,
    pub message: String,
    /// The tool's code for the message, e.g. `E0308` or `NameError`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The tool that produced it, e.g. `gcc` or `python`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_round_trips_exactly() {
        let text = r#"{"file":"main.c","range":{"start":{"line":2,"character":4},"end":{"line":2,"character":9}},"severity":"error","message":"expected ';'","source":"gcc"}"#;
        let d: Diagnostic = serde_json::from_str(text).unwrap();
        assert_eq!(d.severity, DiagnosticSeverity::Error);
        assert_eq!(serde_json::to_string(&d).unwrap(), text);
    }
}
