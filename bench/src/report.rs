//! The Markdown report: tables, targets, and the machine they were taken on.
//!
//! Each measurement renders its own section with [`Table`] and states its
//! targets as [`Target`]s; [`Report`] puts the machine description, the
//! summary of targets and the sections together in that order.

use std::{fs, process::Command};

/// A Markdown table.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table { header: header.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out += &line(&self.header.iter().map(|_| "---".to_owned()).collect::<Vec<_>>());
        for row in &self.rows {
            out += &line(row);
        }
        out
    }
}

/// One target of issue 2, section 8, and whether this run met it.
pub struct Target {
    pub what: String,
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// The whole report, built section by section.
pub struct Report {
    pub context: Vec<(String, String)>,
    pub targets: Vec<Target>,
    pub sections: Vec<String>,
}

impl Report {
    pub fn new() -> Report {
        Report { context: machine(), targets: Vec::new(), sections: Vec::new() }
    }

    pub fn render(&self) -> String {
        let mut out = String::from("## Run\n\n");
        let mut context = Table::new(&["", ""]);
        for (k, v) in &self.context {
            context.row(vec![k.clone(), v.clone()]);
        }
        out += &context.render();
        out += "\n## Targets\n\n";
        let mut targets = Table::new(&["what", "target", "measured", "met"]);
        for t in &self.targets {
            let met = if t.met { "yes" } else { "**no**" };
            targets.row(vec![t.what.clone(), t.target.clone(), t.measured.clone(), met.to_owned()]);
        }
        out += &targets.render();
        for section in &self.sections {
            out += "\n";
            out += section;
        }
        out
    }
}

/// What the figures depend on: CPUs, kernel, CPU model, memory, date.
fn machine() -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|m| m.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "unknown".to_owned());
    vec![
        ("date (UTC)".to_owned(), output(&["date", "-u", "+%Y-%m-%d %H:%M"])),
        ("CPUs (`nproc`)".to_owned(), output(&["nproc"])),
        ("CPU".to_owned(), model),
        ("memory".to_owned(), memory),
        ("kernel (`uname -r`)".to_owned(), output(&["uname", "-r"])),
        ("load average before the run".to_owned(), load_average()),
    ]
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// A command's stdout, trimmed, or `unknown`.
pub fn output(argv: &[&str]) -> String {
    Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Bytes as MB (10^6 bytes) with one decimal.
pub fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_renders_markdown() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["1".into(), "2".into()]);
        assert_eq!(t.render(), "| a | b |\n| --- | --- |\n| 1 | 2 |\n");
    }
}
