//! Panics of a Go program.
//!
//! A Go program that panics (or dies of a `fatal error:`) prints
//!
//! ```text
//! panic: runtime error: index out of range [5] with length 3
//!
//! goroutine 1 [running]:
//! main.inner(...)
//!     /work/main.go:14
//! main.main()
//!     /work/main.go:19 +0x65
//! ```
//!
//! and the stacks of its goroutines, innermost call first, each with the
//! absolute path of its source as it was built (`/work/...`). The
//! diagnostic goes to the first frame in the student's files (the runtime's,
//! `/usr/lib/go/src/...`, are skipped), covers that line's text (Go gives no
//! column), and carries the first line as its message.

use super::{on_line, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "go";

#[derive(Default)]
pub struct GoPanic {
    /// The panic being read and whether its diagnostic was sent.
    current: Option<(String, bool)>,
}

impl GoPanic {
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        if line.starts_with("panic: ") || line.starts_with("fatal error: ") {
            self.current = Some((line.to_owned(), false));
            return;
        }
        let Some((message, sent)) = &mut self.current else {
            return;
        };
        let Some(place) = line.strip_prefix('\t').filter(|_| !*sent) else {
            return;
        };
        let place = place.split(" +0x").next().unwrap_or(place);
        let Some((path, line_no)) = place.rsplit_once(':') else {
            return;
        };
        let Some(line_no) = line_no.parse::<u32>().ok().filter(|l| *l > 0) else {
            return;
        };
        let Some(file) = src.resolve(path) else {
            return;
        };
        let range = src.line(file, line_no - 1).trimmed();
        out.push(on_line(file, line_no - 1, range, Severity::Error, message.clone(), None, SOURCE));
        *sent = true;
    }
}
