//! The programs the benchmarks run, and how the host runs each directly.
//!
//! One [`Program`] is sent to coderun as a `run` and spawned on the host as
//! the baseline, so both sides run the same files with the same commands.
//! The host commands copy the server's catalog
//! (`server/src/catalog/languages.toml`): the same interpreter flags, the
//! same compiler flags, the same environment. The report prints them, so a
//! drift from the catalog shows.

use coderun_protocol::{FileParam, RunParams};

/// A program: its files, and the steps that run it on the host.
#[derive(Debug, Clone)]
pub struct Program {
    /// The catalog's language id.
    pub language: &'static str,
    /// `(path, content)` pairs.
    pub files: Vec<(&'static str, String)>,
    /// Commands run one after the other in the job's directory; each must
    /// succeed. Compiled languages have a build step first.
    pub host_steps: Vec<Vec<&'static str>>,
    /// Environment the catalog sets for the language.
    pub env: Vec<(&'static str, &'static str)>,
}

/// The catalog's Python environment: unbuffered, no bytecode files.
const PYTHON_ENV: [(&str, &str); 3] =
    [("PYTHONUNBUFFERED", "1"), ("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONIOENCODING", "utf-8")];

impl Program {
    /// A Python program in `main.py`, run as the catalog runs it.
    pub fn python(source: &str) -> Program {
        Program {
            language: "python",
            files: vec![("main.py", source.to_owned())],
            host_steps: vec![vec!["python3", "-u", "main.py"]],
            env: PYTHON_ENV.to_vec(),
        }
    }

    /// A C program in `main.c`, built and run as the catalog does.
    pub fn c(source: &str) -> Program {
        Program {
            language: "c",
            files: vec![("main.c", source.to_owned())],
            host_steps: vec![
                vec![
                    "gcc",
                    "-std=gnu17",
                    "-O2",
                    "-Wall",
                    "-Wextra",
                    "-fdiagnostics-color=never",
                    "-o",
                    "main",
                    "main.c",
                    "-lm",
                ],
                vec!["./main"],
            ],
            env: Vec::new(),
        }
    }

    /// The `run` params that send this program to coderun.
    pub fn run_params(&self) -> RunParams {
        RunParams {
            language: self.language.to_owned(),
            files: self
                .files
                .iter()
                .map(|(path, content)| FileParam { path: (*path).to_owned(), content: content.clone(), encoding: None })
                .collect(),
            entry: None,
            args: None,
            stdin: None,
            interactive: None,
            limits: None,
        }
    }

    /// The host steps as one shell-like line, for the report.
    pub fn host_command(&self) -> String {
        self.host_steps.iter().map(|step| step.join(" ")).collect::<Vec<_>>().join(" && ")
    }
}

/// `print("hello")`.
pub fn hello_python() -> Program {
    Program::python("print(\"hello\")\n")
}

/// The C hello world; coderun compiles it on every run, and so does the baseline.
pub fn hello_c() -> Program {
    Program::c("#include <stdio.h>\n\nint main(void) {\n    printf(\"hello\\n\");\n    return 0;\n}\n")
}

/// Prints `first <time_ns>` with the wall clock (CLOCK_REALTIME) read just
/// before the write, sleeps 300 ms, then prints `second <time_ns>` the same
/// way. The reader compares its own clock on receipt with the first stamp,
/// and checks it had the first line before the second stamp.
pub fn first_output() -> Program {
    Program::python(
        "import sys, time\n\
         out = sys.stdout\n\
         out.write(f\"first {time.time_ns()}\\n\")\n\
         out.flush()\n\
         time.sleep(0.3)\n\
         out.write(f\"second {time.time_ns()}\\n\")\n\
         out.flush()\n",
    )
}

/// The job the throughput clients run in a loop.
pub fn trivial() -> Program {
    Program::python("print(\"hi\")\n")
}
