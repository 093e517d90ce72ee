//! The Go toolchain's diagnostics: `go build` and `go vet`.
//!
//! Both print one message per line, `./main.go:5:2: undefined: x`, after a
//! `# package` header line; the path is relative to the working directory
//! (with `./`) and the column counts bytes. A message of `go build` is an
//! error (Go has no compiler warnings: an unused variable fails the build).
//! A finding of `go vet` is a warning, except that vet reports a package that
//! does not compile as `vet: ./main.go:5:2: ...`, an error. The range is the
//! identifier at the column, or one character.

use super::{on_line, split_location, Col, Diagnostic, Sources};
use crate::job::Severity;

pub struct Go {
    /// `go vet` rather than `go build`.
    vet: bool,
}

impl Go {
    pub fn new(argv: &[String]) -> Go {
        Go { vet: argv.get(1).is_some_and(|a| a == "vet") }
    }

    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        let (line, type_error) = match line.strip_prefix("vet: ") {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        let Some((path, line_no, col, rest)) = split_location(line) else {
            return;
        };
        let Some(message) = rest.strip_prefix(' ').filter(|m| !m.is_empty() && *m != "too many errors") else {
            return;
        };
        let Some(file) = src.resolve(path) else {
            return;
        };
        let (severity, source) = match (self.vet, type_error) {
            (true, false) => (Severity::Warning, "go vet"),
            (true, true) => (Severity::Error, "go vet"),
            (false, _) => (Severity::Error, "go"),
        };
        let line_no = line_no - 1;
        let text = src.line(file, line_no);
        let start = text.utf16(Col::Bytes(col.unwrap_or(1).saturating_sub(1)));
        let range = if col.is_some() { (start, text.token_end(start)) } else { text.trimmed() };
        out.push(on_line(file, line_no, range, severity, message.to_owned(), None, source));
    }
}
