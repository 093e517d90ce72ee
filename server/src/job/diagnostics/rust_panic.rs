//! Panics of a Rust program.
//!
//! A program built by rustc that panics prints, since Rust 1.73,
//!
//! ```text
//! thread 'main' (20) panicked at main.rs:10:5:
//! index out of bounds: the len is 3 but the index is 5
//! note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
//! ```
//!
//! and before 1.73 (as the rustc of Debian bookworm, 1.63, in the
//! `coderun/rust` image) the message came first, quoted, on the same line:
//!
//! ```text
//! thread 'main' panicked at 'index out of bounds: the len is 3 but the index is 5', main.rs:10:5
//! ```
//!
//! (a message of several lines ends on a later line, with `', main.rs:10:5`).
//! Both give the same diagnostic.
//!
//! The location is where the panic was raised, or, for `unwrap`, indexing
//! and the like, the student's call (they are `#[track_caller]`); a path
//! the job does not have (the standard library's) gives no diagnostic, as
//! there is no backtrace to look further. The column counts display columns
//! the way rustc does (a tab is 4). The message is the panic's, all of its
//! lines up to the `note:`; the range is the token at the column.

use super::{on_line, Col, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "rust";

#[derive(Default)]
pub struct RustPanic {
    pending: Option<Pending>,
    /// The lines so far of an old-style quoted message not yet closed.
    quoted: Option<Vec<String>>,
}

struct Pending {
    file: String,
    line: u32,
    character: u32,
    message: Vec<String>,
}

impl RustPanic {
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        if let Some(mut lines) = self.quoted.take() {
            match quoted_end(line) {
                Some((last, place)) => {
                    lines.push(last.to_owned());
                    self.start(place, lines, src);
                    self.finish(src, out);
                }
                None if lines.len() < 20 => {
                    lines.push(line.to_owned());
                    self.quoted = Some(lines);
                }
                None => {}
            }
            return;
        }
        if let Some(place) = panic_location(line) {
            self.finish(src, out);
            self.start(place, Vec::new(), src);
            return;
        }
        if let Some(quoted) = old_panic(line) {
            self.finish(src, out);
            match quoted_end(quoted) {
                Some((message, place)) => {
                    self.start(place, vec![message.to_owned()], src);
                    self.finish(src, out);
                }
                None => self.quoted = Some(vec![quoted.to_owned()]),
            }
            return;
        }
        let Some(p) = &mut self.pending else { return };
        if line.starts_with("note: ") || line.starts_with("stack backtrace:") || line.is_empty() {
            self.finish(src, out);
        } else if p.message.len() < 20 {
            p.message.push(line.to_owned());
        }
    }

    /// A panic at `place` (`main.rs:10:5`), when the job has that file.
    fn start(&mut self, place: &str, message: Vec<String>, src: &Sources) {
        let Some((path, line_no, col)) = place_parts(place) else {
            return;
        };
        let Some(file) = src.resolve(path) else {
            return;
        };
        let text = src.line(file, line_no - 1);
        let character = text.utf16(Col::RustcDisplay(col.saturating_sub(1)));
        self.pending = Some(Pending { file: file.to_owned(), line: line_no - 1, character, message });
    }

    pub fn finish(&mut self, src: &Sources, out: &mut Vec<Diagnostic>) {
        let Some(p) = self.pending.take() else { return };
        let end = src.line(&p.file, p.line).token_end(p.character);
        out.push(on_line(&p.file, p.line, (p.character, end), Severity::Error, p.message.join("\n"), None, SOURCE));
    }
}

/// `main.rs:10:5` of `thread 'main' (20) panicked at main.rs:10:5:`.
fn panic_location(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("thread '")?;
    let (_, place) = rest.split_once(" panicked at ")?;
    place.strip_suffix(':')
}

/// What follows the quote of `thread 'main' panicked at 'msg', main.rs:1:2`.
fn old_panic(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("thread '")?;
    let (_, quoted) = rest.split_once(" panicked at '")?;
    Some(quoted)
}

/// `msg', main.rs:1:2` into the message and the place.
fn quoted_end(text: &str) -> Option<(&str, &str)> {
    let (message, place) = text.rsplit_once("', ")?;
    place_parts(place)?;
    Some((message, place))
}

/// `main.rs:10:5` into the path, the 1-based line and the 1-based column.
fn place_parts(place: &str) -> Option<(&str, u32, u32)> {
    let mut parts = place.rsplitn(3, ':');
    let col = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok().filter(|l| *l > 0)?;
    Some((parts.next()?, line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_lines_name_their_place() {
        assert_eq!(panic_location("thread 'main' (20) panicked at main.rs:10:5:"), Some("main.rs:10:5"));
        assert_eq!(panic_location("thread 'worker' panicked at src/a b.rs:1:2:"), Some("src/a b.rs:1:2"));
        assert_eq!(panic_location("thread 'main' panicked at 'boom', main.rs:1:2"), None);
        assert_eq!(panic_location("main.rs:1:2:"), None);
        assert_eq!(old_panic("thread 'main' panicked at 'boom', main.rs:1:2"), Some("boom', main.rs:1:2"));
        assert_eq!(quoted_end("it's done', src/a b.rs:1:2"), Some(("it's done", "src/a b.rs:1:2")));
        assert_eq!(quoted_end("no place', here"), None);
        assert_eq!(place_parts("util/mod.rs:3:9"), Some(("util/mod.rs", 3, 9)));
        assert_eq!(place_parts("main.rs:0:9"), None);
    }
}
