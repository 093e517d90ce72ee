//! Uncaught exceptions of a Java program (the `java` launcher).
//!
//! The JVM ends a program that throws with
//!
//! ```text
//! Exception in thread "main" java.lang.ArrayIndexOutOfBoundsException: Index 5 out of bounds for length 3
//!     at util.Helper.inner(Helper.java:13)
//!     at Main.main(Main.java:6)
//! Caused by: ...
//! ```
//!
//! A frame names a source file without its directory and a line without a
//! column. The file is found as the class's package directory plus that name
//! (`util/Helper.java`), or else as the only job file of that name; frames of
//! the JDK (`java.base/java.lang.Integer.parseInt(...)`) and of classes
//! without source are skipped. Each exception of a chain (the thrown one,
//! then each `Caused by:`) gives a diagnostic at its innermost frame in the
//! student's files, covering that line's text. The message is the
//! exception's line (`java.lang.ArrayIndexOutOfBoundsException: Index 5 ...`)
//! and the code its class, fully qualified as Java prints it.

use super::{on_line, Diagnostic, Sources};
use crate::job::Severity;

const SOURCE: &str = "java";

#[derive(Default)]
pub struct Java {
    /// The exception being read and whether its diagnostic was sent.
    current: Option<(String, bool)>,
}

impl Java {
    pub fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) {
        let exception = line
            .strip_prefix("Exception in thread \"")
            .and_then(|rest| rest.split_once("\" ").map(|(_, e)| e))
            .or_else(|| line.strip_prefix("Caused by: "));
        if let Some(exception) = exception {
            self.current = Some((exception.to_owned(), false));
            return;
        }
        let Some((message, sent)) = &mut self.current else {
            return;
        };
        let Some(frame) = line.strip_prefix("\tat ") else {
            if !line.starts_with("\t...") {
                self.current = None;
            }
            return;
        };
        if *sent {
            return;
        }
        let Some((file, line_no)) = frame_location(frame, src) else {
            return;
        };
        let code = message.split(':').next().unwrap_or_default().trim().to_owned();
        let range = src.line(file, line_no).trimmed();
        out.push(on_line(file, line_no, range, Severity::Error, message.clone(), Some(code), SOURCE));
        *sent = true;
    }
}

/// The job file and 0-based line of a frame, `util.Helper.inner(Helper.java:13)`.
fn frame_location<'s>(frame: &str, src: &'s Sources) -> Option<(&'s str, u32)> {
    let (qualified, place) = frame.strip_suffix(')')?.split_once('(')?;
    if qualified.contains('/') {
        // A frame of a JDK module: `java.base/java.lang.Integer.parseInt`.
        return None;
    }
    let (name, line_no) = place.rsplit_once(':')?;
    let line_no: u32 = line_no.parse().ok().filter(|l| *l > 0)?;
    let mut parts: Vec<&str> = qualified.split('.').collect();
    // The method, then the class: what is left is the package.
    parts.truncate(parts.len().saturating_sub(2));
    parts.push(name);
    let file = src.resolve(&parts.join("/")).or_else(|| src.only_file_named(name))?;
    Some((file, line_no - 1))
}
