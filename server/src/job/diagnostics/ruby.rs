//! Ruby's syntax errors, warnings and uncaught exceptions (Ruby 3.1).
//!
//! An uncaught exception ends a program with
//!
//! ```text
//! /work/lib/util.rb:10:in `fetch': index 5 outside of array bounds: -3...3 (IndexError)
//!     from /work/lib/util.rb:10:in `inner'
//!     from main.rb:4:in `<main>'
//! ```
//!
//! where a `NameError` or `NoMethodError` also quotes its line with `^^^^`
//! under the name (Ruby's `error_highlight`), between the first line and
//! the `from` lines. The diagnostic goes to the innermost frame in the
//! student's files (the standard library's, `/usr/lib/ruby/...`, are
//! skipped); its message is the first line's, the exception's class
//! (`NameError`, `JSON::ParserError`) is its code, and its range is what the
//! marks cover when they are about that frame, else the line's text. A
//! syntax error, `main.rb:2: syntax error, unexpected ')'`, quotes the line
//! with a caret line too (`^~~~`); its code is `SyntaxError`. A warning,
//! `main.rb:2: warning: already initialized constant X`, covers its line.
//! The main file is named as given (`main.rb`), required ones absolutely
//! (`/work/lib/util.rb`). Ruby quotes the line as it is in the file and
//! pads the marks with one blank per byte before them, so they count bytes.

use super::{on_line, split_location, Col, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "ruby";

#[derive(Default)]
pub struct Ruby {
    pending: Option<Pending>,
}

struct Pending {
    /// The innermost student frame so far: file and 0-based line.
    at: Option<(String, u32)>,
    /// Whether `at` is the first frame, which the marks are about.
    at_top: bool,
    message: String,
    code: Option<String>,
    /// The last line before a caret line: the quoted source.
    quoted: Option<String>,
    marks: Option<(u32, u32)>,
    /// In the `from` lines: no more marks come.
    in_stack: bool,
    syntax: bool,
}

impl Ruby {
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        if let Some(p) = &mut self.pending {
            if let Some(frame) = line.strip_prefix("\tfrom ") {
                p.in_stack = true;
                if p.at.is_none() {
                    p.at = frame_location(frame, src);
                }
                // Either the first frame was the student's and its marks
                // are read, or this is the innermost frame that is.
                if p.at.is_some() {
                    self.flush(src, out);
                }
                return;
            }
            if p.in_stack || split_location(line).is_some() {
                self.flush(src, out);
            } else {
                // The quoted line and its marks, a blank line, `Did you mean?`.
                if p.marks.is_none() {
                    match marks(line) {
                        Some(m) => {
                            p.marks = Some(m);
                            if p.syntax {
                                self.flush(src, out);
                            }
                        }
                        None => p.quoted = Some(line.to_owned()),
                    }
                }
                return;
            }
        }
        self.start(line, src, out);
    }

    pub fn finish(&mut self, src: &Sources, out: &mut Vec<Diagnostic>) {
        self.flush(src, out);
    }

    fn start(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        let Some((path, line_no, None, rest)) = split_location(line) else {
            return;
        };
        let at = src.resolve(path).map(|f| (f.to_owned(), line_no - 1));
        if let Some(message) = rest.strip_prefix(" warning: ") {
            if let Some((file, line_no)) = at {
                let range = src.line(&file, line_no).trimmed();
                out.push(on_line(&file, line_no, range, Severity::Warning, message.to_owned(), None, SOURCE));
            }
            return;
        }
        if let Some(message) = rest.strip_prefix(" syntax error, ") {
            self.pending = Some(Pending {
                at_top: true,
                message: format!("syntax error, {message}"),
                code: Some("SyntaxError".to_owned()),
                syntax: true,
                ..Pending::new(at)
            });
            return;
        }
        // `in `f': message (Class)`, or `in 'Object#f': ...` in later Rubies.
        let Some(rest) = rest.strip_prefix("in `").or_else(|| rest.strip_prefix("in '")) else {
            return;
        };
        let Some((_, message)) = rest.split_once("': ") else {
            return;
        };
        let code = message
            .strip_suffix(')')
            .and_then(|m| m.rsplit_once(" ("))
            .map(|(_, class)| class)
            .filter(|c| {
                c.starts_with(|c: char| c.is_ascii_uppercase())
                    && c.chars().all(|c| c.is_alphanumeric() || c == ':' || c == '_')
            })
            .map(str::to_owned);
        let at_top = at.is_some();
        self.pending = Some(Pending { at_top, message: message.to_owned(), code, ..Pending::new(at) });
    }

    fn flush(&mut self, src: &Sources, out: &mut Vec<Diagnostic>) {
        let Some(p) = self.pending.take() else { return };
        let Some((file, line_no)) = p.at else { return };
        let text = src.line(&file, line_no);
        let quoted_here = p.quoted.as_deref().is_none_or(|q| q == text.text());
        let range = match p.marks {
            Some((start, end)) if p.at_top && quoted_here => {
                (text.utf16(Col::Bytes(start)), text.utf16(Col::Bytes(end)))
            }
            _ => text.trimmed(),
        };
        out.push(on_line(&file, line_no, range, Severity::Error, p.message, p.code, SOURCE));
    }
}

impl Pending {
    fn new(at: Option<(String, u32)>) -> Pending {
        Pending {
            at,
            at_top: false,
            message: String::new(),
            code: None,
            quoted: None,
            marks: None,
            in_stack: false,
            syntax: false,
        }
    }
}

/// The student's place of a `from` line's text, `main.rb:4:in `<main>'`.
fn frame_location(frame: &str, src: &Sources) -> Option<(String, u32)> {
    let (path, line_no, None, _) = split_location(frame)? else {
        return None;
    };
    Some((src.resolve(path)?.to_owned(), line_no - 1))
}

/// A caret line, `     ^^^^` or `^~~~`: the first and last-plus-one marked
/// characters.
fn marks(line: &str) -> Option<(u32, u32)> {
    let t = line.trim_end();
    let first = t.find(['^', '~'])?;
    let ok = t[..first].chars().all(|c| c == ' ' || c == '\t') && t[first..].chars().all(|c| c == '^' || c == '~');
    ok.then(|| (t[..first].chars().count() as u32, t.chars().count() as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_lines_mark_a_span() {
        assert_eq!(marks("     ^^^^"), Some((5, 9)));
        assert_eq!(marks("^~~~"), Some((0, 4)));
        assert_eq!(marks("puts x"), None);
        assert_eq!(marks(""), None);
    }
}
