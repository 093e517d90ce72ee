//! Splitting a stream's text, as it arrives in chunks, into lines.
//!
//! The driver hands over text in whatever pieces the pipe gave (already
//! decoded: a chunk never splits a character). Tools print diagnostics a
//! line at a time, so the parsers see whole lines; the part of a line not
//! yet ended is kept until its line feed arrives or the stage ends.
//!
//! A line is capped (`[diagnostics] max_line_bytes`, by default
//! [`MAX_LINE_BYTES`]). A program that writes a longer
//! line (or none at all) cannot make the server hold more than that: past
//! the cap, the rest of the line is handed back as [`Piece::Overflow`], which
//! no parser reads and which a rewriting parser forwards as it is.

/// The longest line the parsers read by default, in bytes. rustc's JSON lines are the
/// longest any parser wants whole; its largest messages are a few tens of
/// KiB.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// What a chunk of text turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A whole line, its line feed included when it had one (only the last
    /// line of a stream may lack it).
    Line(String),
    /// Text of a line longer than the cap, in order.
    Overflow(String),
}

/// One stream's line splitter.
#[derive(Debug)]
pub struct LineBuffer {
    /// The longest line kept whole, in bytes.
    cap: usize,
    partial: String,
    /// The current line has passed the cap: the rest of it is overflow.
    overflowing: bool,
}

impl LineBuffer {
    /// A splitter that keeps lines of up to `cap` bytes whole.
    pub fn new(cap: usize) -> LineBuffer {
        LineBuffer { cap, partial: String::new(), overflowing: false }
    }

    /// Adds a chunk, returning the pieces it completes.
    pub fn push(&mut self, mut text: &str) -> Vec<Piece> {
        let mut pieces = Vec::new();
        while !text.is_empty() {
            let (head, rest, ended) = match text.find('\n') {
                Some(i) => (&text[..=i], &text[i + 1..], true),
                None => (text, "", false),
            };
            text = rest;
            if self.overflowing {
                pieces.push(Piece::Overflow(head.to_owned()));
            } else if self.partial.len() + head.len() > self.cap {
                let mut spilled = std::mem::take(&mut self.partial);
                spilled.push_str(head);
                pieces.push(Piece::Overflow(spilled));
                self.overflowing = true;
            } else {
                self.partial.push_str(head);
                if ended {
                    pieces.push(Piece::Line(std::mem::take(&mut self.partial)));
                }
            }
            if ended {
                self.overflowing = false;
            }
        }
        pieces
    }

    /// Ends the stream: a last line without a line feed is whole now.
    pub fn finish(&mut self) -> Option<Piece> {
        self.overflowing = false;
        (!self.partial.is_empty()).then(|| Piece::Line(std::mem::take(&mut self.partial)))
    }
}

/// A line without its line ending (`\n` or `\r\n`).
pub fn chomp(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(pieces: Vec<Piece>) -> Vec<String> {
        pieces
            .into_iter()
            .map(|p| match p {
                Piece::Line(l) => l,
                Piece::Overflow(o) => panic!("unexpected overflow {o:?}"),
            })
            .collect()
    }

    #[test]
    fn lines_split_across_chunks_come_out_whole() {
        let mut b = LineBuffer::new(MAX_LINE_BYTES);
        assert_eq!(lines(b.push("main.c:1:2: err")), Vec::<String>::new());
        assert_eq!(lines(b.push("or: x\nsecond\nthi")), ["main.c:1:2: error: x\n", "second\n"]);
        assert_eq!(lines(b.push("rd\n")), ["third\n"]);
        assert_eq!(b.finish(), None);
    }

    #[test]
    fn the_last_line_without_a_line_feed_comes_at_the_end() {
        let mut b = LineBuffer::new(MAX_LINE_BYTES);
        assert_eq!(lines(b.push("a\nb")), ["a\n"]);
        assert_eq!(b.finish(), Some(Piece::Line("b".into())));
    }

    #[test]
    fn a_line_past_the_cap_is_overflow_until_its_end() {
        let mut b = LineBuffer::new(MAX_LINE_BYTES);
        let long = "x".repeat(MAX_LINE_BYTES);
        assert_eq!(b.push(&long), Vec::new());
        assert_eq!(b.push("yy"), [Piece::Overflow(format!("{long}yy"))]);
        assert_eq!(b.push("zz\nnext\n"), [Piece::Overflow("zz\n".into()), Piece::Line("next\n".into())]);
    }

    #[test]
    fn chomp_removes_either_line_ending() {
        assert_eq!(chomp("a\r\n"), "a");
        assert_eq!(chomp("a\n"), "a");
        assert_eq!(chomp("a"), "a");
    }
}
