//! rustc's JSON diagnostics (`--error-format=json`).
//!
//! With that flag rustc prints one JSON object per line on stderr instead of
//! its text. Each carries exact spans (1-based lines, and columns counted in
//! Unicode scalar values) and, in `rendered`, the very text rustc would have
//! printed without the flag. This parser therefore rewrites the stream: each
//! JSON line is replaced by its `rendered` text, so the student reads
//! rustc's usual output, and becomes a diagnostic. Lines that are not JSON
//! (a linker's complaint, a panic of rustc itself) pass through unchanged.
//!
//! The diagnostic's place is its first primary span; when that is outside the
//! student's files (inside a macro of the standard library, say), the macro
//! call site that led there (`expansion.span`, outwards), or else another
//! span in the student's files. The message is rustc's, followed by the
//! primary span's label on a line of its own (`mismatched types` /
//! ``expected `i32`, found `&str` ``), as editors show it. The code is the
//! error code (`E0308`) or the lint's name (`unused_variables`). Messages
//! without spans (`aborting due to 1 previous error`) only pass their text.
//! Without the flag rustc prints text, which passes through unparsed.

use serde::Deserialize;

use super::{Col, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "rustc";

pub struct Rustc;

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "$message_type", default)]
    message_type: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: Option<Code>,
    #[serde(default)]
    level: String,
    #[serde(default)]
    spans: Vec<Span>,
    #[serde(default)]
    rendered: Option<String>,
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

#[derive(Deserialize)]
struct Span {
    file_name: String,
    line_start: u32,
    line_end: u32,
    column_start: u32,
    column_end: u32,
    #[serde(default)]
    is_primary: bool,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    expansion: Option<Box<Expansion>>,
}

#[derive(Deserialize)]
struct Expansion {
    span: Span,
}

impl Rustc {
    /// Reads a line; returns the text to forward in its place when the line
    /// is one of rustc's JSON messages.
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) -> Option<String> {
        if !line.starts_with('{') {
            return None;
        }
        let message: Message = serde_json::from_str(line).ok()?;
        match message.message_type.as_deref() {
            None | Some("diagnostic") => {}
            // Artifact notifications and the like are for build tools.
            Some(_) => return Some(String::new()),
        }
        if let Some(d) = diagnostic(&message, src) {
            out.push(d);
        }
        Some(message.rendered.unwrap_or_default())
    }
}

fn diagnostic(m: &Message, src: &Sources) -> Option<Diagnostic> {
    let severity = match m.level.as_str() {
        "error" | "error: internal compiler error" => Severity::Error,
        "warning" => Severity::Warning,
        "note" => Severity::Information,
        "help" => Severity::Hint,
        _ => return None,
    };
    let primary = m.spans.iter().find(|s| s.is_primary)?;
    let (file, span) = std::iter::successors(Some(primary), |s| s.expansion.as_ref().map(|e| &e.span))
        .chain(m.spans.iter())
        .find_map(|s| src.resolve(&s.file_name).map(|f| (f, s)))?;
    let position = |line: u32, column: u32| {
        let line = line.saturating_sub(1);
        (line, src.line(file, line).utf16(Col::Chars(column.saturating_sub(1))))
    };
    let mut message = m.message.clone();
    if let Some(label) = primary.label.as_deref().filter(|l| !l.is_empty()) {
        message.push('\n');
        message.push_str(label);
    }
    Some(Diagnostic {
        file: file.to_owned(),
        start: position(span.line_start, span.column_start),
        end: position(span.line_end, span.column_end),
        severity,
        message,
        code: m.code.as_ref().map(|c| c.code.clone()),
        source: Some(SOURCE.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobFile;

    fn src() -> Sources {
        Sources::new(&[JobFile {
            path: "main.rs".into(),
            content: b"fn main() {\n    let x: i32 = \"s\";\n}\n".to_vec(),
        }])
    }

    #[test]
    fn lines_that_are_not_json_pass_through() {
        let mut out = Vec::new();
        assert_eq!(Rustc.line("error: linking with `cc` failed: exit status: 1", &src(), &mut out), None);
        assert_eq!(Rustc.line("{not json", &src(), &mut out), None);
        assert!(out.is_empty());
    }

    #[test]
    fn other_json_messages_are_not_forwarded() {
        let mut out = Vec::new();
        let line = r#"{"$message_type":"artifact","artifact":"main.d","emit":"dep-info"}"#;
        assert_eq!(Rustc.line(line, &src(), &mut out), Some(String::new()));
        assert!(out.is_empty());
    }

    #[test]
    fn a_span_in_a_macro_of_the_standard_library_maps_to_its_call_site() {
        let line = r#"{"$message_type":"diagnostic","message":"boom","code":null,"level":"error","spans":[{"file_name":"/rustc/abc/library/core/src/macros/mod.rs","byte_start":0,"byte_end":1,"line_start":9,"line_end":9,"column_start":1,"column_end":2,"is_primary":true,"label":null,"expansion":{"span":{"file_name":"main.rs","byte_start":0,"byte_end":0,"line_start":2,"line_end":2,"column_start":18,"column_end":21,"is_primary":false,"label":null,"expansion":null},"macro_decl_name":"m!","def_site_span":null}}],"children":[],"rendered":"error: boom\n"}"#;
        let mut out = Vec::new();
        assert_eq!(Rustc.line(line, &src(), &mut out), Some("error: boom\n".into()));
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].file.as_str(), out[0].start, out[0].end), ("main.rs", (1, 17), (1, 20)));
    }
}
