//! A stage's output on its way from the runner to the client: bytes
//! decoded into text per stream ([`Utf8Decoder`]), then read for
//! diagnostics ([`StageParser`]) when the stage's program has a known
//! message format.
//!
//! The driver feeds every `Output` frame to [`StageOutput::push`] and emits
//! the events it returns, in order: the text first, then the diagnostics it
//! completed. At the stage's end, [`StageOutput::finish`] flushes what the
//! decoders and the parser still hold, before the stage's outcome.

use super::{
    diagnostics::{Parsed, StageParser},
    utf8::Utf8Decoder,
    JobEvent, OutStream,
};

/// One stage's output pipeline.
pub struct StageOutput {
    decoders: [Utf8Decoder; 2],
    diagnostics: Option<StageParser>,
}

impl StageOutput {
    pub fn new(diagnostics: Option<StageParser>) -> StageOutput {
        StageOutput { decoders: Default::default(), diagnostics }
    }

    /// The events a chunk of a stream's bytes gives.
    pub fn push(&mut self, stream: OutStream, bytes: &[u8]) -> Vec<JobEvent> {
        let text = self.decoders[index(stream)].push(bytes);
        self.text(stream, text)
    }

    /// Ends the stage's streams: the events of what was held back.
    pub fn finish(&mut self) -> Vec<JobEvent> {
        let mut events = Vec::new();
        for stream in [OutStream::Stdout, OutStream::Stderr] {
            let rest = self.decoders[index(stream)].finish();
            events.extend(self.text(stream, rest));
        }
        if let Some(parser) = &mut self.diagnostics {
            let (stream, parsed) = parser.finish();
            events.extend(into_events(stream, parsed));
        }
        events
    }

    fn text(&mut self, stream: OutStream, text: String) -> Vec<JobEvent> {
        if text.is_empty() {
            return Vec::new();
        }
        match &mut self.diagnostics {
            Some(parser) => into_events(stream, parser.push(stream, text)),
            None => vec![JobEvent::Output(stream, text)],
        }
    }
}

fn index(stream: OutStream) -> usize {
    match stream {
        OutStream::Stdout => 0,
        OutStream::Stderr => 1,
    }
}

fn into_events(stream: OutStream, parsed: Parsed) -> Vec<JobEvent> {
    let mut events = Vec::with_capacity(2);
    if !parsed.text.is_empty() {
        events.push(JobEvent::Output(stream, parsed.text));
    }
    if !parsed.diagnostics.is_empty() {
        events.push(JobEvent::Diagnostics(parsed.diagnostics));
    }
    events
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::job::{
        diagnostics::{Caps, Sources},
        JobFile,
    };

    #[test]
    fn without_a_parser_output_is_only_decoded() {
        let mut o = StageOutput::new(None);
        assert_eq!(o.push(OutStream::Stdout, b"a\xc3"), vec![JobEvent::Output(OutStream::Stdout, "a".into())]);
        assert_eq!(o.push(OutStream::Stderr, b""), vec![]);
        assert_eq!(o.finish(), vec![JobEvent::Output(OutStream::Stdout, "\u{FFFD}".into())]);
    }

    #[test]
    fn a_diagnostic_follows_the_text_that_completes_it() {
        let files = [JobFile { path: "main.py".into(), content: b"print(x)\n".to_vec() }];
        let parser = StageParser::for_command(
            &["python3".into(), "main.py".into()],
            None,
            Arc::new(Sources::new(&files)),
            Caps::default(),
        );
        let mut o = StageOutput::new(parser);
        let head = "Traceback (most recent call last):\n  File \"/work/main.py\", line 1, in <module>\n    print(x)\n";
        assert_eq!(o.push(OutStream::Stderr, head.as_bytes()), vec![JobEvent::Output(OutStream::Stderr, head.into())]);
        let events = o.push(OutStream::Stderr, b"NameError: name 'x' is not defined");
        assert_eq!(events, vec![JobEvent::Output(OutStream::Stderr, "NameError: name 'x' is not defined".into())]);
        // The last line has no line feed: it is read at the end.
        let events = o.finish();
        assert_eq!(events.len(), 1, "{events:?}");
        let JobEvent::Diagnostics(ds) = &events[0] else { panic!("{events:?}") };
        assert_eq!((ds[0].start, ds[0].end, ds[0].code.as_deref()), ((0, 0), (0, 8), Some("NameError")));
    }
}
