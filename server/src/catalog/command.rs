//! Expansion of a catalog command template into the argv of a stage.

/// The values a template's placeholders stand for.
#[derive(Debug, Clone, Default)]
pub struct Placeholders {
    pub entry: String,
    pub sources: Vec<String>,
    pub args: Vec<String>,
    pub memory_bytes: u64,
}

/// Expands a command template. `{sources}` and `{args}` must stand alone as
/// a word and become zero or more words; the other placeholders may appear
/// inside a word. A student's arguments are never parsed: each is one word.
pub fn expand(template: &[String], p: &Placeholders) -> Vec<String> {
    let stem = std::path::Path::new(&p.entry).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut argv = Vec::with_capacity(template.len() + p.args.len() + p.sources.len());
    for word in template {
        match word.as_str() {
            "{sources}" => argv.extend(p.sources.iter().cloned()),
            "{args}" => argv.extend(p.args.iter().cloned()),
            _ => argv.push(
                word.replace("{entry_stem}", &stem)
                    .replace("{entry}", &p.entry)
                    .replace("{memory_bytes}", &p.memory_bytes.to_string()),
            ),
        }
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn placeholders_expand_to_words() {
        let p = Placeholders {
            entry: "pkg/Main.java".into(),
            sources: words(&["a.java", "pkg/Main.java"]),
            args: words(&["x y", "{entry}"]),
            memory_bytes: 42,
        };
        let got = expand(&words(&["javac", "-J-XX:MaxRAM={memory_bytes}", "{sources}", "{entry_stem}", "{args}"]), &p);
        assert_eq!(got, words(&["javac", "-J-XX:MaxRAM=42", "a.java", "pkg/Main.java", "Main", "x y", "{entry}"]));
    }

    #[test]
    fn empty_args_vanish() {
        let p = Placeholders { entry: "main.py".into(), ..Default::default() };
        assert_eq!(expand(&words(&["python3", "{entry}", "{args}"]), &p), words(&["python3", "main.py"]));
    }
}
