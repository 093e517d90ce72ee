//! javac's diagnostics.
//!
//! javac prints `Main.java:3: error: ';' expected`, then the source line,
//! then a caret line whose `^` marks the column: javac builds that line from
//! spaces, copying the source line's tabs, so the caret's index is the
//! column in UTF-16 code units (Java strings), exactly the protocol's unit.
//! Some messages go on with indented detail lines (`  symbol:   variable
//! x`, `  location: class Main`), which are added to the message, one per
//! line; so a message is complete only when the next message, the summary
//! (`1 error`) or the end of the stage comes. A warning's lint category,
//! `warning: [removal] ...`, is its `code`. The range is the identifier at
//! the caret, or one character.

use super::{on_line, split_location, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "javac";

#[derive(Default)]
pub struct Javac {
    pending: Option<Pending>,
}

struct Pending {
    /// `None` for a message about a file that is not the student's: its
    /// lines are read and dropped.
    file: Option<String>,
    /// 0-based.
    line: u32,
    severity: Severity,
    message: String,
    code: Option<String>,
    /// 0-based, UTF-16; known once the caret line came.
    column: Option<u32>,
    /// Lines read since the header.
    lines_seen: u32,
}

impl Javac {
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        if let Some(p) = &mut self.pending {
            p.lines_seen += 1;
            match p.lines_seen {
                // The source line.
                1 => return,
                2 if p.column.is_none() && is_caret_line(line) => {
                    p.column = line.find('^').map(|i| i as u32);
                    return;
                }
                _ if line.starts_with("  ") && !line.trim().is_empty() => {
                    p.message.push('\n');
                    p.message.push_str(line.trim());
                    return;
                }
                _ => self.flush(src, out),
            }
        }
        let Some((path, line_no, None, rest)) = split_location(line) else {
            return;
        };
        let (severity, text) = if let Some(t) = rest.strip_prefix(" error: ") {
            (Severity::Error, t)
        } else if let Some(t) = rest.strip_prefix(" warning: ") {
            (Severity::Warning, t)
        } else {
            return;
        };
        let (message, code) = match text.strip_prefix('[').and_then(|t| t.split_once("] ")) {
            Some((lint, message)) => (message.to_owned(), Some(lint.to_owned())),
            None => (text.to_owned(), None),
        };
        self.pending = Some(Pending {
            file: src.resolve(path).map(str::to_owned),
            line: line_no - 1,
            severity,
            message,
            code,
            column: None,
            lines_seen: 0,
        });
    }

    pub fn finish(&mut self, src: &Sources, out: &mut Vec<Diagnostic>) {
        self.flush(src, out);
    }

    fn flush(&mut self, src: &Sources, out: &mut Vec<Diagnostic>) {
        let Some(p) = self.pending.take() else { return };
        let Some(file) = p.file else { return };
        let text = src.line(&file, p.line);
        let range = match p.column {
            Some(c) => {
                let start = text.utf16(super::Col::Utf16(c));
                (start, text.token_end(start))
            }
            None => text.trimmed(),
        };
        out.push(on_line(&file, p.line, range, p.severity, p.message, p.code, SOURCE));
    }
}

/// Whether a line is javac's caret line: blanks and one `^`.
fn is_caret_line(line: &str) -> bool {
    let t = line.trim_end();
    t.ends_with('^') && t[..t.len() - 1].chars().all(|c| c == ' ' || c == '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_lines_are_blanks_and_one_caret() {
        assert!(is_caret_line("        ^"));
        assert!(is_caret_line("\t   ^"));
        assert!(is_caret_line("^"));
        assert!(!is_caret_line("  x ^"));
        assert!(!is_caret_line("  symbol: x"));
    }
}
