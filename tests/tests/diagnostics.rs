//! `job/diagnostics` from every toolchain, through a real server and its
//! sandbox (README §4.7, methods/job-diagnostics.md).
//!
//! Each test runs a program with a known mistake and checks the exact
//! diagnostics: file, range (0-based, UTF-16), severity and code, and a
//! piece of the message; that the tool's own text still reaches stderr (or
//! stdout, for tsc); that a warning does not fail a build; and that
//! diagnostics are sent while the job runs, before its response, and on
//! `POST /rpc` in the result. The positions are those the tools print on
//! this machine (GCC 12, rustc, javac 17, Go 1.19, tsc 5, CPython 3.11,
//! Node 20), the same as in the server's fixtures
//! (`server/tests/fixtures/diagnostics/`). `CODERUN_SANDBOX` picks the
//! backend, as for every suite.

use coderun_tests::{http, programs::job, Client, JobRun, Server};
use serde_json::{json, Value};

/// One expected diagnostic.
struct Expect {
    file: &'static str,
    /// Start line, start character, end line, end character.
    range: [u64; 4],
    severity: &'static str,
    code: Option<&'static str>,
    /// A piece of the message.
    says: &'static str,
}

const fn error(file: &'static str, range: [u64; 4], code: Option<&'static str>, says: &'static str) -> Expect {
    Expect { file, range, severity: "error", code, says }
}

const fn warning(file: &'static str, range: [u64; 4], code: Option<&'static str>, says: &'static str) -> Expect {
    Expect { file, range, severity: "warning", code, says }
}

async fn run(language: &str, files: &[(&str, &str)]) -> anyhow::Result<JobRun> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    client.run(job(language, files)).await
}

/// Every diagnostic of a run, in order.
fn diagnostics(run: &JobRun) -> Vec<Value> {
    run.notifications
        .iter()
        .filter(|n| n["method"] == "job/diagnostics")
        .flat_map(|n| {
            let ds = n["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
            assert!(!ds.is_empty(), "a job/diagnostics notification with no diagnostics: {n}");
            ds
        })
        .collect()
}

fn check(found: &[Value], expected: &[Expect], context: &str) {
    let pos = |d: &Value, end: &str, what: &str| d["range"][end][what].as_u64().unwrap_or(u64::MAX);
    let shown: Vec<String> = found
        .iter()
        .map(|d| {
            format!(
                "{} {}:{}-{}:{} {} {} {}",
                d["file"],
                pos(d, "start", "line"),
                pos(d, "start", "character"),
                pos(d, "end", "line"),
                pos(d, "end", "character"),
                d["severity"],
                d["code"],
                d["message"]
            )
        })
        .collect();
    assert_eq!(found.len(), expected.len(), "diagnostics:\n{}\n{context}", shown.join("\n"));
    for (d, e) in found.iter().zip(expected) {
        let range =
            [pos(d, "start", "line"), pos(d, "start", "character"), pos(d, "end", "line"), pos(d, "end", "character")];
        let ok = d["file"] == e.file
            && range == e.range
            && d["severity"] == e.severity
            && d.get("code").and_then(Value::as_str) == e.code
            && d["message"].as_str().is_some_and(|m| m.contains(e.says));
        assert!(
            ok,
            "expected {} {:?} {} {:?} {:?}\ndiagnostics:\n{}\n{context}",
            e.file,
            e.range,
            e.severity,
            e.code,
            e.says,
            shown.join("\n")
        );
    }
}

/// Runs a program and checks its status, its diagnostics, and that the
/// tool's own text is still on `stream`.
async fn expect(
    language: &str,
    files: &[(&str, &str)],
    status: &str,
    (stream, text): (&str, &str),
    expected: &[Expect],
) -> anyhow::Result<JobRun> {
    let run = run(language, files).await?;
    assert_eq!(run.status(), status, "{}", run.summary());
    assert!(run.stream(stream).contains(text), "{stream} should contain {text:?}\n{}", run.summary());
    check(&diagnostics(&run), expected, &run.summary());
    // Every notification of the job, diagnostics included, precedes its response.
    assert!(run.arrivals.iter().all(|at| *at <= run.answered));
    Ok(run)
}

#[tokio::test]
async fn c_missing_semicolon_fails_the_build_at_the_insertion_point() -> anyhow::Result<()> {
    let main = "#include <stdio.h>\n\nint main(void) {\n    printf(\"hi\\n\")\n    return 0;\n}\n";
    expect(
        "c",
        &[("main.c", main)],
        "buildFailed",
        ("stderr", "error: expected ‘;’ before ‘return’"),
        &[error("main.c", [3, 18, 3, 18], None, "expected ‘;’")],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn c_warning_is_a_diagnostic_and_the_program_still_runs() -> anyhow::Result<()> {
    let main = "#include <stdio.h>\n\nint main(void) {\n    int unused;\n    printf(\"ok\\n\");\n    return 0;\n}\n";
    let run = expect(
        "c",
        &[("main.c", main)],
        "exited",
        ("stderr", "unused variable"),
        &[warning("main.c", [3, 8, 3, 14], Some("-Wunused-variable"), "unused variable ‘unused’")],
    )
    .await?;
    assert_eq!(run.stdout(), "ok\n", "{}", run.summary());
    // The build's diagnostics come before the run starts.
    let methods: Vec<String> = run
        .notifications
        .iter()
        .map(|n| format!("{}:{}", n["method"].as_str().unwrap_or(""), n["params"]["state"].as_str().unwrap_or("")))
        .collect();
    let diag = methods.iter().position(|m| m == "job/diagnostics:");
    let running = methods.iter().position(|m| m == "job/status:running");
    assert!(diag.is_some() && diag < running, "{methods:?}");
    Ok(())
}

#[tokio::test]
async fn c_columns_count_utf16_past_tabs_and_wide_characters() -> anyhow::Result<()> {
    let main = "#include <stdio.h>\n\nint main(void) {\n\tint unused;\n    int é = 1; int y = 2 /* ü😀 */ + zz;\n    printf(\"%d\\n\", é);\n    return 0;\n}\n";
    expect(
        "c",
        &[("main.c", main)],
        "buildFailed",
        ("stderr", "undeclared"),
        &[
            error("main.c", [4, 37, 4, 39], None, "‘zz’ undeclared"),
            warning("main.c", [4, 19, 4, 20], Some("-Wunused-variable"), "‘y’"),
            warning("main.c", [3, 5, 3, 11], Some("-Wunused-variable"), "‘unused’"),
        ],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn cpp_error_in_a_second_file_names_that_file() -> anyhow::Result<()> {
    let files = [
        ("main.cpp", "#include \"shapes/square.hpp\"\n\nint main() {\n    return area(3) == 9 ? 0 : 1;\n}\n"),
        ("shapes/square.hpp", "int area(int side);\n"),
        (
            "shapes/square.cpp",
            "#include \"square.hpp\"\n\nint area(int side) {\n    int unused_local = 0;\n    return side * sid;\n}\n",
        ),
    ];
    expect(
        "cpp",
        &files,
        "buildFailed",
        ("stderr", "shapes/square.cpp:5:19: error"),
        &[
            error("shapes/square.cpp", [4, 18, 4, 21], None, "‘sid’ was not declared in this scope"),
            warning("shapes/square.cpp", [3, 8, 3, 20], Some("-Wunused-variable"), "unused_local"),
        ],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn cpp_error_inside_the_standard_library_lands_on_the_students_line() -> anyhow::Result<()> {
    let main = "#include <memory>\n#include <vector>\n\nint main() {\n    std::vector<std::unique_ptr<int>> a;\n    std::vector<std::unique_ptr<int>> b = a;\n}\n";
    let run = run("cpp", &[("main.cpp", main)]).await?;
    assert_eq!(run.status(), "buildFailed", "{}", run.summary());
    let found = diagnostics(&run);
    assert!(!found.is_empty(), "{}", run.summary());
    for d in &found {
        assert_eq!(d["file"], "main.cpp", "{d}");
        assert_eq!(
            d["range"],
            json!({"start": {"line": 5, "character": 42}, "end": {"line": 5, "character": 43}}),
            "{d}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn rust_type_error_is_e0308_and_stderr_stays_human() -> anyhow::Result<()> {
    let main = "fn main() {\n    let n: i32 = \"three\";\n    println!(\"{n}\");\n}\n";
    let run = expect(
        "rust",
        &[("main.rs", main)],
        "buildFailed",
        ("stderr", "error[E0308]: mismatched types\n --> main.rs:2:18"),
        &[error("main.rs", [1, 17, 1, 24], Some("E0308"), "mismatched types\nexpected `i32`, found `&str`")],
    )
    .await?;
    assert!(!run.stderr().contains("$message_type"), "rustc's JSON reached the student: {}", run.summary());
    Ok(())
}

#[tokio::test]
async fn rust_warning_builds_and_error_in_a_module_file() -> anyhow::Result<()> {
    let main = "fn main() {\n    let unused = 5;\n    println!(\"ok\");\n}\n";
    let run = expect(
        "rust",
        &[("main.rs", main)],
        "exited",
        ("stderr", "warning: unused variable: `unused`"),
        &[warning("main.rs", [1, 8, 1, 14], Some("unused_variables"), "unused variable")],
    )
    .await?;
    assert_eq!(run.stdout(), "ok\n");
    let files = [
        ("main.rs", "mod util;\n\nfn main() {\n    println!(\"{}\", util::twice(21));\n}\n"),
        ("util/mod.rs", "pub fn twice(n: i32) -> i32 {\n    n * factor\n}\n"),
    ];
    expect(
        "rust",
        &files,
        "buildFailed",
        ("stderr", "--> util/mod.rs:2:9"),
        &[error("util/mod.rs", [1, 8, 1, 14], Some("E0425"), "cannot find value `factor`")],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn java_undefined_name_in_a_second_file_and_a_warning() -> anyhow::Result<()> {
    let files = [
        ("Main.java", "import util.Helper;\n\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(Helper.twice(21));\n    }\n}\n"),
        ("util/Helper.java", "package util;\n\npublic class Helper {\n    public static int twice(int n) {\n        return n * factor;\n    }\n}\n"),
    ];
    expect(
        "java",
        &files,
        "buildFailed",
        ("stderr", "util/Helper.java:5: error: cannot find symbol"),
        &[error("util/Helper.java", [4, 19, 4, 25], None, "cannot find symbol\nsymbol:   variable factor")],
    )
    .await?;
    let main = "public class Main {\n    public static void main(String[] args) {\n        Integer boxed = new Integer(5);\n        System.out.println(boxed);\n    }\n}\n";
    let run = expect(
        "java",
        &[("Main.java", main)],
        "exited",
        ("stderr", "warning: [removal]"),
        &[warning("Main.java", [2, 24, 2, 27], Some("removal"), "Integer(int) in Integer has been deprecated")],
    )
    .await?;
    assert_eq!(run.stdout(), "5\n");
    Ok(())
}

#[tokio::test]
async fn go_undefined_names_in_two_files() -> anyhow::Result<()> {
    let files = [
        (
            "main.go",
            "package main\n\nimport \"fmt\"\n\nfunc main() {\n\ttotal := 3\n\tfmt.Println(totl, twice(total))\n}\n",
        ),
        ("util.go", "package main\n\nfunc twice(n int) int {\n\treturn n * factor\n}\n"),
    ];
    let run = run("go", &files).await?;
    assert_eq!(run.status(), "buildFailed", "{}", run.summary());
    assert!(run.stderr().contains("undefined: totl"), "{}", run.summary());
    // go lists files in its own order; compare as a set.
    let mut found = diagnostics(&run);
    found.sort_by_key(|d| d["file"].as_str().unwrap_or_default().to_owned());
    check(
        &found,
        &[
            error("main.go", [6, 13, 6, 17], None, "undefined: totl"),
            error("util.go", [3, 12, 3, 18], None, "undefined: factor"),
        ],
        &run.summary(),
    );
    Ok(())
}

#[tokio::test]
async fn typescript_type_error_at_build_and_exception_at_run_map_to_ts() -> anyhow::Result<()> {
    let main = "let n: number = \"three\";\nconsole.log(n);\n";
    expect(
        "typescript",
        &[("main.ts", main)],
        "buildFailed",
        ("stdout", "main.ts(1,5): error TS2322"),
        &[error("main.ts", [0, 4, 0, 5], Some("TS2322"), "Type 'string' is not assignable to type 'number'.")],
    )
    .await?;
    let main = "function check(n: number): number {\n  if (n > 2) throw new RangeError(\"too big: \" + n);\n  return n;\n}\n\nconsole.log(check(1));\nconsole.log(check(5));\n";
    expect(
        "typescript",
        &[("main.ts", main)],
        "exited",
        ("stderr", "RangeError: too big: 5"),
        &[error("main.ts", [1, 19, 1, 22], Some("RangeError"), "RangeError: too big: 5")],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn python_exception_three_calls_deep_lands_on_the_innermost_student_frame() -> anyhow::Result<()> {
    let files = [
        ("main.py", "from lib.util import outer\n\nprint(\"start\")\nouter([1, 2, 3])\n"),
        ("lib/__init__.py", ""),
        ("lib/util.py", "def outer(xs):\n    return middle(xs)\n\n\ndef middle(xs):\n    return inner(xs, 5)\n\n\ndef inner(xs, i):\n    return xs[i] * 2\n"),
    ];
    expect(
        "python",
        &files,
        "exited",
        ("stderr", "IndexError: list index out of range"),
        &[error("lib/util.py", [9, 11, 9, 16], Some("IndexError"), "IndexError: list index out of range")],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn python_syntax_error_and_exception_inside_the_standard_library() -> anyhow::Result<()> {
    expect(
        "python",
        &[("main.py", "print(\"unclosed\"\n")],
        "exited",
        ("stderr", "SyntaxError"),
        &[error("main.py", [0, 5, 0, 6], Some("SyntaxError"), "SyntaxError: '(' was never closed")],
    )
    .await?;
    let main = "import json\n\n\ndef load(text):\n    return json.loads(text)\n\n\nload(\"{not json\")\n";
    expect(
        "python",
        &[("main.py", main)],
        "exited",
        ("stderr", "json/decoder.py"),
        &[error("main.py", [4, 11, 4, 27], Some("json.decoder.JSONDecodeError"), "Expecting property name")],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn javascript_exception_three_calls_deep_and_syntax_error() -> anyhow::Result<()> {
    let files = [
        ("main.js", "const { outer } = require(\"./lib/util\");\n\nconsole.log(\"start\");\nouter([1, 2, 3]);\n"),
        ("lib/util.js", "function outer(xs) {\n  return middle(xs);\n}\n\nfunction middle(xs) {\n  return inner(xs, 5);\n}\n\nfunction inner(xs, i) {\n  return xs[i].toFixed(2);\n}\n\nmodule.exports = { outer };\n"),
    ];
    expect(
        "javascript",
        &files,
        "exited",
        ("stderr", "TypeError"),
        &[error(
            "lib/util.js",
            [9, 15, 9, 22],
            Some("TypeError"),
            "TypeError: Cannot read properties of undefined (reading 'toFixed')",
        )],
    )
    .await?;
    expect(
        "javascript",
        &[("main.js", "console.log(\"unclosed\";\n")],
        "exited",
        ("stderr", "SyntaxError"),
        &[error("main.js", [0, 12, 0, 22], Some("SyntaxError"), "missing ) after argument list")],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn ruby_name_error_is_underlined_and_a_deep_exception_lands_in_its_file() -> anyhow::Result<()> {
    expect(
        "ruby",
        &[("main.rb", "total = 3\nputs totl\n")],
        "exited",
        ("stderr", "(NameError)"),
        &[error("main.rb", [1, 5, 1, 9], Some("NameError"), "undefined local variable or method `totl'")],
    )
    .await?;
    let files = [
        ("main.rb", "require_relative \"lib/util\"\n\nputs \"start\"\nouter([1, 2, 3])\n"),
        ("lib/util.rb", "def outer(xs)\n  middle(xs)\nend\n\ndef middle(xs)\n  inner(xs, 5)\nend\n\ndef inner(xs, i)\n  xs.fetch(i) * 2\nend\n"),
    ];
    expect(
        "ruby",
        &files,
        "exited",
        ("stderr", "(IndexError)"),
        &[error("lib/util.rb", [9, 2, 9, 17], Some("IndexError"), "index 5 outside")],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn bash_error_in_a_sourced_file_covers_its_line() -> anyhow::Result<()> {
    let files = [
        ("main.sh", "source \"$(dirname \"$0\")/lib/helper.sh\"\ngreet\n"),
        ("lib/helper.sh", "greet() {\n  echo hi\n  missing_in_helper\n}\n"),
    ];
    expect(
        "bash",
        &files,
        "exited",
        ("stderr", "command not found"),
        &[error("lib/helper.sh", [2, 2, 2, 19], None, "missing_in_helper: command not found")],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn java_rust_and_go_runtime_failures_land_on_the_students_line() -> anyhow::Result<()> {
    let files = [
        ("Main.java", "import util.Helper;\n\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(Helper.outer(new int[] {1, 2, 3}));\n    }\n}\n"),
        ("util/Helper.java", "package util;\n\npublic class Helper {\n    public static int outer(int[] xs) {\n        return middle(xs);\n    }\n\n    static int middle(int[] xs) {\n        return inner(xs, 5);\n    }\n\n    static int inner(int[] xs, int i) {\n        return xs[i] * 2;\n    }\n}\n"),
    ];
    expect(
        "java",
        &files,
        "exited",
        ("stderr", "at util.Helper.inner(Helper.java:13)"),
        &[error(
            "util/Helper.java",
            [12, 8, 12, 25],
            Some("java.lang.ArrayIndexOutOfBoundsException"),
            "Index 5 out of bounds for length 3",
        )],
    )
    .await?;
    // rustc before 1.73 (the coderun/rust image has 1.63) prints
    // `panicked at 'too big: 5', util/mod.rs:3:9`; later ones put the place first.
    let files = [
        ("main.rs", "mod util;\n\nfn main() {\n    util::check(5);\n}\n"),
        ("util/mod.rs", "pub fn check(n: i32) {\n    if n > 2 {\n        panic!(\"too big: {n}\");\n    }\n}\n"),
    ];
    expect(
        "rust",
        &files,
        "exited",
        ("stderr", "util/mod.rs:3:9"),
        &[error("util/mod.rs", [2, 8, 2, 13], None, "too big: 5")],
    )
    .await?;
    let files = [
        ("main.go", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(check(5))\n}\n"),
        ("util.go", "package main\n\nimport \"errors\"\n\nfunc check(n int) int {\n\tif n > 2 {\n\t\tpanic(errors.New(\"too big\"))\n\t}\n\treturn n\n}\n"),
    ];
    expect(
        "go",
        &files,
        "exited",
        ("stderr", "goroutine 1 [running]"),
        &[error("util.go", [6, 2, 6, 30], None, "panic: too big")],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn diagnostics_arrive_while_the_program_still_runs() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let main =
        "import traceback\ntry:\n    1/0\nexcept Exception:\n    traceback.print_exc()\ninput()\nprint(\"done\")\n";
    let mut params = job("python", &[("main.py", main)]);
    params["interactive"] = json!(true);
    let id = client.start_run(params).await?;
    let early = client
        .take(
            |m| m["method"] == "job/diagnostics" && m["params"]["job"] == id,
            "a job/diagnostics while the program waits for stdin",
        )
        .await?;
    check(
        early["params"]["diagnostics"].as_array().map_or(&[][..], Vec::as_slice),
        &[error("main.py", [2, 4, 2, 7], Some("ZeroDivisionError"), "ZeroDivisionError: division by zero")],
        &early.to_string(),
    );
    client.notify("job/stdin", json!({"job": id, "text": "\n", "eof": true})).await?;
    let run = client.collect(&id).await?;
    run.assert_exited_ok();
    assert!(run.stdout().contains("done"), "{}", run.summary());
    Ok(())
}

#[tokio::test]
async fn no_diagnostic_names_a_file_outside_the_job() -> anyhow::Result<()> {
    // The code that fails claims to be /etc/passwd; the traceback names it,
    // the diagnostic does not.
    let main = "code = compile(\"x = 1\\nundefined_name\\n\", \"/etc/passwd\", \"exec\")\nexec(code)\n";
    let run = expect(
        "python",
        &[("main.py", main)],
        "exited",
        ("stderr", "File \"/etc/passwd\", line 2"),
        &[error("main.py", [1, 0, 1, 10], Some("NameError"), "NameError: name 'undefined_name' is not defined")],
    )
    .await?;
    assert!(!run.notifications.iter().any(|n| n["method"] == "job/diagnostics" && n.to_string().contains("/etc")));
    Ok(())
}

#[tokio::test]
async fn http_one_shot_result_carries_the_diagnostics() -> anyhow::Result<()> {
    let server = Server::start_default().await?;
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "run", "params": job("python", &[("main.py", "total = 3\nprint(totl)\n")])});
    let response = http::post_rpc(&server, &body.to_string(), &[]).await?;
    let value = response.json()?;
    let result = &value["result"];
    assert_eq!(result["status"], "exited", "{value}");
    assert_eq!(
        result["diagnostics"],
        json!([{
            "file": "main.py",
            "range": {"start": {"line": 1, "character": 6}, "end": {"line": 1, "character": 10}},
            "severity": "error",
            "message": "NameError: name 'totl' is not defined. Did you mean: 'total'?",
            "code": "NameError",
            "source": "python"
        }]),
        "{value}"
    );
    Ok(())
}
