//! Every language the catalog offers, through the same six behaviours:
//! hello world (exact stdout), a program that reads stdin and echoes it
//! transformed, a compile or syntax error, a runtime crash, a program made
//! of several files (one in a subdirectory), and command-line arguments.
//!
//! Each language is a [`Lang`] table of programs; the `language_tests!`
//! macro turns it into one module of tests, so a failure reads as
//! `rust::runtime_crash_is_reported`.

use coderun_tests::{programs::job, Client, JobRun, Server};
use serde_json::json;

/// How a language's crashing program must end.
enum Crash {
    /// Killed by this signal: status `signal`, `signal` names it.
    Signal(&'static str),
    /// Ended on its own with this exit code.
    Exit(i64),
}

/// One language's programs and what they must do.
struct Lang {
    id: &'static str,
    /// Whether a broken program fails the build (compiled) or exits nonzero.
    compiled: bool,
    hello: &'static [(&'static str, &'static str)],
    /// Reads lines from stdin and prints each in upper case.
    upper: &'static [(&'static str, &'static str)],
    /// Does not compile (or parse); `broken_file` must appear in the
    /// compiler's report, on stderr, or on stdout where `reports_on_stdout`.
    broken: &'static [(&'static str, &'static str)],
    broken_file: &'static str,
    /// The compiler writes its report on stdout (tsc).
    reports_on_stdout: bool,
    crash: &'static [(&'static str, &'static str)],
    crash_ends: Crash,
    /// Text the crash must leave on stderr.
    crash_says: &'static str,
    /// Prints `hello from multi` using a helper in a subdirectory.
    multi: &'static [(&'static str, &'static str)],
    /// Prints its arguments joined by `|`.
    args: &'static [(&'static str, &'static str)],
}

const PYTHON: Lang = Lang {
    id: "python",
    compiled: false,
    hello: &[("main.py", "print(\"Hello, world!\")\n")],
    upper: &[("main.py", "import sys\nfor line in sys.stdin:\n    print(line.rstrip('\\n').upper())\n")],
    broken: &[("main.py", "print(\"unclosed\"\n")],
    broken_file: "main.py",
    reports_on_stdout: false,
    crash: &[("main.py", "def f():\n    raise ValueError('boom')\nf()\n")],
    crash_ends: Crash::Exit(1),
    crash_says: "ValueError: boom",
    multi: &[
        ("main.py", "from lib.helper import greet\nprint(greet('multi'))\n"),
        ("lib/helper.py", "def greet(n):\n    return f'hello from {n}'\n"),
    ],
    args: &[("main.py", "import sys\nprint('|'.join(sys.argv[1:]))\n")],
};

const JAVASCRIPT: Lang = Lang {
    id: "javascript",
    compiled: false,
    hello: &[("main.js", "console.log(\"Hello, world!\");\n")],
    upper: &[(
        "main.js",
        "const data = require('fs').readFileSync(0, 'utf8');\nfor (const line of data.split('\\n')) {\n  if (line) console.log(line.toUpperCase());\n}\n",
    )],
    broken: &[("main.js", "console.log(\"unclosed\";\n")],
    broken_file: "main.js",
    reports_on_stdout: false,
    crash: &[("main.js", "function f() { throw new Error('boom'); }\nf();\n")],
    crash_ends: Crash::Exit(1),
    crash_says: "Error: boom",
    multi: &[
        ("main.js", "const { greet } = require('./lib/helper');\nconsole.log(greet('multi'));\n"),
        ("lib/helper.js", "exports.greet = (n) => `hello from ${n}`;\n"),
    ],
    args: &[("main.js", "console.log(process.argv.slice(2).join('|'));\n")],
};

const C: Lang = Lang {
    id: "c",
    compiled: true,
    hello: &[("main.c", "#include <stdio.h>\nint main(void) {\n    printf(\"Hello, world!\\n\");\n    return 0;\n}\n")],
    upper: &[(
        "main.c",
        "#include <ctype.h>\n#include <stdio.h>\nint main(void) {\n    int c;\n    while ((c = getchar()) != EOF) putchar(toupper(c));\n    return 0;\n}\n",
    )],
    broken: &[("main.c", "int main(void) {\n    return undefined_variable;\n}\n")],
    broken_file: "main.c",
    reports_on_stdout: false,
    crash: &[("main.c", "#include <stdio.h>\nint main(void) {\n    puts(\"before\");\n    fflush(stdout);\n    volatile int *p = 0;\n    *p = 42;\n    return 0;\n}\n")],
    crash_ends: Crash::Signal("SIGSEGV"),
    crash_says: "",
    multi: &[
        ("main.c", "#include <stdio.h>\n#include \"lib/helper.h\"\nint main(void) {\n    printf(\"%s\\n\", greet());\n    return 0;\n}\n"),
        ("lib/helper.h", "static const char *greet(void) { return \"hello from multi\"; }\n"),
    ],
    args: &[(
        "main.c",
        "#include <stdio.h>\nint main(int argc, char **argv) {\n    for (int i = 1; i < argc; i++) printf(\"%s%s\", i > 1 ? \"|\" : \"\", argv[i]);\n    printf(\"\\n\");\n    return 0;\n}\n",
    )],
};

const CPP: Lang = Lang {
    id: "cpp",
    compiled: true,
    hello: &[("main.cpp", "#include <iostream>\nint main() {\n    std::cout << \"Hello, world!\" << std::endl;\n}\n")],
    upper: &[(
        "main.cpp",
        "#include <cctype>\n#include <iostream>\n#include <string>\nint main() {\n    std::string line;\n    while (std::getline(std::cin, line)) {\n        for (auto &c : line) c = std::toupper(static_cast<unsigned char>(c));\n        std::cout << line << '\\n';\n    }\n}\n",
    )],
    broken: &[("main.cpp", "int main() {\n    return undefined_variable;\n}\n")],
    broken_file: "main.cpp",
    reports_on_stdout: false,
    crash: &[("main.cpp", "#include <stdexcept>\nint main() {\n    throw std::runtime_error(\"boom\");\n}\n")],
    crash_ends: Crash::Signal("SIGABRT"),
    crash_says: "boom",
    multi: &[
        ("main.cpp", "#include <iostream>\n#include \"lib/helper.hpp\"\nint main() {\n    std::cout << greet() << '\\n';\n}\n"),
        ("lib/helper.hpp", "#include <string>\ninline std::string greet() { return \"hello from multi\"; }\n"),
    ],
    args: &[(
        "main.cpp",
        "#include <iostream>\nint main(int argc, char **argv) {\n    for (int i = 1; i < argc; i++) std::cout << (i > 1 ? \"|\" : \"\") << argv[i];\n    std::cout << '\\n';\n}\n",
    )],
};

const BASH: Lang = Lang {
    id: "bash",
    compiled: false,
    hello: &[("main.sh", "echo \"Hello, world!\"\n")],
    upper: &[("main.sh", "while IFS= read -r line; do\n  echo \"${line^^}\"\ndone\n")],
    broken: &[("main.sh", "if true; then\n  echo never\n")],
    broken_file: "main.sh",
    reports_on_stdout: false,
    crash: &[("main.sh", "set -e\necho before\ncat /no/such/file\necho after\n")],
    crash_ends: Crash::Exit(1),
    crash_says: "No such file",
    multi: &[
        ("main.sh", "source \"$(dirname \"$0\")/lib/helper.sh\"\ngreet multi\n"),
        ("lib/helper.sh", "greet() { echo \"hello from $1\"; }\n"),
    ],
    args: &[("main.sh", "(IFS='|'; echo \"$*\")\n")],
};

const JAVA: Lang = Lang {
    id: "java",
    compiled: true,
    hello: &[("Main.java", "public class Main {\n    public static void main(String[] args) {\n        System.out.println(\"Hello, world!\");\n    }\n}\n")],
    upper: &[(
        "Main.java",
        "import java.io.*;\npublic class Main {\n    public static void main(String[] args) throws IOException {\n        BufferedReader r = new BufferedReader(new InputStreamReader(System.in));\n        String line;\n        while ((line = r.readLine()) != null) System.out.println(line.toUpperCase());\n    }\n}\n",
    )],
    broken: &[("Main.java", "public class Main {\n    public static void main(String[] args) {\n        int x = \"s\";\n    }\n}\n")],
    broken_file: "Main.java",
    reports_on_stdout: false,
    crash: &[("Main.java", "public class Main {\n    public static void main(String[] args) {\n        throw new IllegalStateException(\"boom\");\n    }\n}\n")],
    crash_ends: Crash::Exit(1),
    crash_says: "IllegalStateException: boom",
    multi: &[
        ("Main.java", "import util.Helper;\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(Helper.greet(\"multi\"));\n    }\n}\n"),
        ("util/Helper.java", "package util;\npublic class Helper {\n    public static String greet(String n) { return \"hello from \" + n; }\n}\n"),
    ],
    args: &[("Main.java", "public class Main {\n    public static void main(String[] args) {\n        System.out.println(String.join(\"|\", args));\n    }\n}\n")],
};

const RUST: Lang = Lang {
    id: "rust",
    compiled: true,
    hello: &[("main.rs", "fn main() {\n    println!(\"Hello, world!\");\n}\n")],
    upper: &[(
        "main.rs",
        "use std::io::BufRead;\nfn main() {\n    for line in std::io::stdin().lock().lines() {\n        println!(\"{}\", line.unwrap().to_uppercase());\n    }\n}\n",
    )],
    broken: &[("main.rs", "fn main() {\n    let x: i32 = \"s\";\n}\n")],
    broken_file: "main.rs",
    reports_on_stdout: false,
    crash: &[("main.rs", "fn main() {\n    let v: Vec<u8> = Vec::new();\n    if v.is_empty() {\n        panic!(\"boom\");\n    }\n}\n")],
    crash_ends: Crash::Exit(101),
    crash_says: "boom",
    multi: &[
        ("main.rs", "mod util;\nfn main() {\n    println!(\"{}\", util::greet(\"multi\"));\n}\n"),
        ("util/mod.rs", "pub fn greet(n: &str) -> String {\n    format!(\"hello from {n}\")\n}\n"),
    ],
    args: &[(
        "main.rs",
        "fn main() {\n    let args: Vec<String> = std::env::args().skip(1).collect();\n    println!(\"{}\", args.join(\"|\"));\n}\n",
    )],
};

const TYPESCRIPT: Lang = Lang {
    id: "typescript",
    compiled: true,
    hello: &[("main.ts", "const greeting: string = \"Hello, world!\";\nconsole.log(greeting);\n")],
    upper: &[(
        "main.ts",
        "import * as fs from \"fs\";\nconst data: string = fs.readFileSync(0, \"utf8\");\nfor (const line of data.split(\"\\n\")) {\n  if (line) console.log(line.toUpperCase());\n}\n",
    )],
    broken: &[("main.ts", "const x: number = \"s\";\nconsole.log(x);\n")],
    broken_file: "main.ts",
    reports_on_stdout: true,
    crash: &[("main.ts", "function f(): never {\n  throw new Error(\"boom\");\n}\nf();\n")],
    crash_ends: Crash::Exit(1),
    crash_says: "Error: boom",
    multi: &[
        ("main.ts", "import { greet } from \"./lib/helper\";\nconsole.log(greet(\"multi\"));\n"),
        ("lib/helper.ts", "export function greet(n: string): string {\n  return `hello from ${n}`;\n}\n"),
    ],
    args: &[("main.ts", "console.log(process.argv.slice(2).join(\"|\"));\n")],
};

const GO: Lang = Lang {
    id: "go",
    compiled: true,
    hello: &[("main.go", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"Hello, world!\")\n}\n")],
    upper: &[(
        "main.go",
        "package main\n\nimport (\n\t\"bufio\"\n\t\"fmt\"\n\t\"os\"\n\t\"strings\"\n)\n\nfunc main() {\n\ts := bufio.NewScanner(os.Stdin)\n\tfor s.Scan() {\n\t\tfmt.Println(strings.ToUpper(s.Text()))\n\t}\n}\n",
    )],
    broken: &[("main.go", "package main\n\nfunc main() {\n\tvar x int = \"s\"\n\t_ = x\n}\n")],
    broken_file: "main.go",
    reports_on_stdout: false,
    crash: &[(
        "main.go",
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\ts := []int{}\n\ti := 3\n\tfmt.Println(s[i])\n}\n",
    )],
    crash_ends: Crash::Exit(2),
    crash_says: "index out of range",
    // A package in a subdirectory is imported by its module's path.
    multi: &[
        ("go.mod", "module example.com/multi\n\ngo 1.19\n"),
        ("main.go", "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/multi/greet\"\n)\n\nfunc main() {\n\tfmt.Println(greet.Hello(\"multi\"))\n}\n"),
        ("greet/greet.go", "package greet\n\nfunc Hello(n string) string {\n\treturn \"hello from \" + n\n}\n"),
    ],
    args: &[(
        "main.go",
        "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"strings\"\n)\n\nfunc main() {\n\tfmt.Println(strings.Join(os.Args[1:], \"|\"))\n}\n",
    )],
};

const RUBY: Lang = Lang {
    id: "ruby",
    compiled: false,
    hello: &[("main.rb", "puts \"Hello, world!\"\n")],
    upper: &[("main.rb", "STDIN.each_line do |line|\n  puts line.chomp.upcase\nend\n")],
    broken: &[("main.rb", "def f\n  puts \"never\"\n")],
    broken_file: "main.rb",
    reports_on_stdout: false,
    crash: &[("main.rb", "def f\n  raise ArgumentError, \"boom\"\nend\nf\n")],
    crash_ends: Crash::Exit(1),
    crash_says: "boom (ArgumentError)",
    multi: &[
        ("main.rb", "require_relative \"lib/helper\"\nputs greet(\"multi\")\n"),
        ("lib/helper.rb", "def greet(n)\n  \"hello from #{n}\"\nend\n"),
    ],
    args: &[("main.rb", "puts ARGV.join(\"|\")\n")],
};

async fn run(lang: &Lang, files: &[(&str, &str)], extra: &[(&str, serde_json::Value)]) -> anyhow::Result<JobRun> {
    let server = Server::start_default().await?;
    let mut client = Client::ready(&server).await?;
    let mut params = job(lang.id, files);
    for (key, value) in extra {
        params[*key] = value.clone();
    }
    client.run(params).await
}

fn stage_names(run: &JobRun) -> Vec<String> {
    let stages = run.result()["stages"].as_array().unwrap_or_else(|| panic!("no stages: {}", run.response));
    stages.iter().map(|s| s["name"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn hello_world_prints_exactly(lang: &Lang) -> anyhow::Result<()> {
    let run = run(lang, lang.hello, &[]).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "Hello, world!\n", "{}", run.summary());
    let expected: &[&str] = if lang.compiled { &["build", "run"] } else { &["run"] };
    assert_eq!(stage_names(&run), expected, "{}", run.response);
    Ok(())
}

async fn stdin_is_read_and_echoed_transformed(lang: &Lang) -> anyhow::Result<()> {
    let run = run(lang, lang.upper, &[("stdin", json!("hello\nwörld\n"))]).await?;
    run.assert_exited_ok();
    // Whether `ö` is upper-cased depends on the language and the locale; that
    // it arrives intact, as UTF-8, does not.
    let out = run.stdout();
    assert!(out == "HELLO\nWÖRLD\n" || out == "HELLO\nWöRLD\n", "{}", run.summary());
    Ok(())
}

async fn broken_program_is_reported_with_compiler_text(lang: &Lang) -> anyhow::Result<()> {
    let run = run(lang, lang.broken, &[]).await?;
    let (stream, report) = if lang.reports_on_stdout { ("stdout", run.stdout()) } else { ("stderr", run.stderr()) };
    assert!(report.contains(lang.broken_file), "{stream} should mention {}: {}", lang.broken_file, run.summary());
    let exit_code = run.result()["exitCode"].as_i64();
    assert!(exit_code.is_some_and(|c| c != 0), "expected a nonzero exit code: {}", run.summary());
    if lang.compiled {
        assert_eq!(run.status(), "buildFailed", "{}", run.summary());
        assert_eq!(stage_names(&run), ["build"], "no run stage after a failed build: {}", run.response);
    } else {
        assert_eq!(run.status(), "exited", "{}", run.summary());
    }
    Ok(())
}

async fn runtime_crash_is_reported(lang: &Lang) -> anyhow::Result<()> {
    let run = run(lang, lang.crash, &[]).await?;
    match lang.crash_ends {
        Crash::Signal(signal) => {
            assert_eq!(run.status(), "signal", "{}", run.summary());
            assert_eq!(run.result()["signal"], json!(signal), "{}", run.summary());
            assert_eq!(run.result()["exitCode"], json!(null), "{}", run.summary());
        }
        Crash::Exit(code) => {
            assert_eq!(run.status(), "exited", "{}", run.summary());
            assert_eq!(run.result()["exitCode"], json!(code), "{}", run.summary());
        }
    }
    assert!(run.stderr().contains(lang.crash_says), "stderr should contain {:?}: {}", lang.crash_says, run.summary());
    Ok(())
}

async fn files_in_subdirectories_work_together(lang: &Lang) -> anyhow::Result<()> {
    let run = run(lang, lang.multi, &[]).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "hello from multi\n", "{}", run.summary());
    Ok(())
}

async fn args_reach_the_program(lang: &Lang) -> anyhow::Result<()> {
    let run = run(lang, lang.args, &[("args", json!(["one", "two words", "ünï", ""]))]).await?;
    run.assert_exited_ok();
    assert_eq!(run.stdout(), "one|two words|ünï|\n", "{}", run.summary());
    Ok(())
}

macro_rules! language_tests {
    ($($module:ident => $lang:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            #[tokio::test]
            async fn hello_world_prints_exactly() -> anyhow::Result<()> {
                super::hello_world_prints_exactly(&$lang).await
            }
            #[tokio::test]
            async fn stdin_is_read_and_echoed_transformed() -> anyhow::Result<()> {
                super::stdin_is_read_and_echoed_transformed(&$lang).await
            }
            #[tokio::test]
            async fn broken_program_is_reported_with_compiler_text() -> anyhow::Result<()> {
                super::broken_program_is_reported_with_compiler_text(&$lang).await
            }
            #[tokio::test]
            async fn runtime_crash_is_reported() -> anyhow::Result<()> {
                super::runtime_crash_is_reported(&$lang).await
            }
            #[tokio::test]
            async fn files_in_subdirectories_work_together() -> anyhow::Result<()> {
                super::files_in_subdirectories_work_together(&$lang).await
            }
            #[tokio::test]
            async fn args_reach_the_program() -> anyhow::Result<()> {
                super::args_reach_the_program(&$lang).await
            }
        }
    )*};
}

language_tests! {
    python => PYTHON,
    javascript => JAVASCRIPT,
    c => C,
    cpp => CPP,
    bash => BASH,
    java => JAVA,
    rust => RUST,
    typescript => TYPESCRIPT,
    go => GO,
    ruby => RUBY,
}
