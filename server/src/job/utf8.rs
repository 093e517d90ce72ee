//! A streaming UTF-8 decoder for program output.
//!
//! Output arrives in arbitrary byte chunks. The protocol promises text that
//! is valid UTF-8, never splitting a character between two notifications,
//! with invalid bytes replaced by U+FFFD. The decoder holds back at most the
//! three bytes of an incomplete character at the end of a chunk until the
//! next chunk or the end of the stream.

/// Decodes one stream's chunks into text.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Decodes a chunk, returning every complete character so far.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(bytes);
        let mut out = String::with_capacity(buf.len());
        let mut rest: &[u8] = &buf;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // Safe: from_utf8 said these bytes are valid.
                    out.push_str(std::str::from_utf8(valid).expect("valid prefix"));
                    match e.error_len() {
                        Some(n) => {
                            out.push('\u{FFFD}');
                            rest = &after[n..];
                        }
                        None => {
                            // An incomplete character at the end: keep it.
                            self.pending = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        out
    }

    /// Ends the stream: an incomplete character left over becomes U+FFFD.
    pub fn finish(&mut self) -> String {
        if self.pending.is_empty() {
            String::new()
        } else {
            self.pending.clear();
            "\u{FFFD}".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_split_across_chunks_are_never_split_in_text() {
        let text = "aé€😀z";
        let bytes = text.as_bytes();
        let mut d = Utf8Decoder::default();
        let mut pieces = Vec::new();
        for b in bytes {
            pieces.push(d.push(std::slice::from_ref(b)));
        }
        pieces.push(d.finish());
        assert_eq!(pieces.concat(), text);
        for p in &pieces {
            assert!(p.chars().count() <= 1, "{p:?}");
        }
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(b"a\xffb\xc3(c"), "a\u{FFFD}b\u{FFFD}(c");
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn truncated_character_at_end_of_stream_is_replaced() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(b"x\xe2\x82"), "x");
        assert_eq!(d.finish(), "\u{FFFD}");
    }
}
