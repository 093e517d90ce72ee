//! Which toolchain's parser reads a stage, and the dispatch to it.
//!
//! The parser is chosen by the program the stage runs, `argv[0]` without its
//! directory and version (`gcc`, `g++-12`, `python3.11`), so that flags and
//! a replaced catalog do not matter; a program the build made (`./main`) is
//! known by the build's compiler. The parsers are a closed enum: a new
//! toolchain is a new variant and a new file.

use super::{
    bash, gcc, go, go_panic, java, javac, node, python, ruby, rust_panic, rustc, tsc, Diagnostic, OutStream, Sources,
};

/// The parser of one toolchain's messages.
pub(super) enum Parser {
    Gcc(gcc::Gcc),
    Rustc(rustc::Rustc),
    Javac(javac::Javac),
    Go(go::Go),
    Tsc(tsc::Tsc),
    Python(python::Python),
    Node(node::Node),
    Ruby(ruby::Ruby),
    Bash(bash::Bash),
    Java(java::Java),
    RustPanic(rust_panic::RustPanic),
    GoPanic(go_panic::GoPanic),
}

impl Parser {
    /// The parser for a stage that runs `argv`, if its program has one. A
    /// program the build made (`./main`) is known by the build's compiler,
    /// `build`.
    pub(super) fn for_command(argv: &[String], build: Option<&[String]>) -> Option<Parser> {
        let program = argv.first()?;
        let name = program.rsplit('/').next().unwrap_or(program);
        // `gcc`, `g++-12`, `x86_64-linux-gnu-gcc-12`: the name without a version.
        let unversioned = match name.rsplit_once('-') {
            Some((base, version)) if version.bytes().all(|b| b.is_ascii_digit()) => base,
            _ => name,
        };
        let parser = match name {
            "cc" | "c++" => Parser::Gcc(gcc::Gcc::new(argv)),
            _ if ["gcc", "g++"].iter().any(|g| unversioned == *g || unversioned.ends_with(&format!("-{g}"))) => {
                Parser::Gcc(gcc::Gcc::new(argv))
            }
            "rustc" => Parser::Rustc(rustc::Rustc),
            "javac" => Parser::Javac(javac::Javac::default()),
            "go" => Parser::Go(go::Go::new(argv)),
            "tsc" => Parser::Tsc(tsc::Tsc::default()),
            "node" | "nodejs" => Parser::Node(node::Node::default()),
            "ruby" => Parser::Ruby(ruby::Ruby::default()),
            "bash" => Parser::Bash(bash::Bash),
            "java" => Parser::Java(java::Java::default()),
            _ if name == "python" || name.starts_with("python3") => Parser::Python(python::Python::default()),
            _ => {
                let compiler = build?.first()?;
                match compiler.rsplit('/').next().unwrap_or(compiler) {
                    "rustc" => Parser::RustPanic(rust_panic::RustPanic::default()),
                    "go" => Parser::GoPanic(go_panic::GoPanic::default()),
                    _ => return None,
                }
            }
        };
        Some(parser)
    }

    /// The stream the tool reports on.
    pub(super) fn stream(&self) -> OutStream {
        match self {
            Parser::Tsc(_) => OutStream::Stdout,
            _ => OutStream::Stderr,
        }
    }

    /// Whether the parser replaces its stream's text, and so must see each
    /// line before it is forwarded.
    pub(super) fn rewrites(&self) -> bool {
        matches!(self, Parser::Rustc(_))
    }

    /// Reads one line (without its line ending). A rewriting parser returns
    /// the text to forward in its place, line ending included.
    pub(super) fn line(&mut self, line: &str, src: &Sources, out: &mut Vec<Diagnostic>) -> Option<String> {
        match self {
            Parser::Gcc(p) => p.line(line, src, out),
            Parser::Rustc(p) => return p.line(line, src, out),
            Parser::Javac(p) => p.line(line, src, out),
            Parser::Go(p) => p.line(line, src, out),
            Parser::Tsc(p) => p.line(line, src, out),
            Parser::Python(p) => p.line(line, src, out),
            Parser::Node(p) => p.line(line, src, out),
            Parser::Ruby(p) => p.line(line, src, out),
            Parser::Bash(p) => p.line(line, src, out),
            Parser::Java(p) => p.line(line, src, out),
            Parser::RustPanic(p) => p.line(line, src, out),
            Parser::GoPanic(p) => p.line(line, src, out),
        }
        None
    }

    /// The stream ended: flush a message still waiting for more lines.
    pub(super) fn finish(&mut self, src: &Sources, out: &mut Vec<Diagnostic>) {
        match self {
            Parser::Gcc(p) => p.finish(src, out),
            Parser::Rustc(_) | Parser::Go(_) | Parser::Bash(_) | Parser::Java(_) | Parser::GoPanic(_) => {}
            Parser::RustPanic(p) => p.finish(src, out),
            Parser::Javac(p) => p.finish(src, out),
            Parser::Tsc(p) => p.finish(src, out),
            Parser::Python(p) => p.finish(src, out),
            Parser::Node(p) => p.finish(src, out),
            Parser::Ruby(p) => p.finish(src, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::job::diagnostics::{Caps, StageParser};

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_program_of_a_stage_chooses_its_parser() {
        let s = Arc::new(Sources::default());
        for (words, parser) in [
            (&["gcc", "-o", "main", "main.c"][..], "gcc"),
            (&["/usr/bin/g++", "main.cpp"][..], "gcc"),
            (&["x86_64-linux-gnu-gcc-12", "main.c"][..], "gcc"),
            (&["rustc", "main.rs"][..], "rustc"),
            (&["javac", "Main.java"][..], "javac"),
            (&["go", "build", "."][..], "go"),
            (&["tsc", "main.ts"][..], "tsc"),
            (&["python3", "-u", "main.py"][..], "python"),
            (&["python3.11", "main.py"][..], "python"),
            (&["node", "main.js"][..], "node"),
            (&["ruby", "main.rb"][..], "ruby"),
            (&["bash", "main.sh"][..], "bash"),
            (&["java", "-cp", ".", "Main"][..], "java"),
        ] {
            let p = StageParser::for_command(&argv(words), None, s.clone(), Caps::default())
                .unwrap_or_else(|| panic!("{words:?}"));
            assert_eq!(name(&p.parser), parser, "{words:?}");
        }
        for words in [&["./main"][..], &["sh", "main.sh"][..], &["javaw", "Main"][..], &[][..]] {
            assert!(StageParser::for_command(&argv(words), None, s.clone(), Caps::default()).is_none(), "{words:?}");
        }
        // A program the build made is known by its compiler.
        for (build, parser) in [("rustc", Some("rust panic")), ("go", Some("go panic")), ("gcc", None)] {
            let p =
                StageParser::for_command(&argv(&["./main"]), Some(&argv(&[build, "x"])), s.clone(), Caps::default());
            assert_eq!(p.map(|p| name(&p.parser)), parser, "{build}");
        }
    }

    fn name(p: &Parser) -> &'static str {
        match p {
            Parser::Gcc(_) => "gcc",
            Parser::Rustc(_) => "rustc",
            Parser::Javac(_) => "javac",
            Parser::Go(_) => "go",
            Parser::Tsc(_) => "tsc",
            Parser::Python(_) => "python",
            Parser::Node(_) => "node",
            Parser::Ruby(_) => "ruby",
            Parser::Bash(_) => "bash",
            Parser::Java(_) => "java",
            Parser::RustPanic(_) => "rust panic",
            Parser::GoPanic(_) => "go panic",
        }
    }

    #[test]
    fn every_language_of_the_builtin_catalog_has_parsers_for_its_stages() {
        // (language, build stage's parser, run stage's parser)
        let expected = [
            ("python", None, Some("python")),
            ("javascript", None, Some("node")),
            ("c", Some("gcc"), None),
            ("cpp", Some("gcc"), None),
            ("bash", None, Some("bash")),
            ("java", Some("javac"), Some("java")),
            ("rust", Some("rustc"), Some("rust panic")),
            ("typescript", Some("tsc"), Some("node")),
            ("go", Some("go"), Some("go panic")),
            ("ruby", None, Some("ruby")),
        ];
        let defs = crate::catalog::Catalog::parse(crate::catalog::BUILTIN).unwrap();
        for def in &defs {
            let Some((_, build, run)) = expected.iter().find(|(id, _, _)| *id == def.id) else {
                panic!("language {:?} is new: decide which parsers read its stages, and add it here", def.id)
            };
            let parser = |cmd: &[String], b| Parser::for_command(cmd, b).map(|p| name(&p));
            assert_eq!(def.build.as_deref().and_then(|b| parser(b, None)), *build, "{}'s build", def.id);
            assert_eq!(parser(&def.run, def.build.as_deref()), *run, "{}'s run", def.id);
        }
        // rustc prints JSON only when asked; without it there is only text.
        let rust = defs.iter().find(|d| d.id == "rust").unwrap();
        assert!(rust.build.as_ref().unwrap().iter().any(|w| w == "--error-format=json"));
    }
}
