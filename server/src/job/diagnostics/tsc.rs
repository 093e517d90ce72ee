//! The TypeScript compiler's diagnostics (`tsc --pretty false`).
//!
//! tsc reports on stdout, one message per header line,
//! `main.ts(3,7): error TS2322: Type 'string' is not assignable to type
//! 'number'.`, with 1-based line and column, the column in UTF-16 code units
//! (the protocol's unit). A message may go on with lines indented by two
//! spaces per level (`  Types of parameters 'x' and 'x' are incompatible.`),
//! which are added to the message as they are, less the first level; so a
//! message is complete when the next line that is not indented, or the end
//! of the stage, comes. The `TS` number is the `code`. tsc's range is the
//! identifier at the column, or one character. (With `--pretty`, the
//! default on a terminal, tsc prints another format that is not parsed.)

use super::{on_line, Col, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "tsc";

#[derive(Default)]
pub struct Tsc {
    pending: Option<Diagnostic>,
}

impl Tsc {
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        if let Some(p) = &mut self.pending {
            if let Some(more) = line.strip_prefix("  ").filter(|m| !m.trim().is_empty()) {
                p.message.push('\n');
                p.message.push_str(more);
                return;
            }
        }
        self.finish(src, out);
        let Some((path, line_no, col, rest)) = header(line) else {
            return;
        };
        let (severity, rest) = if let Some(r) = rest.strip_prefix("error ") {
            (Severity::Error, r)
        } else if let Some(r) = rest.strip_prefix("warning ") {
            (Severity::Warning, r)
        } else if let Some(r) = rest.strip_prefix("message ") {
            (Severity::Information, r)
        } else {
            return;
        };
        let Some((code, message)) = rest.split_once(": ").filter(|(c, _)| c.starts_with("TS")) else {
            return;
        };
        let Some(file) = src.resolve(path) else {
            return;
        };
        let line_no = line_no - 1;
        let text = src.line(file, line_no);
        let start = text.utf16(Col::Utf16(col.saturating_sub(1)));
        self.pending = Some(on_line(
            file,
            line_no,
            (start, text.token_end(start)),
            severity,
            message.to_owned(),
            Some(code.to_owned()),
            SOURCE,
        ));
    }

    pub fn finish(&mut self, _src: &Sources, out: &mut Vec<Diagnostic>) {
        out.extend(self.pending.take());
    }
}

/// `path(line,col): rest` into its parts.
fn header(line: &str) -> Option<(&str, u32, u32, &str)> {
    let (head, rest) = line.split_once("): ")?;
    let (path, position) = head.rsplit_once('(')?;
    let (l, c) = position.split_once(',')?;
    let l: u32 = l.parse().ok().filter(|l| *l > 0)?;
    let c: u32 = c.parse().ok()?;
    (!path.is_empty()).then_some((path, l, c, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_into_path_position_and_rest() {
        assert_eq!(header("main.ts(3,7): error TS2322: x"), Some(("main.ts", 3, 7, "error TS2322: x")));
        assert_eq!(header("a (b)/m.ts(1,2): error TS1: x"), Some(("a (b)/m.ts", 1, 2, "error TS1: x")));
        assert_eq!(header("error TS5023: Unknown compiler option 'x'."), None);
        assert_eq!(header("(1,2): error TS1: x"), None);
    }
}
