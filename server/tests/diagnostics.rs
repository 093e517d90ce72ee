//! The diagnostics parsers against real compiler and interpreter output.
//!
//! Each directory under `tests/fixtures/diagnostics/<toolchain>/<case>/`
//! holds a job's files (`files/`), what the real tool printed for them in a
//! real sandbox (`stderr`, `stdout`), and `case.json`: the stage's `argv`
//! (and, for a program the build made, the language's `build` command) and
//! the exact diagnostics expected, in the protocol's JSON, each with a
//! `text` member that is the file's text under its range (a check on the
//! column conversion a reader can see at a glance). For rustc, `stderr.text`
//! is what rustc printed for the same files without `--error-format=json`:
//! the rewritten stream must equal it.
//!
//! Every case is fed three ways (whole, one character at a time, and in
//! chunks of 7 characters), which must all give the same diagnostics and the
//! same forwarded text. `UPDATE_FIXTURES=1` writes what the parsers find
//! into `case.json`, for a new case; every expectation there was checked by
//! hand against the source.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::Arc,
};

use coderun_server::{
    job::{
        diagnostics::{Caps, Sources, StageParser},
        JobFile, OutStream,
    },
    rpc::convert,
};
use serde_json::{json, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnostics")
}

fn read_files(dir: &Path, base: &Path, out: &mut Vec<JobFile>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_files(&path, base, out);
        } else {
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            out.push(JobFile { path: rel, content: fs::read(&path).unwrap() });
        }
    }
}

/// What a parser made of a case's output, fed in pieces of `chunk` chars.
struct Outcome {
    diagnostics: Vec<Value>,
    stdout: String,
    stderr: String,
}

fn feed(
    argv: &[String],
    build: Option<&[String]>,
    files: &[JobFile],
    stdout: &str,
    stderr: &str,
    chunk: usize,
) -> Outcome {
    let sources = Arc::new(Sources::new(files));
    let mut parser =
        StageParser::for_command(argv, build, sources, Caps::default()).expect("the case's program has a parser");
    let mut outcome = Outcome { diagnostics: Vec::new(), stdout: String::new(), stderr: String::new() };
    let take = |stream: OutStream, parsed: coderun_server::job::diagnostics::Parsed, o: &mut Outcome| {
        match stream {
            OutStream::Stdout => o.stdout.push_str(&parsed.text),
            OutStream::Stderr => o.stderr.push_str(&parsed.text),
        }
        o.diagnostics
            .extend(parsed.diagnostics.into_iter().map(|d| serde_json::to_value(convert::diagnostic(d)).unwrap()));
    };
    for (stream, text) in [(OutStream::Stdout, stdout), (OutStream::Stderr, stderr)] {
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(chunk.max(1)) {
            let parsed = parser.push(stream, piece.iter().collect());
            take(stream, parsed, &mut outcome);
        }
    }
    let (stream, parsed) = parser.finish();
    take(stream, parsed, &mut outcome);
    outcome
}

/// The text of a file under a protocol range (UTF-16 columns).
fn text_at(files: &[JobFile], d: &Value) -> String {
    let file = files.iter().find(|f| f.path == d["file"]).expect("a diagnostic names a job file");
    let content = String::from_utf8_lossy(&file.content);
    let lines: Vec<&str> = content.split('\n').collect();
    let pos = |p: &Value| (p["line"].as_u64().unwrap() as usize, p["character"].as_u64().unwrap() as usize);
    let ((l0, c0), (l1, c1)) = (pos(&d["range"]["start"]), pos(&d["range"]["end"]));
    let mut out = Vec::new();
    for l in l0..=l1 {
        let units: Vec<u16> = lines.get(l).copied().unwrap_or("").encode_utf16().collect();
        let from = if l == l0 { c0.min(units.len()) } else { 0 };
        let to = if l == l1 { c1.min(units.len()) } else { units.len() };
        out.push(String::from_utf16(&units[from..to.max(from)]).expect("a range never splits a surrogate pair"));
    }
    out.join("\n")
}

fn check_case(dir: &Path) -> Result<(), String> {
    let case_path = dir.join("case.json");
    let mut case: Value = serde_json::from_str(&fs::read_to_string(&case_path).unwrap()).unwrap();
    let argv: Vec<String> = serde_json::from_value(case["argv"].clone()).unwrap();
    let build: Option<Vec<String>> = serde_json::from_value(case["build"].clone()).unwrap();
    let build = build.as_deref();
    let mut files = Vec::new();
    read_files(&dir.join("files"), &dir.join("files"), &mut files);
    let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap_or_default();
    let (stdout, stderr) = (read("stdout"), read("stderr"));

    let whole = feed(&argv, build, &files, &stdout, &stderr, usize::MAX);
    for chunk in [1, 7] {
        let other = feed(&argv, build, &files, &stdout, &stderr, chunk);
        if other.diagnostics != whole.diagnostics || other.stdout != whole.stdout || other.stderr != whole.stderr {
            return Err(format!("fed in chunks of {chunk} it found {:#?}", other.diagnostics));
        }
    }
    if whole.stdout != stdout {
        return Err(format!("stdout was changed: {:?}", whole.stdout));
    }
    let expected_stderr = fs::read_to_string(dir.join("stderr.text")).unwrap_or(stderr);
    if whole.stderr != expected_stderr {
        return Err(format!("stderr forwarded as\n{}\nexpected\n{}", whole.stderr, expected_stderr));
    }

    let found: Vec<Value> = whole
        .diagnostics
        .iter()
        .map(|d| {
            let mut d = d.clone();
            d["text"] = json!(text_at(&files, &d));
            d
        })
        .collect();
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        case["diagnostics"] = json!(found);
        fs::write(&case_path, serde_json::to_string_pretty(&case).unwrap() + "\n").unwrap();
        return Ok(());
    }
    if found != case["diagnostics"].as_array().cloned().unwrap_or_default() {
        return Err(format!(
            "found:\n{}\nexpected:\n{}",
            serde_json::to_string_pretty(&found).unwrap(),
            serde_json::to_string_pretty(&case["diagnostics"]).unwrap()
        ));
    }
    Ok(())
}

/// Checks every case of one toolchain, reporting all failures at once.
fn check_toolchain(toolchain: &str) {
    let dir = fixtures().join(toolchain);
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check_case(c).err().map(|e| format!("{}: {e}", c.strip_prefix(fixtures()).unwrap().display())))
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

#[test]
fn gcc_messages_of_c_and_cpp_become_exact_diagnostics() {
    check_toolchain("gcc");
}

#[test]
fn rustc_json_becomes_diagnostics_and_its_rendered_text() {
    check_toolchain("rustc");
}

#[test]
fn javac_messages_become_exact_diagnostics() {
    check_toolchain("javac");
}

#[test]
fn go_build_and_vet_messages_become_exact_diagnostics() {
    check_toolchain("go");
}

#[test]
fn tsc_messages_become_exact_diagnostics() {
    check_toolchain("tsc");
}

#[test]
fn python_syntax_errors_and_tracebacks_become_diagnostics_in_student_files() {
    check_toolchain("python");
}

#[test]
fn node_syntax_errors_and_exceptions_become_diagnostics_in_student_files() {
    check_toolchain("node");
}

#[test]
fn ruby_syntax_errors_warnings_and_exceptions_become_diagnostics_in_student_files() {
    check_toolchain("ruby");
}

#[test]
fn bash_errors_become_diagnostics_on_their_lines() {
    check_toolchain("bash");
}

#[test]
fn java_exceptions_become_diagnostics_at_the_innermost_student_frame() {
    check_toolchain("java");
}

#[test]
fn rust_panics_become_diagnostics_at_their_location() {
    check_toolchain("rust_panic");
}

#[test]
fn go_panics_become_diagnostics_at_the_innermost_student_frame() {
    check_toolchain("go_panic");
}
