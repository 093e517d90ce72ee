//! Structured diagnostics from compilers and interpreters, read from a
//! stage's output as it streams.
//!
//! The driver passes every piece of a stage's decoded output through a
//! [`StageParser`] before forwarding it. The parser leaves the text alone
//! (the student still reads the tool's own words on stderr) and, line by
//! line, recognises the tool's messages and turns them into [`Diagnostic`]s
//! about the job's files, which the driver sends as `job/diagnostics` as
//! soon as each is complete. At the end of the stage, [`StageParser::finish`]
//! reads the last, unterminated line and flushes a message still waiting
//! for its continuation lines.
//!
//! Which parser reads a stage is decided by the program the stage runs
//! ([`parser`]), so that a catalog that builds with other flags, or a
//! replaced catalog, still gets diagnostics. At build: GCC ([`gcc`]),
//! rustc ([`rustc`]), javac ([`javac`]), `go build`/`go vet` ([`go`]) and
//! tsc ([`tsc`]). At run: Python ([`python`]), Node.js ([`node`]), Ruby
//! ([`ruby`]), Bash ([`bash`]), the JVM ([`java`]), and programs that rustc
//! or Go built ([`rust_panic`], [`go_panic`]); a C or C++ program that
//! crashes says nothing about where. Each parser reads one stream: tsc
//! reports on stdout, the others on stderr.
//!
//! One parser rewrites its stream: rustc with `--error-format=json` prints
//! JSON instead of text, and its parser forwards each message's `rendered`
//! text in place of the JSON line, so that the student reads the same words
//! as without the flag. It forwards whole lines only; every other parser
//! forwards each piece as it came, at once.
//!
//! Positions follow the protocol: 0-based lines, and characters in UTF-16
//! code units, converted exactly from each tool's own unit with the text of
//! the job's files ([`Sources`]). A diagnostic whose file is not one of the
//! job's is mapped to the nearest place in the student's files the tool
//! names (the innermost traceback frame in them, the `#include` or template
//! instantiation that led there) or, when there is none, not sent.
//!
//! Invariant: a [`StageParser`] never changes what reaches the client of a
//! stream it does not rewrite, and holds at most one line
//! ([`lines::MAX_LINE_BYTES`]) and [`MAX_DIAGNOSTICS_PER_STAGE`] diagnostics.

mod bash;
mod gcc;
mod go;
mod go_panic;
mod java;
mod javac;
mod lines;
mod node;
mod parser;
mod python;
mod ruby;
mod rust_panic;
mod rustc;
mod sources;
mod tsc;

use std::{
    collections::HashSet,
    hash::{Hash, Hasher},
    sync::Arc,
};

use lines::{chomp, LineBuffer, Piece};
use parser::Parser;
pub use sources::{Col, Line, Sources};

use super::{Diagnostic, JobFile, OutStream, Severity};
use crate::catalog::Language;

/// The most diagnostics one stage sends by default. A program can print
/// anything to stderr, tracebacks included; this bounds what its
/// lookalikes cost.
pub const MAX_DIAGNOSTICS_PER_STAGE: usize = 200;

/// What one stage's parser may hold and send (`[diagnostics]` in Config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Diagnostics sent per stage; the rest are dropped.
    pub per_stage: usize,
    /// The longest output line read whole, in bytes.
    pub line_bytes: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps { per_stage: MAX_DIAGNOSTICS_PER_STAGE, line_bytes: lines::MAX_LINE_BYTES }
    }
}

/// The job's files as the parsers need them: a copy, made only when a stage
/// of the language has a parser (the files themselves go to the sandbox).
pub fn sources_for(language: &Language, files: &[JobFile]) -> Arc<Sources> {
    let build = language.def.build.as_deref();
    let run = Parser::for_command(&language.def.run, build);
    if run.is_some() || build.is_some_and(|b| Parser::for_command(b, None).is_some()) {
        Arc::new(Sources::new(files))
    } else {
        Arc::default()
    }
}

/// Reads one stage's output for diagnostics.
pub struct StageParser {
    parser: Parser,
    sources: Arc<Sources>,
    lines: LineBuffer,
    /// The most diagnostics this stage sends.
    cap: usize,
    sent: usize,
    /// Hashes of the diagnostics sent, so that a message repeated (C++
    /// templates repeat a lot) is sent once.
    seen: HashSet<u64>,
}

/// What a piece of output turns into.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The text to forward on the piece's stream (may be empty).
    pub text: String,
    /// Diagnostics completed by it, in the tool's order.
    pub diagnostics: Vec<Diagnostic>,
}

impl StageParser {
    /// A parser for a stage that runs `argv`, or `None` when its program has
    /// no known message format. `build` is the language's build command,
    /// for a run stage: it tells what made the program `./main`.
    pub fn for_command(
        argv: &[String],
        build: Option<&[String]>,
        sources: Arc<Sources>,
        caps: Caps,
    ) -> Option<StageParser> {
        let parser = Parser::for_command(argv, build)?;
        let lines = LineBuffer::new(caps.line_bytes);
        Some(StageParser { parser, sources, lines, cap: caps.per_stage, sent: 0, seen: HashSet::new() })
    }

    /// Reads a piece of decoded output.
    pub fn push(&mut self, stream: OutStream, text: String) -> Parsed {
        if stream != self.parser.stream() {
            return Parsed { text, diagnostics: Vec::new() };
        }
        let pieces = self.lines.push(&text);
        let mut parsed = Parsed::default();
        if !self.parser.rewrites() {
            parsed.text = text;
        }
        for piece in pieces {
            self.read(piece, &mut parsed);
        }
        parsed
    }

    /// Ends the stage: returns the text still held for the parser's stream
    /// and the diagnostics still pending.
    pub fn finish(&mut self) -> (OutStream, Parsed) {
        let mut parsed = Parsed::default();
        if let Some(piece) = self.lines.finish() {
            self.read(piece, &mut parsed);
        }
        let mut found = Vec::new();
        self.parser.finish(&self.sources, &mut found);
        self.keep(found, &mut parsed.diagnostics);
        (self.parser.stream(), parsed)
    }

    fn read(&mut self, piece: Piece, parsed: &mut Parsed) {
        let rewrites = self.parser.rewrites();
        match piece {
            Piece::Line(line) => {
                let mut found = Vec::new();
                let replaced = self.parser.line(chomp(&line), &self.sources, &mut found);
                if rewrites {
                    parsed.text.push_str(replaced.as_deref().unwrap_or(&line));
                }
                self.keep(found, &mut parsed.diagnostics);
            }
            Piece::Overflow(text) if rewrites => parsed.text.push_str(&text),
            Piece::Overflow(_) => {}
        }
    }

    /// Keeps the diagnostics not sent before, up to the stage's cap.
    fn keep(&mut self, found: Vec<Diagnostic>, out: &mut Vec<Diagnostic>) {
        for d in found {
            if self.sent >= self.cap {
                return;
            }
            let mut h = std::collections::hash_map::DefaultHasher::new();
            d.hash(&mut h);
            if self.seen.insert(h.finish()) {
                self.sent += 1;
                out.push(d);
            }
        }
    }
}

/// A diagnostic on one line of a job file.
pub(crate) fn on_line(
    file: &str,
    line: u32,
    (start, end): (u32, u32),
    severity: Severity,
    message: String,
    code: Option<String>,
    source: &str,
) -> Diagnostic {
    Diagnostic {
        file: file.to_owned(),
        start: (line, start),
        end: (line, end.max(start)),
        severity,
        message,
        code,
        source: Some(source.to_owned()),
    }
}

/// A location as compilers print it: `path:line:col: rest` or
/// `path:line: rest`. Returns the path, the 1-based line, the 1-based column
/// when there is one, and the rest after the colon. The path is everything
/// before the first `:<digits>:`, so it may itself hold colons.
pub(crate) fn split_location(s: &str) -> Option<(&str, u32, Option<u32>, &str)> {
    let bytes = s.as_bytes();
    for (i, _) in s.match_indices(':') {
        if i == 0 {
            continue;
        }
        let Some((line, after_line)) = number(&s[i + 1..]) else {
            continue;
        };
        let after_line = &s[i + 1 + after_line..];
        let Some(after) = after_line.strip_prefix(':') else {
            continue;
        };
        let (col, rest) = match number(after) {
            Some((col, n)) if after[n..].starts_with(':') => (Some(col), &after[n + 1..]),
            _ => (None, after),
        };
        if line == 0 || bytes[..i].iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        return Some((&s[..i], line, col, rest));
    }
    None
}

/// A decimal number at the start of `s`, and how many bytes it took.
fn number(s: &str) -> Option<(u32, usize)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || n > 9 {
        return None;
    }
    s[..n].parse().ok().map(|v| (v, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobFile;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn sources(files: &[(&str, &str)]) -> Arc<Sources> {
        Arc::new(Sources::new(
            &files
                .iter()
                .map(|(p, c)| JobFile { path: p.to_string(), content: c.as_bytes().to_vec() })
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn text_passes_through_unchanged_while_lines_are_split() {
        let s = sources(&[("main.c", "int main(void) {\n    return x;\n}\n")]);
        let mut p = StageParser::for_command(&argv(&["gcc", "main.c"]), None, s, Caps::default()).unwrap();
        let a = p.push(OutStream::Stderr, "main.c:2:12: err".into());
        assert_eq!(a, Parsed { text: "main.c:2:12: err".into(), diagnostics: vec![] });
        let b = p.push(OutStream::Stderr, "or: ‘x’ undeclared\n    2 |     return x;\n      |            ^\n".into());
        assert_eq!(b.text, "or: ‘x’ undeclared\n    2 |     return x;\n      |            ^\n");
        assert_eq!(b.diagnostics.len(), 1, "{b:?}");
        assert_eq!(b.diagnostics[0].start, (1, 11));
        let out = p.push(OutStream::Stdout, "main.c:2:12: error: not from gcc\n".into());
        assert_eq!(out, Parsed { text: "main.c:2:12: error: not from gcc\n".into(), diagnostics: vec![] });
    }

    #[test]
    fn repeated_diagnostics_are_sent_once_and_capped() {
        let s = sources(&[("main.py", "x\n")]);
        let mut p = StageParser::for_command(&argv(&["python3", "main.py"]), None, s, Caps::default()).unwrap();
        let tb = "Traceback (most recent call last):\n  File \"/work/main.py\", line 1, in <module>\n    x\nNameError: name 'x' is not defined\n";
        assert_eq!(p.push(OutStream::Stderr, tb.into()).diagnostics.len(), 1);
        assert_eq!(p.push(OutStream::Stderr, tb.into()).diagnostics.len(), 0);
        let mut sent = 1;
        for i in 0..MAX_DIAGNOSTICS_PER_STAGE + 10 {
            let other = tb.replace("'x'", &format!("'x{i}'"));
            sent += p.push(OutStream::Stderr, other).diagnostics.len();
        }
        assert_eq!(sent, MAX_DIAGNOSTICS_PER_STAGE);
    }

    #[test]
    fn locations_split_at_the_first_line_and_column() {
        assert_eq!(split_location("main.c:5:42: error: x"), Some(("main.c", 5, Some(42), " error: x")));
        assert_eq!(split_location("./a b/m.go:7:2: undefined: x"), Some(("./a b/m.go", 7, Some(2), " undefined: x")));
        assert_eq!(
            split_location("Main.java:3: error: ';' expected"),
            Some(("Main.java", 3, None, " error: ';' expected"))
        );
        assert_eq!(split_location("c:\\x:3:4: y"), Some(("c:\\x", 3, Some(4), " y")));
        assert_eq!(split_location("no location here: 3"), None);
    }
}
