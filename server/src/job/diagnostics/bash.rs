//! Bash's errors.
//!
//! Bash reports each error on one line, `main.sh: line 2: undefined_command:
//! command not found`, naming the script as it was run (`main.sh`) or as it
//! was sourced (`./lib/helper.sh`), and a line but no column; the diagnostic
//! covers that line's text. A syntax error's second line, which quotes the
//! code (``main.sh: line 2: `for x in 1 2; do ...'``), adds nothing and is
//! skipped. Bash goes on after most errors, so a diagnostic does not mean the
//! script stopped.

use super::{on_line, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "bash";

#[derive(Default)]
pub struct Bash;

impl Bash {
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        let Some((path, rest)) = line.split_once(": line ") else {
            return;
        };
        let Some((line_no, message)) = rest.split_once(": ") else {
            return;
        };
        let Some(line_no) = line_no.parse::<u32>().ok().filter(|l| *l > 0) else {
            return;
        };
        if message.starts_with('`') || message.is_empty() {
            return;
        }
        let Some(file) = src.resolve(path) else {
            return;
        };
        let line_no = line_no - 1;
        let range = src.line(file, line_no).trimmed();
        out.push(on_line(file, line_no, range, Severity::Error, message.to_owned(), None, SOURCE));
    }
}
