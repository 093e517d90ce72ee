//! The job's own files, as the diagnostics parsers need them: which paths
//! a tool may name, and the text of each line, to turn a tool's column into
//! the protocol's.
//!
//! **Paths.** Every stage runs with the job's working directory as its
//! current directory, and that directory is `/work` in every backend. So a
//! tool names a file of the job as `main.c`, `./lib/util.go`,
//! `/work/lib/util.py` or `file:///work/main.mjs`; [`Sources::resolve`]
//! maps each of these to the job's path (`lib/util.py`). Anything else (a
//! system header, `/usr/lib/python3.11/json/decoder.py`, `node:internal/...`,
//! `<string>`) is not the student's and resolves to nothing, so no
//! diagnostic ever names a path outside the job.
//!
//! **Columns.** The protocol counts characters in UTF-16 code units, as LSP
//! does. Tools count otherwise: GCC in bytes (with
//! `-fdiagnostics-column-unit=byte`) or in display columns (its default:
//! a tab advances to the next multiple of 8, a wide character takes 2),
//! rustc in Unicode scalar values (but a panic's location in display
//! columns of its own), Go and Ruby in bytes, javac, V8 and tsc in UTF-16
//! code units already. [`Line::utf16`] converts any of these exactly, from
//! the line's own text; a column past the end of the line is clamped to it.

use std::{borrow::Cow, collections::BTreeMap, sync::OnceLock};

use crate::job::JobFile;

/// The directory a job's files are in, inside every sandbox.
pub const WORK_DIR: &str = "/work";

/// How GCC expands a tab into display columns (its `-ftabstop` default).
const GCC_TABSTOP: u32 = 8;

/// The job's files, kept by the driver before they go to the sandbox.
#[derive(Debug, Default)]
pub struct Sources {
    files: BTreeMap<String, SourceFile>,
}

#[derive(Debug)]
struct SourceFile {
    content: Vec<u8>,
    /// Byte offset of the start of each line, computed on first use.
    line_starts: OnceLock<Vec<usize>>,
}

/// A column as a tool counts it, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// UTF-8 bytes from the start of the line (GCC with
    /// `-fdiagnostics-column-unit=byte`, Go).
    Bytes(u32),
    /// Unicode scalar values (rustc, Python's carets).
    Chars(u32),
    /// UTF-16 code units: the protocol's own unit (javac, V8, tsc).
    Utf16(u32),
    /// Display columns: a tab advances to the next multiple of 8 and an
    /// East Asian wide character or emoji takes 2 (GCC's default unit and
    /// its caret lines).
    Display(u32),
    /// Display columns as rustc counts them in a panic's location: a tab
    /// takes 4, a wide character 2.
    RustcDisplay(u32),
}

impl Sources {
    /// Keeps a copy of the files' contents.
    pub fn new(files: &[JobFile]) -> Sources {
        let files = files
            .iter()
            .map(|f| (f.path.clone(), SourceFile { content: f.content.clone(), line_starts: OnceLock::new() }))
            .collect();
        Sources { files }
    }

    /// The job's path of a file a tool named, or `None` when the file is not
    /// one of the job's.
    pub fn resolve(&self, printed: &str) -> Option<&str> {
        let printed = printed.trim();
        let path = printed.strip_prefix("file://").unwrap_or(printed);
        let relative = match path.strip_prefix(WORK_DIR) {
            Some(rest) => rest.strip_prefix('/')?,
            None if path.starts_with('/') => return None,
            None => path,
        };
        let mut segments: Vec<&str> = Vec::new();
        for segment in relative.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    segments.pop()?;
                }
                s => segments.push(s),
            }
        }
        let normal = segments.join("/");
        self.files.get_key_value(normal.as_str()).map(|(k, _)| k.as_str())
    }

    /// The job's path of the only file with this name (no directory), for
    /// tools that print names only.
    pub fn only_file_named(&self, name: &str) -> Option<&str> {
        let mut matching = self.files.keys().filter(|p| p.rsplit('/').next() == Some(name));
        match (matching.next(), matching.next()) {
            (Some(path), None) => Some(path),
            _ => None,
        }
    }

    /// Line `line` (0-based) of a job file, without its line ending. A line
    /// past the end of the file is empty.
    pub fn line(&self, file: &str, line: u32) -> Line<'_> {
        let Some(f) = self.files.get(file) else {
            return Line::empty();
        };
        let starts = f.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(f.content.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
                .collect()
        });
        let Some(&start) = starts.get(line as usize) else {
            return Line::empty();
        };
        let end = starts.get(line as usize + 1).map_or(f.content.len(), |next| next - 1);
        let bytes = &f.content[start..end.max(start)];
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        Line { text: String::from_utf8_lossy(bytes) }
    }
}

/// One line of a job file, for converting columns.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    text: Cow<'a, str>,
}

impl<'a> Line<'a> {
    fn empty() -> Line<'a> {
        Line { text: Cow::Borrowed("") }
    }

    /// A line of this text (for tests and for parsers that quote the line).
    pub fn of(text: &'a str) -> Line<'a> {
        Line { text: Cow::Borrowed(text) }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line's length in UTF-16 code units.
    pub fn len_utf16(&self) -> u32 {
        self.text.encode_utf16().count() as u32
    }

    /// A column in UTF-16 code units, clamped to the end of the line.
    pub fn utf16(&self, col: Col) -> u32 {
        let mut units = 0u32;
        let mut display = 0u32;
        let mut rustc = 0u32;
        for (index, (byte, c)) in self.text.char_indices().enumerate() {
            let reached = match col {
                Col::Bytes(b) => byte as u32 >= b,
                Col::Chars(n) => index as u32 >= n,
                Col::Utf16(u) => units >= u,
                Col::Display(d) => display >= d,
                Col::RustcDisplay(d) => rustc >= d,
            };
            if reached {
                return units;
            }
            units += c.len_utf16() as u32;
            display = next_display(display, c);
            rustc += if c == '\t' { 4 } else { display_width(c) };
        }
        units
    }

    /// The display column (GCC's) at a UTF-16 column.
    pub fn display(&self, utf16: u32) -> u32 {
        let mut units = 0u32;
        let mut display = 0u32;
        for c in self.text.chars() {
            if units >= utf16 {
                break;
            }
            units += c.len_utf16() as u32;
            display = next_display(display, c);
        }
        display
    }

    /// The end (UTF-16) of a range that starts at `start` and takes one
    /// token: the identifier there, the string literal that opens there
    /// (to its closing quote on this line), or else one character. At the
    /// end of the line the range is empty.
    pub fn token_end(&self, start: u32) -> u32 {
        let mut units = 0u32;
        let mut rest = self.text.chars();
        while let Some(c) = rest.next() {
            if units >= start {
                return units + token_len(c, rest.as_str());
            }
            units += c.len_utf16() as u32;
        }
        units
    }

    /// The range of the line's text without its leading and trailing
    /// whitespace, in UTF-16: for tools that name a line but no column.
    pub fn trimmed(&self) -> (u32, u32) {
        let text: &str = &self.text;
        let lead = &text[..text.len() - text.trim_start().len()];
        let start = lead.encode_utf16().count() as u32;
        let end = text.trim_end().encode_utf16().count() as u32;
        (start, end.max(start))
    }
}

/// The length in UTF-16 of the token that starts with `first`, followed by
/// `rest`.
fn token_len(first: char, rest: &str) -> u32 {
    let units = |s: &str| s.encode_utf16().count() as u32;
    if matches!(first, '"' | '\'' | '`') {
        if let Some(close) = rest.find(first) {
            return 1 + units(&rest[..close]) + 1;
        }
    }
    if is_word(first) {
        let word = rest.find(|c: char| !is_word(c)).map_or(rest, |end| &rest[..end]);
        return first.len_utf16() as u32 + units(word);
    }
    first.len_utf16() as u32
}

/// Whether a character continues an identifier, in every language we parse.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The display column after `c` when `c` starts at display column `at`.
fn next_display(at: u32, c: char) -> u32 {
    if c == '\t' {
        (at / GCC_TABSTOP + 1) * GCC_TABSTOP
    } else {
        at + display_width(c)
    }
}

/// How many display columns a character takes in a terminal (and in GCC's
/// caret lines): 0 for combining marks and zero-width characters, 2 for East
/// Asian wide characters and emoji, 1 otherwise. The table is the common
/// subset of `wcwidth` that GCC's own table agrees with.
pub fn display_width(c: char) -> u32 {
    let c = c as u32;
    const ZERO: &[(u32, u32)] = &[
        (0x0300, 0x036F),
        (0x0483, 0x0489),
        (0x0591, 0x05BD),
        (0x0610, 0x061A),
        (0x064B, 0x065F),
        (0x200B, 0x200F),
        (0x20D0, 0x20FF),
        (0xFE00, 0xFE0F),
        (0xFE20, 0xFE2F),
    ];
    const WIDE: &[(u32, u32)] = &[
        (0x1100, 0x115F),
        (0x231A, 0x231B),
        (0x2329, 0x232A),
        (0x23E9, 0x23EC),
        (0x23F0, 0x23F0),
        (0x23F3, 0x23F3),
        (0x25FD, 0x25FE),
        (0x2614, 0x2615),
        (0x2648, 0x2653),
        (0x267F, 0x267F),
        (0x2693, 0x2693),
        (0x26A1, 0x26A1),
        (0x26AA, 0x26AB),
        (0x26BD, 0x26BE),
        (0x26C4, 0x26C5),
        (0x26CE, 0x26CE),
        (0x26D4, 0x26D4),
        (0x26EA, 0x26EA),
        (0x26F2, 0x26F3),
        (0x26F5, 0x26F5),
        (0x26FA, 0x26FA),
        (0x26FD, 0x26FD),
        (0x2705, 0x2705),
        (0x270A, 0x270B),
        (0x2728, 0x2728),
        (0x274C, 0x274C),
        (0x274E, 0x274E),
        (0x2753, 0x2755),
        (0x2757, 0x2757),
        (0x2795, 0x2797),
        (0x27B0, 0x27B0),
        (0x27BF, 0x27BF),
        (0x2B1B, 0x2B1C),
        (0x2B50, 0x2B50),
        (0x2B55, 0x2B55),
        (0x2E80, 0x303E),
        (0x3041, 0x33FF),
        (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF),
        (0xA000, 0xA4CF),
        (0xA960, 0xA97F),
        (0xAC00, 0xD7A3),
        (0xF900, 0xFAFF),
        (0xFE10, 0xFE19),
        (0xFE30, 0xFE6F),
        (0xFF00, 0xFF60),
        (0xFFE0, 0xFFE6),
        (0x16FE0, 0x16FE4),
        (0x17000, 0x18CFF),
        (0x1B000, 0x1B2FF),
        (0x1F004, 0x1F004),
        (0x1F0CF, 0x1F0CF),
        (0x1F18E, 0x1F18E),
        (0x1F191, 0x1F19A),
        (0x1F200, 0x1F251),
        (0x1F300, 0x1F64F),
        (0x1F680, 0x1F6FF),
        (0x1F7E0, 0x1F7EB),
        (0x1F90C, 0x1F9FF),
        (0x1FA70, 0x1FAFF),
        (0x20000, 0x3FFFD),
    ];
    let within = |table: &[(u32, u32)]| table.iter().any(|&(lo, hi)| (lo..=hi).contains(&c));
    if c == 0 || within(ZERO) {
        0
    } else if within(WIDE) {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(files: &[(&str, &str)]) -> Sources {
        Sources::new(
            &files
                .iter()
                .map(|(p, c)| JobFile { path: p.to_string(), content: c.as_bytes().to_vec() })
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn paths_as_tools_print_them_resolve_to_job_paths() {
        let s = sources(&[("main.c", ""), ("lib/util.py", "")]);
        for printed in ["main.c", "./main.c", "/work/main.c", "file:///work/main.c", "lib/../main.c", " main.c"] {
            assert_eq!(s.resolve(printed), Some("main.c"), "{printed}");
        }
        for printed in ["/work/lib/util.py", "./lib/util.py", "lib/./util.py", "file:///work/lib/util.py"] {
            assert_eq!(s.resolve(printed), Some("lib/util.py"), "{printed}");
        }
    }

    #[test]
    fn paths_outside_the_job_resolve_to_nothing() {
        let s = sources(&[("main.c", ""), ("lib/util.py", "")]);
        for printed in [
            "/usr/include/stdio.h",
            "/usr/lib/python3.11/json/decoder.py",
            "node:internal/modules/cjs/loader",
            "<string>",
            "/workshop/main.c",
            "/work",
            "../main.c",
            "lib/../../main.c",
            "util.py",
            "lib",
            "",
        ] {
            assert_eq!(s.resolve(printed), None, "{printed}");
        }
    }

    #[test]
    fn lines_are_split_on_line_feeds_without_carriage_returns() {
        let s = sources(&[("a.txt", "one\r\ntwo\n\nlast")]);
        let texts: Vec<String> = (0..5).map(|i| s.line("a.txt", i).text().to_owned()).collect();
        assert_eq!(texts, ["one", "two", "", "last", ""]);
        assert_eq!(s.line("missing", 0).text(), "");
    }

    #[test]
    fn columns_of_every_unit_convert_to_utf16() {
        // `x` is at byte 9, char 5, UTF-16 unit 6, display column 6.
        let line = Line::of("é😀 + x");
        assert_eq!(line.utf16(Col::Bytes(9)), 6);
        assert_eq!(line.utf16(Col::Chars(5)), 6);
        assert_eq!(line.utf16(Col::Utf16(6)), 6);
        assert_eq!(line.utf16(Col::Display(6)), 6);
        assert_eq!(line.utf16(Col::RustcDisplay(6)), 6);
        assert_eq!(line.len_utf16(), 7);
        // Past the end: clamped.
        assert_eq!(line.utf16(Col::Bytes(99)), 7);
    }

    #[test]
    fn display_columns_expand_tabs_to_the_next_multiple_of_eight() {
        let line = Line::of("\tint x;\t// c");
        assert_eq!(line.utf16(Col::Display(8)), 1);
        assert_eq!(line.utf16(Col::Display(12)), 5);
        assert_eq!(line.display(1), 8);
        // The second tab starts at display 14 and ends at 16.
        assert_eq!(line.utf16(Col::Display(16)), 8);
        // rustc counts every tab as 4.
        assert_eq!(line.utf16(Col::RustcDisplay(4)), 1);
        assert_eq!(line.utf16(Col::RustcDisplay(14)), 8);
    }

    #[test]
    fn a_byte_column_inside_a_character_lands_on_its_start() {
        let line = Line::of("é=1");
        assert_eq!(line.utf16(Col::Bytes(1)), 1);
    }

    #[test]
    fn token_end_covers_an_identifier_a_string_or_one_character() {
        assert_eq!(Line::of("x = \"é😀\" + 'a';").token_end(4), 9);
        assert_eq!(Line::of("x = 'a';").token_end(4), 7);
        assert_eq!(Line::of("x = \"open").token_end(4), 5);
        let line = Line::of("  total = totl;");
        assert_eq!(line.token_end(2), 7);
        assert_eq!(line.token_end(8), 9);
        assert_eq!(line.token_end(15), 15);
        assert_eq!(Line::of("x éy😀").token_end(2), 4);
    }

    #[test]
    fn trimmed_range_skips_indentation() {
        assert_eq!(Line::of("    return x  ").trimmed(), (4, 12));
        assert_eq!(Line::of("   ").trimmed(), (3, 3));
    }
}
