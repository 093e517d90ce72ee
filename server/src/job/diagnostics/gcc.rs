//! GCC's and G++'s text diagnostics (C and C++).
//!
//! GCC prints one message per header line, `file:line:col: severity:
//! message [-Wflag]`, where severity is `error`, `fatal error`, `warning`
//! or `note`; then, by default, the source line quoted as `  5 | text` and a
//! caret line `    |     ^~~~~` under it, and maybe fix-it and secondary
//! lines, which we skip. The header's column is the caret's; the caret
//! line's run of `~~~^~~~` around it gives the range, in display columns. The header's column is
//! in bytes with `-fdiagnostics-column-unit=byte`, in display columns
//! otherwise (GCC 11's default); we read the flag from the command line.
//!
//! Context lines tell where a message in someone else's file comes from:
//! `In file included from main.c:2:` (and `from ...` continuation lines)
//! and `main.cpp:6:43:   required from here` in a template instantiation.
//! An error or warning in a file that is not the student's (a system header)
//! is placed at the first student location of its `required from` chain, or
//! else of its `#include` chain, and dropped when it has neither. A `note:`
//! in the student's files is sent as `information` unless it points where
//! its error does (`each undeclared identifier is reported only once`);
//! other notes are dropped. `In function ‘main’:` lines carry nothing.
//! The `-W` option in brackets is the diagnostic's `code`.

use super::{on_line, split_location, Col, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "gcc";

pub struct Gcc {
    /// Whether header columns are bytes rather than display columns.
    byte_columns: bool,
    /// A message waiting for its quoted line and caret line.
    pending: Option<Pending>,
    /// The first student location of the current `#include` chain.
    included_from: Option<Loc>,
    /// The first student location of the current `required from` chain.
    required_from: Option<Loc>,
    /// Where the last error or warning was, to skip notes at the same place.
    last: Option<Loc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Loc {
    file: String,
    /// 0-based.
    line: u32,
    /// 0-based, UTF-16.
    character: u32,
}

struct Pending {
    at: Loc,
    severity: Severity,
    message: String,
    code: Option<String>,
    /// Placed at a context location: the quoted line is another file's.
    mapped: bool,
    /// The quoted source line has been seen; the caret line comes next.
    quoted: bool,
}

impl Gcc {
    pub fn new(argv: &[String]) -> Gcc {
        let byte_columns = argv.iter().any(|a| a == "-fdiagnostics-column-unit=byte");
        Gcc { byte_columns, pending: None, included_from: None, required_from: None, last: None }
    }

    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        if let Some(p) = &mut self.pending {
            if !p.mapped {
                if !p.quoted && quoted_line_number(line) == Some(p.at.line + 1) {
                    p.quoted = true;
                    return;
                }
                if p.quoted {
                    if let Some(marks) = caret_marks(line) {
                        let p = self.pending.take().expect("pending was just matched");
                        out.push(finish_pending(p, Some(marks), src));
                        return;
                    }
                }
            }
        }
        if let Some(p) = self.pending.take() {
            out.push(finish_pending(p, None, src));
        }
        if is_source_excerpt(line) {
            return;
        }
        if let Some(rest) = line.strip_prefix("In file included from ") {
            self.included_from = self.include_location(rest, src);
            self.required_from = None;
            return;
        }
        if let Some(rest) = line.trim_start().strip_prefix("from ").filter(|_| line.starts_with(' ')) {
            if self.included_from.is_none() {
                self.included_from = self.include_location(rest, src);
            }
            return;
        }
        let Some((path, line_no, col, rest)) = split_location(line) else {
            if line.contains(": In ") || line.contains(": At ") {
                // A new function or instantiation: a new `required from` chain.
                self.required_from = None;
            }
            return;
        };
        let here = src.resolve(path).map(|file| self.loc(file, line_no, col, src));
        if rest.starts_with("   ") {
            // `   required from here`, `   required from ‘...’`, `   in ‘constexpr’ expansion of`.
            if self.required_from.is_none() {
                self.required_from = here;
            }
            return;
        }
        let Some((severity, text)) = severity(rest) else {
            return;
        };
        let (message, code) = split_option(text.trim_start());
        if severity == Severity::Information {
            if let Some(at) = here.filter(|at| self.last.as_ref() != Some(at)) {
                self.pending = Some(Pending { at, severity, message, code, mapped: false, quoted: false });
            }
            return;
        }
        let (at, mapped) = match here {
            Some(at) => (at, false),
            None => match self.required_from.clone().or_else(|| self.included_from.clone()) {
                Some(at) => (at, true),
                None => return,
            },
        };
        self.last = Some(at.clone());
        self.pending = Some(Pending { at, severity, message, code, mapped, quoted: false });
    }

    pub fn finish(&mut self, src: &Sources, out: &mut Vec<Diagnostic>) {
        if let Some(p) = self.pending.take() {
            out.push(finish_pending(p, None, src));
        }
    }

    fn loc(&self, file: &str, line: u32, col: Option<u32>, src: &Sources) -> Loc {
        let line = line - 1;
        let col = col.unwrap_or(1).saturating_sub(1);
        let unit = if self.byte_columns { Col::Bytes(col) } else { Col::Display(col) };
        Loc { file: file.to_owned(), line, character: src.line(file, line).utf16(unit) }
    }

    /// `main.c:2:` or `/usr/include/c++/12/vector:64,` of an include chain.
    fn include_location(&self, text: &str, src: &Sources) -> Option<Loc> {
        let text = text.trim().trim_end_matches([':', ',']);
        let (path, line) = text.rsplit_once(':')?;
        let line: u32 = line.parse().ok().filter(|l| *l > 0)?;
        let file = src.resolve(path)?;
        Some(Loc { file: file.to_owned(), line: line - 1, character: 0 })
    }
}

/// The diagnostic of a pending message; `marks` is the caret line's run of
/// `~` before and after the `^`, in display columns, when there was one.
fn finish_pending(p: Pending, marks: Option<(u32, u32)>, src: &Sources) -> Diagnostic {
    let text = src.line(&p.at.file, p.at.line);
    let at = p.at.character;
    let range = match marks {
        Some((before, after)) => {
            let caret = text.display(at);
            (text.utf16(Col::Display(caret.saturating_sub(before))), text.utf16(Col::Display(caret + 1 + after)))
        }
        // An `#include` line: the whole directive.
        None if p.mapped && at == 0 => text.trimmed(),
        None => (at, text.token_end(at)),
    };
    on_line(&p.at.file, p.at.line, range, p.severity, p.message, p.code, SOURCE)
}

/// The severity word after a location, and the message after it.
fn severity(rest: &str) -> Option<(Severity, &str)> {
    let rest = rest.strip_prefix(' ')?;
    for (word, severity) in [
        ("error:", Severity::Error),
        ("fatal error:", Severity::Error),
        ("warning:", Severity::Warning),
        ("note:", Severity::Information),
    ] {
        if let Some(message) = rest.strip_prefix(word) {
            return Some((severity, message));
        }
    }
    None
}

/// `unused variable ‘x’ [-Wunused-variable]` into the message and the option.
fn split_option(text: &str) -> (String, Option<String>) {
    if let Some(open) = text.rfind(" [-W") {
        if let Some(option) = text[open + 2..].strip_suffix(']') {
            return (text[..open].to_owned(), Some(option.to_owned()));
        }
    }
    (text.to_owned(), None)
}

/// Whether a line is part of a quoted source excerpt (`  5 | ...` or
/// `    | ^~~`): never a message, whatever the source line says.
fn is_source_excerpt(line: &str) -> bool {
    let t = line.trim_start_matches(' ');
    let t = t.trim_start_matches(|c: char| c.is_ascii_digit());
    line.starts_with(' ') && t.starts_with(" |") || t.starts_with("| ") || t == "|"
}

/// The line number of a quoted source line, `  5 | text`.
fn quoted_line_number(line: &str) -> Option<u32> {
    let t = line.trim_start_matches(' ');
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !t[digits..].starts_with(" |") {
        return None;
    }
    t[..digits].parse().ok()
}

/// The `~` marks of a caret line just before and just after its `^`: GCC
/// underlines the whole expression and puts the caret where it points.
fn caret_marks(line: &str) -> Option<(u32, u32)> {
    let t = line.trim_start_matches(' ').strip_prefix('|')?;
    let at = t.find('^')?;
    let tilde = |b: &u8| *b == b'~';
    let before = t[..at].bytes().rev().take_while(tilde).count() as u32;
    let after = t[at + 1..].bytes().take_while(tilde).count() as u32;
    Some((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobFile;

    fn run(argv: &[&str], files: &[(&str, &str)], output: &str) -> Vec<Diagnostic> {
        let src = Sources::new(
            &files
                .iter()
                .map(|(p, c)| JobFile { path: p.to_string(), content: c.as_bytes().to_vec() })
                .collect::<Vec<_>>(),
        );
        let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        let mut gcc = Gcc::new(&argv);
        let mut out = Vec::new();
        for line in output.lines() {
            gcc.line(line, &src, &mut out);
        }
        gcc.finish(&src, &mut out);
        out
    }

    #[test]
    fn a_message_without_caret_lines_takes_the_token_at_its_column() {
        let out = run(
            &["gcc", "-fdiagnostics-column-unit=byte"],
            &[("main.c", "int main(void) {\n    return totl;\n}\n")],
            "main.c:2:12: error: ‘totl’ undeclared (first use in this function)\n",
        );
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].start, out[0].end), ((1, 11), (1, 15)));
    }

    #[test]
    fn a_quoted_line_that_looks_like_a_message_is_not_one() {
        let out =
            run(&["gcc"], &[("main.c", "")], "    3 | main.c:1:1: error: fake\n      | main.c:1:1: error: fake\n");
        assert_eq!(out, vec![]);
    }

    #[test]
    fn options_in_brackets_become_codes() {
        assert_eq!(
            split_option("unused variable ‘x’ [-Wunused-variable]"),
            ("unused variable ‘x’".into(), Some("-Wunused-variable".into()))
        );
        assert_eq!(split_option("expected ‘;’ [x]"), ("expected ‘;’ [x]".into(), None));
    }

    #[test]
    fn caret_lines_give_the_marks_around_the_caret() {
        assert_eq!(caret_marks("      |            ^~~~"), Some((0, 3)));
        assert_eq!(caret_marks("      |     ~~~~~~~~~~~^~~~"), Some((11, 3)));
        assert_eq!(caret_marks("      |     ~ ^ ~"), Some((0, 0)));
        assert_eq!(caret_marks("      |            ^"), Some((0, 0)));
        assert_eq!(caret_marks("      |            ;"), None);
        assert_eq!(quoted_line_number("   12 | int x;"), Some(12));
        assert_eq!(quoted_line_number("      | ^"), None);
    }
}
