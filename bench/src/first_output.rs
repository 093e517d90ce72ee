//! First-output latency: from a program's write to the reader's receipt.
//!
//! The program ([`programs::first_output`]) stamps each line with the wall
//! clock (`time.time_ns()`, CLOCK_REALTIME) just before writing it, and
//! sleeps 300 ms between its two lines. The reader takes its own wall clock
//! (`SystemTime::now()`) the moment the chunk that completes the first line
//! arrives: over coderun, the `job/output` frame off the WebSocket; in the
//! baseline, a `read` on the bare pipe of the same program spawned by the
//! bench. Latency is receipt minus stamp. Streaming works only if the first
//! line arrived before the second was stamped, which is checked too. Both
//! clocks are the host's: the sandbox has no time namespace, and
//! CLOCK_REALTIME is not namespaced anyway.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use crate::{
    client::Session,
    host::Scratch,
    programs,
    report::{Table, Target},
    stats::{ms, rank_note, Summary},
};

/// The target of issue 2: p99 from write to receipt.
const P99_TARGET: Duration = Duration::from_millis(10);

/// One path's figures.
pub struct Path {
    pub latency: Summary,
    /// Runs whose first line arrived before the second line was stamped.
    pub streamed: usize,
    pub runs: usize,
}

pub struct FirstOutputResult {
    pub coderun: Path,
    pub bare: Path,
}

/// One run, read back from its timed chunks.
struct Sample {
    latency: Duration,
    streamed: bool,
}

/// Measures `runs` runs of each path, alternating.
pub async fn measure(session: &mut Session, scratch: &Scratch, runs: usize) -> Result<FirstOutputResult> {
    eprintln!("first-output latency: {runs} runs");
    let program = programs::first_output();
    let params = program.run_params();
    let (mut coderun, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let trace = session.run(&params).await?;
        coderun.push(analyse(&trace.stdout).with_context(|| format!("coderun's run: {:?}", trace.result))?);
        let host = scratch.run(&program).await?;
        bare.push(analyse(&host.stdout).context("the bare pipe's run")?);
    }
    let path = |samples: Vec<Sample>| Path {
        runs: samples.len(),
        streamed: samples.iter().filter(|s| s.streamed).count(),
        latency: Summary::new(samples.iter().map(|s| s.latency).collect()),
    };
    Ok(FirstOutputResult { coderun: path(coderun), bare: path(bare) })
}

/// Finds the two stamped lines in the chunks and times the first.
fn analyse(chunks: &[(SystemTime, String)]) -> Result<Sample> {
    let mut text = String::new();
    let mut first: Option<(SystemTime, i128)> = None;
    let mut second: Option<i128> = None;
    for (arrived, chunk) in chunks {
        text.push_str(chunk);
        // A line counts as received with the chunk that brings its newline.
        while let Some(end) = text.find('\n') {
            let line: String = text.drain(..=end).collect();
            let mut words = line.split_whitespace();
            let (Some(tag), Some(stamp)) = (words.next(), words.next().and_then(|s| s.parse::<i128>().ok())) else {
                continue;
            };
            match tag {
                "first" if first.is_none() => first = Some((*arrived, stamp)),
                "second" => second = Some(stamp),
                _ => {}
            }
        }
    }
    let (Some((arrived, first_stamp)), Some(second_stamp)) = (first, second) else {
        bail!("the program's two stamped lines did not both arrive: {chunks:?}");
    };
    let arrived = arrived.duration_since(UNIX_EPOCH).context("clock before 1970")?.as_nanos() as i128;
    // A negative difference would mean the clocks disagree; count it as zero.
    let latency = Duration::from_nanos((arrived - first_stamp).max(0) as u64);
    Ok(Sample { latency, streamed: arrived < second_stamp })
}

/// The section of the report, and its targets.
pub fn section(r: &FirstOutputResult) -> (String, Vec<Target>) {
    let mut out = format!(
        "## First-output latency\n\n{} runs of a Python program that prints `first <time_ns>`, sleeps \
         300 ms and prints `second <time_ns>`; latency is the reader's wall clock when the first \
         line arrives minus the stamp written just before it. Over coderun the reader is the \
         WebSocket client (`job/output`); the baseline is the same program spawned by the bench \
         and read through a bare pipe. {} Times in ms.\n\n",
        r.coderun.runs,
        rank_note(r.coderun.runs)
    );
    let mut table = Table::new(&[
        "reader",
        "p50",
        "p99",
        "max",
        "runs over 10 ms",
        "first line seen before the second was written",
    ]);
    for (name, p) in [("coderun, over the WebSocket", &r.coderun), ("bare pipe", &r.bare)] {
        table.row(vec![
            name.to_owned(),
            ms(p.latency.p50()),
            ms(p.latency.p99()),
            ms(p.latency.max()),
            format!("{}/{}", p.latency.count_over(P99_TARGET), p.runs),
            format!("{}/{}", p.streamed, p.runs),
        ]);
    }
    out += &table.render();
    let targets = vec![
        Target {
            what: "first-output latency, write to receipt, p99".to_owned(),
            target: format!("< {} ms", P99_TARGET.as_millis()),
            measured: format!("{} ms (bare pipe: {} ms)", ms(r.coderun.latency.p99()), ms(r.bare.latency.p99())),
            met: r.coderun.latency.p99() < P99_TARGET,
        },
        Target {
            what: "first line seen before the second is printed".to_owned(),
            target: "every run".to_owned(),
            measured: format!("{}/{}", r.coderun.streamed, r.coderun.runs),
            met: r.coderun.streamed == r.coderun.runs,
        },
    ];
    (out, targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(nanos: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    #[test]
    fn a_line_split_across_chunks_counts_from_its_newline() {
        let chunks = vec![
            (at(1_000), "fir".to_owned()),
            (at(3_000), "st 500\n".to_owned()),
            (at(9_000), "second 8000\n".to_owned()),
        ];
        let s = analyse(&chunks).unwrap();
        assert_eq!(s.latency, Duration::from_nanos(2_500));
        assert!(s.streamed);
    }

    #[test]
    fn both_lines_in_one_chunk_did_not_stream() {
        let chunks = vec![(at(9_000), "first 500\nsecond 8000\n".to_owned())];
        assert!(!analyse(&chunks).unwrap().streamed);
    }
}
