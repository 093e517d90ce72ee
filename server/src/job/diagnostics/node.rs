//! Node.js's syntax errors and uncaught exceptions.
//!
//! Node ends a program that throws with a block on stderr:
//!
//! ```text
//! /work/lib/util.js:10
//!   return xs[i].toFixed(2);
//!                ^
//!
//! TypeError: Cannot read properties of undefined (reading 'toFixed')
//!     at inner (/work/lib/util.js:10:16)
//!     at middle (/work/lib/util.js:6:10)
//!     at Object.<anonymous> (/work/main.js:4:1)
//!     at Module._compile (node:internal/modules/cjs/loader:1521:14)
//! ```
//!
//! The header names where the exception was thrown, the caret line marks
//! the column (and, for a syntax error, the whole token), then come the
//! message and the stack. An exception goes to the first stack frame in the
//! student's files, so a throw inside `JSON.parse` or `node:internal` lands
//! on the student's call; a syntax error goes to the header, since its stack
//! is the loader's (or the `require` that loaded the broken file). When no
//! frame is the student's, the header is used if it is. Paths are absolute
//! (`/work/main.js`) or, for ES modules, `file:///work/main.mjs`; with
//! `--enable-source-maps` they name the original `.ts` files. V8 counts
//! columns in UTF-16 code units, the protocol's unit, and pads the caret
//! line with one blank per unit. The code is the error's name
//! (`TypeError`, or `ERR_X` of `Error [ERR_X]: ...`); a thrown value that is
//! not an error has none.

use super::{on_line, Col, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "node";

#[derive(Default)]
pub struct Node {
    block: Option<Block>,
}

#[derive(Default)]
struct Block {
    /// The header's place, when it is the student's: file, 0-based line.
    header: Option<(String, u32)>,
    /// Lines read after the header.
    lines_seen: u32,
    /// The caret line's marks, in UTF-16 units.
    caret: Option<(u32, u32)>,
    message: Option<String>,
    in_stack: bool,
    sent: bool,
}

impl Node {
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        let Some(block) = &mut self.block else {
            self.start(line, src);
            return;
        };
        block.lines_seen += 1;
        if block.lines_seen == 1 {
            // The source line.
            return;
        }
        if block.lines_seen == 2 && block.caret.is_none() {
            if let Some(caret) = caret(line) {
                block.caret = Some(caret);
                return;
            }
        }
        if block.message.is_none() {
            if !line.trim().is_empty() {
                block.message = Some(line.to_owned());
                if syntax_error(line) && block.header.is_some() {
                    self.emit_header(src, out);
                }
            }
            return;
        }
        if let Some(frame) = line.trim_start().strip_prefix("at ").filter(|_| line.starts_with("    ")) {
            block.in_stack = true;
            if !block.sent {
                if let Some((file, line_no, col)) =
                    frame_location(frame).and_then(|(p, l, c)| Some((src.resolve(p)?, l, c)))
                {
                    let text = src.line(file, line_no);
                    let start = text.utf16(Col::Utf16(col));
                    let message = block.message.clone().unwrap_or_default();
                    let code = error_code(&message);
                    out.push(on_line(
                        file,
                        line_no,
                        (start, text.token_end(start)),
                        Severity::Error,
                        message,
                        code,
                        SOURCE,
                    ));
                    block.sent = true;
                }
            }
            return;
        }
        if line.starts_with("(Use `node") && !block.in_stack {
            return;
        }
        // The end of the block: a blank line, `Node.js v20`, anything else.
        if !block.sent && block.header.is_some() {
            self.emit_header(src, out);
        }
        self.block = None;
        self.start(line, src);
    }

    pub fn finish(&mut self, src: &Sources, out: &mut Vec<Diagnostic>) {
        if self.block.as_ref().is_some_and(|b| !b.sent && b.header.is_some() && b.message.is_some()) {
            self.emit_header(src, out);
        }
        self.block = None;
    }

    /// Starts a block if `line` is a header, `path:line`, whose path is
    /// absolute, a URL or a pseudo-file (`<anonymous_script>`): what the
    /// program prints itself (`step:1`) is not.
    fn start(&mut self, line: &str, src: &Sources) {
        let Some((path, line_no)) = line.rsplit_once(':') else {
            return;
        };
        if !["/", "file://", "node:", "<"].iter().any(|p| path.starts_with(p)) {
            return;
        }
        let Some(line_no) = line_no.parse::<u32>().ok().filter(|l| *l > 0) else {
            return;
        };
        let header = src.resolve(path).map(|f| (f.to_owned(), line_no - 1));
        self.block = Some(Block { header, ..Block::default() });
    }

    fn emit_header(&mut self, src: &Sources, out: &mut Vec<Diagnostic>) {
        let Some(block) = &mut self.block else { return };
        let (Some((file, line_no)), Some(message)) = (&block.header, &block.message) else {
            return;
        };
        let text = src.line(file, *line_no);
        let range = match block.caret {
            Some((start, end)) if end > start + 1 => (text.utf16(Col::Utf16(start)), text.utf16(Col::Utf16(end))),
            Some((start, _)) => {
                let start = text.utf16(Col::Utf16(start));
                (start, text.token_end(start))
            }
            None => text.trimmed(),
        };
        out.push(on_line(file, *line_no, range, Severity::Error, message.clone(), error_code(message), SOURCE));
        block.sent = true;
    }
}

/// A caret line: blanks, then one or more `^`.
fn caret(line: &str) -> Option<(u32, u32)> {
    let start = line.chars().take_while(|c| *c == ' ' || *c == '\t').count();
    let rest = &line.trim_start_matches([' ', '\t']);
    let carets = rest.chars().take_while(|c| *c == '^').count();
    (carets > 0 && rest[carets..].trim().is_empty()).then_some((start as u32, (start + carets) as u32))
}

fn syntax_error(message: &str) -> bool {
    message.starts_with("SyntaxError:")
}

/// The place of a stack frame's text after `at `: `f (/work/main.js:3:9)`,
/// `/work/main.js:3:9`, `async f (file:///work/main.mjs:2:8)`. Returns the
/// path, the 0-based line and the 0-based column.
fn frame_location(frame: &str) -> Option<(&str, u32, u32)> {
    let place = match frame.strip_suffix(')') {
        Some(inner) => &inner[inner.find(" (").map(|i| i + 2).unwrap_or(0)..],
        None => frame,
    };
    let mut parts = place.rsplitn(3, ':');
    let col: u32 = parts.next()?.parse().ok()?;
    let line: u32 = parts.next()?.parse().ok()?;
    let path = parts.next()?;
    Some((path, line.checked_sub(1)?, col.saturating_sub(1)))
}

/// The error's name as its code: `TypeError` of `TypeError: x`, `ERR_X` of
/// `Error [ERR_X]: x`.
fn error_code(message: &str) -> Option<String> {
    let (name, _) = message.split_once(": ")?;
    let (name, bracket) = match name.split_once(" [") {
        Some((name, code)) => (name, code.strip_suffix(']')),
        None => (name, None),
    };
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    if !ident(name) {
        return None;
    }
    match bracket {
        Some(code) if ident(code) => Some(code.to_owned()),
        Some(_) => None,
        None => Some(name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_name_their_place() {
        assert_eq!(frame_location("inner (/work/lib/util.js:10:16)"), Some(("/work/lib/util.js", 9, 15)));
        assert_eq!(frame_location("/work/main.js:1:32"), Some(("/work/main.js", 0, 31)));
        assert_eq!(frame_location("f (file:///work/main.mjs:2:8)"), Some(("file:///work/main.mjs", 1, 7)));
        assert_eq!(frame_location("Object.<anonymous> (/work/a (b).js:2:18)"), Some(("/work/a (b).js", 1, 17)));
        assert_eq!(frame_location("JSON.parse (<anonymous>)"), None);
        assert_eq!(
            frame_location("node:internal/main/run_main_module:28:49"),
            Some(("node:internal/main/run_main_module", 27, 48))
        );
    }

    #[test]
    fn error_names_are_codes() {
        assert_eq!(error_code("TypeError: x").as_deref(), Some("TypeError"));
        assert_eq!(error_code("Error [ERR_REQUIRE_ESM]: x").as_deref(), Some("ERR_REQUIRE_ESM"));
        assert_eq!(error_code("plain string"), None);
        assert_eq!(error_code("two words: x"), None);
    }

    #[test]
    fn caret_lines_give_start_and_end() {
        assert_eq!(caret("            ^^^^^^^^^^"), Some((12, 22)));
        assert_eq!(caret("\t  ^"), Some((3, 4)));
        assert_eq!(caret("  x ^"), None);
        assert_eq!(caret(""), None);
    }
}
