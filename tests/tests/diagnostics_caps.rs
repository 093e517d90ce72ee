//! The bounds on what the diagnostics parsers hold and send, set in the
//! server's configuration (`[diagnostics]`): a program that prints a flood
//! of lookalike tracebacks gets at most `max_per_stage` diagnostics, and a
//! line longer than `max_line_bytes` streams on unread, while all of the
//! program's text still reaches the client.

use coderun_tests::{programs::job, Client, Server, ServerOptions};
use serde_json::Value;

fn diagnostics(notifications: &[Value]) -> Vec<Value> {
    notifications
        .iter()
        .filter(|n| n["method"] == "job/diagnostics")
        .flat_map(|n| n["params"]["diagnostics"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// 50 distinct uncaught-exception lookalikes on stderr, then a real one:
/// with `max_per_stage = 3`, three diagnostics arrive and every line of
/// stderr still does.
#[tokio::test]
async fn a_stage_sends_no_more_diagnostics_than_the_configured_cap() -> anyhow::Result<()> {
    let server =
        Server::start(ServerOptions::default().config("[diagnostics]\nmax_per_stage = 3\nmax_line_bytes = 65536\n"))
            .await?;
    let mut client = Client::ready(&server).await?;
    let code = "import sys\n\
        for i in range(50):\n    \
            sys.stderr.write('Traceback (most recent call last):\\n  File \"/work/main.py\", line 1, in <module>\\n    import sys\\nValueError: fake %d\\n' % i)\n\
        raise RuntimeError('the real one')\n";
    let run = client.run(job("python", &[("main.py", code)])).await?;
    assert_eq!(run.status(), "exited", "{}", run.summary());
    let found = diagnostics(&run.notifications);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found.iter().all(|d| d["code"] == "ValueError"), "{found:?}");
    let stderr = run.stderr();
    assert_eq!(stderr.matches("ValueError: fake").count(), 50, "{}", run.summary());
    assert!(stderr.contains("RuntimeError: the real one"), "{}", run.summary());
    Ok(())
}

/// A traceback whose message line is longer than `max_line_bytes` is not
/// read (no diagnostic), but streams whole; the next one is read again.
#[tokio::test]
async fn a_line_past_the_configured_length_streams_unread() -> anyhow::Result<()> {
    let server = Server::start(ServerOptions::default().config("[diagnostics]\nmax_line_bytes = 1024\n")).await?;
    let mut client = Client::ready(&server).await?;
    let code = "import sys\n\
        sys.stderr.write('Traceback (most recent call last):\\n  File \"/work/main.py\", line 1, in <module>\\n    import sys\\nValueError: ' + 'x' * 4000 + '\\n')\n\
        raise KeyError('short')\n";
    let run = client.run(job("python", &[("main.py", code)])).await?;
    assert_eq!(run.status(), "exited", "{}", run.summary());
    let found = diagnostics(&run.notifications);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["code"], "KeyError", "{found:?}");
    assert!(run.stderr().contains(&"x".repeat(4000)), "the long line did not stream whole");
    Ok(())
}
