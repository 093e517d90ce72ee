//! Python's syntax errors and uncaught exceptions (CPython 3.11).
//!
//! Both end a program with a block on stderr. An uncaught exception:
//!
//! ```text
//! Traceback (most recent call last):
//!   File "/work/main.py", line 4, in <module>
//!     outer([1, 2, 3])
//!   File "/work/lib/util.py", line 10, in inner
//!     return xs[i] * 2
//!            ~~^^^
//! IndexError: list index out of range
//! ```
//!
//! and a syntax error, the same without `, in <name>` in its last frame
//! (and without the `Traceback` line when it is in the main file):
//!
//! ```text
//!   File "/work/main.py", line 1
//!     print("unclosed"
//!          ^
//! SyntaxError: '(' was never closed
//! ```
//!
//! The diagnostic goes to the innermost frame in the student's files (the
//! standard library's frames, `/usr/lib/python3.11/...`, and `<string>` are
//! skipped), its message is the last line and its code the exception's type
//! (`IndexError`, `json.decoder.JSONDecodeError`). The range is what the
//! frame's `^` and `~` marks cover; without marks (Python omits them when
//! they would cover the whole line), the line's text. Python prints the
//! source line without its leading whitespace and places the marks in
//! characters; both are undone with the file's own line. A chain of
//! exceptions (`During handling of the above exception, ...`) gives one
//! diagnostic per traceback, as each is printed.
//!
//! A warning, `/work/main.py:5: DeprecationWarning: old() is deprecated`
//! followed by the line's source, is a `warning` on that line with its
//! category as its code.

use super::{on_line, split_location, Col, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "python";

#[derive(Default)]
pub struct Python {
    /// Reading a traceback or syntax error block.
    in_block: bool,
    /// The innermost frame in the student's files so far.
    frame: Option<Frame>,
    /// Whether the last `File` line was the student's: its source and caret
    /// lines then belong to [`Python::frame`].
    current_is_student: bool,
}

struct Frame {
    file: String,
    /// 0-based.
    line: u32,
    /// The source line was printed.
    quoted: bool,
    /// The marks' first and last-plus-one characters in the printed line.
    marks: Option<(u32, u32)>,
}

impl Python {
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        if line == "Traceback (most recent call last):" {
            *self = Python { in_block: true, ..Python::default() };
            return;
        }
        if let Some((path, line_no)) = file_line(line) {
            if !self.in_block {
                *self = Python { in_block: true, ..Python::default() };
            }
            self.current_is_student = false;
            if let Some(file) = src.resolve(path) {
                self.frame = Some(Frame { file: file.to_owned(), line: line_no - 1, quoted: false, marks: None });
                self.current_is_student = true;
            }
            return;
        }
        if !self.in_block {
            warning(line, src, out);
            return;
        }
        if let Some(printed) = line.strip_prefix("    ") {
            if let Some(frame) = self.frame.as_mut().filter(|_| self.current_is_student) {
                if !frame.quoted {
                    frame.quoted = true;
                } else if frame.marks.is_none() {
                    frame.marks = marks(printed);
                }
            }
            return;
        }
        if line.starts_with(' ') {
            // `  [Previous line repeated 996 more times]`
            return;
        }
        let block = std::mem::take(self);
        let (Some(code), Some(frame)) = (exception_type(line), block.frame) else {
            return;
        };
        let text = src.line(&frame.file, frame.line);
        let range = match frame.marks {
            Some((first, end)) => {
                let lead = text.text().chars().take_while(|c| matches!(c, ' ' | '\t' | '\x0c')).count() as u32;
                (text.utf16(Col::Chars(lead + first)), text.utf16(Col::Chars(lead + end)))
            }
            None => text.trimmed(),
        };
        out.push(on_line(
            &frame.file,
            frame.line,
            range,
            Severity::Error,
            line.to_owned(),
            Some(code.to_owned()),
            SOURCE,
        ));
    }

    pub fn finish(&mut self, _src: &Sources, _out: &mut Vec<Diagnostic>) {
        *self = Python::default();
    }
}

/// A warning, `/work/main.py:5: DeprecationWarning: old() is deprecated`.
fn warning(line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
    let Some((path, line_no, None, rest)) = split_location(line) else {
        return;
    };
    let Some((category, _)) = rest.trim_start().split_once(": ") else {
        return;
    };
    if !category.ends_with("Warning") || exception_type(category) != Some(category) {
        return;
    }
    let Some(file) = src.resolve(path) else {
        return;
    };
    let range = src.line(file, line_no - 1).trimmed();
    let message = rest.trim_start().to_owned();
    out.push(on_line(file, line_no - 1, range, Severity::Warning, message, Some(category.to_owned()), SOURCE));
}

/// `  File "/work/main.py", line 4, in <module>` or `  File "...", line 1`.
fn file_line(line: &str) -> Option<(&str, u32)> {
    let rest = line.strip_prefix("  File \"")?;
    let (path, rest) = rest.rsplit_once("\", line ")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let line_no: u32 = rest[..digits].parse().ok().filter(|l| *l > 0)?;
    let after = &rest[digits..];
    (after.is_empty() || after.starts_with(", in ")).then_some((path, line_no))
}

/// The first and last-plus-one characters of a caret line's `^` and `~`.
fn marks(printed: &str) -> Option<(u32, u32)> {
    if !printed.trim().chars().all(|c| c == '^' || c == '~') || printed.trim().is_empty() {
        return None;
    }
    let first = printed.chars().position(|c| c == '^' || c == '~')? as u32;
    let len = printed.trim_end().chars().count() as u32;
    Some((first, len))
}

/// The exception's type at the start of the last line of a traceback:
/// `NameError` of `NameError: name 'x' is not defined`.
fn exception_type(line: &str) -> Option<&str> {
    let name = line.split_once(':').map_or(line, |(name, _)| name);
    let mut chars = name.chars();
    let first = chars.next()?;
    let ok = (first.is_alphabetic() || first == '_') && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_lines_of_frames_and_syntax_errors_are_recognised() {
        assert_eq!(file_line("  File \"/work/main.py\", line 4, in <module>"), Some(("/work/main.py", 4)));
        assert_eq!(file_line("  File \"/work/main.py\", line 1"), Some(("/work/main.py", 1)));
        assert_eq!(file_line("  File \"<string>\", line 1, in <module>"), Some(("<string>", 1)));
        assert_eq!(file_line("    File \"/work/main.py\", line 1"), None);
        assert_eq!(file_line("  File \"/work/main.py\", line x"), None);
    }

    #[test]
    fn marks_cover_carets_and_tildes() {
        assert_eq!(marks("       ~~^^^"), Some((7, 12)));
        assert_eq!(marks("     ^"), Some((5, 6)));
        assert_eq!(marks("return x"), None);
        assert_eq!(marks("   "), None);
    }

    #[test]
    fn exception_types_are_dotted_names() {
        assert_eq!(exception_type("NameError: name 'x' is not defined"), Some("NameError"));
        assert_eq!(
            exception_type("json.decoder.JSONDecodeError: Expecting value"),
            Some("json.decoder.JSONDecodeError")
        );
        assert_eq!(exception_type("KeyboardInterrupt"), Some("KeyboardInterrupt"));
        assert_eq!(exception_type("During handling of the above exception, another exception occurred:"), None);
        assert_eq!(exception_type(""), None);
    }

    #[test]
    fn a_block_without_a_student_frame_gives_nothing() {
        let src = Sources::default();
        let mut p = Python::default();
        let mut out = Vec::new();
        for line in ["Traceback (most recent call last):", "  File \"<string>\", line 1, in <module>", "ValueError: x"]
        {
            p.line(line, &src, &mut out);
        }
        assert!(out.is_empty());
    }
}
