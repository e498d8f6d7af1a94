//! Bytes to text, one read at a time: the UTF-8 check runs once over each
//! read, invalid bytes become replacement characters, and a character that
//! the end of a read cuts in two is completed by the next read.
//!
//! Lines end at ASCII bytes, which never lie inside a character or an
//! invalid sequence, so decoding the stream before cutting it into lines
//! gives the same text as decoding each line on its own.

/// The start of a character that the last read cut off.
#[derive(Debug, Default)]
pub(super) struct Decoder {
    /// At most three bytes: a lead byte and the continuation bytes so far.
    cut: Vec<u8>,
}

impl Decoder {
    /// Forgets a cut character, for a new body.
    pub(super) fn reset(&mut self) {
        self.cut.clear();
    }

    /// At the end of input: appends a cut character, as the replacement
    /// character it is now; `false` if there was none.
    pub(super) fn finish(&mut self, out: &mut String) -> bool {
        if self.cut.is_empty() {
            return false;
        }
        out.push_str(&String::from_utf8_lossy(&self.cut));
        self.cut.clear();
        true
    }

    /// Appends `bytes` to `out` as text.
    pub(super) fn decode(&mut self, bytes: &[u8], out: &mut String) {
        let bytes = self.complete_cut(bytes, out);
        let (whole, cut) = bytes.split_at(bytes.len() - cut_at_end(bytes));
        match std::str::from_utf8(whole) {
            Ok(text) => out.push_str(text),
            Err(_) => out.push_str(&String::from_utf8_lossy(whole)),
        }
        self.cut.extend_from_slice(cut);
    }

    /// Completes the cut character with the continuation bytes that begin
    /// `bytes`, and returns the rest. A character still incomplete at the
    /// end of `bytes` stays cut.
    fn complete_cut<'a>(&mut self, mut bytes: &'a [u8], out: &mut String) -> &'a [u8] {
        let Some(&lead) = self.cut.first() else {
            return bytes;
        };
        let len = char_len(lead);
        while self.cut.len() < len {
            match bytes.split_first() {
                Some((&b, rest)) if is_continuation(b) => {
                    self.cut.push(b);
                    bytes = rest;
                }
                Some(_) => break,
                None => return bytes,
            }
        }
        // Whole or not, the character ends here: decode it as the whole
        // stream would have been decoded.
        out.push_str(&String::from_utf8_lossy(&self.cut));
        self.cut.clear();
        bytes
    }
}

/// How many bytes at the end of `bytes` begin a character that does not
/// end there: 0 to 3.
fn cut_at_end(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if !is_continuation(b) {
            return if char_len(b) > back { back } else { 0 };
        }
    }
    0
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// The length of the character that `lead` begins; 1 for ASCII and for a
/// byte that begins none (decoded as invalid where it stands).
fn char_len(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `bytes` read in pieces of `size`.
    fn decode_in(bytes: &[u8], size: usize) -> String {
        let mut decoder = Decoder::default();
        let mut out = String::new();
        for piece in bytes.chunks(size) {
            decoder.decode(piece, &mut out);
        }
        decoder.finish(&mut out);
        out
    }

    #[test]
    fn any_split_decodes_as_the_whole() {
        let inputs: [&[u8]; 6] = [
            "Zürich 東京 🦀 done".as_bytes(),
            b"a\xFFb\xC3\nc",
            b"\xE2\x82\n\xF0\x9F\x98",
            b"\xE0\x80\x80 \xED\xA0\x80 \xF4\x90\x80\x80",
            b"\xC0\xAF\xF8\x88\x80\x80\x80",
            b"\xEF\xBB\xBF\xEF\xBB",
        ];
        for input in inputs {
            let whole = String::from_utf8_lossy(input);
            assert_eq!(decode_in(input, input.len()), whole);
            for size in 1..=5 {
                assert_eq!(decode_in(input, size), whole, "{input:?} in {size}s");
            }
        }
    }

    #[test]
    fn a_cut_character_waits_for_the_next_read() {
        let mut decoder = Decoder::default();
        let mut out = String::new();
        decoder.decode(b"ab\xF0\x9F", &mut out);
        assert_eq!(out, "ab");
        decoder.decode(b"\x98", &mut out);
        assert_eq!(out, "ab");
        decoder.decode(b"\x80c", &mut out);
        assert_eq!(out, "ab\u{1F600}c");
        decoder.decode(b"\xE2\x82", &mut out);
        assert!(decoder.finish(&mut out));
        assert!(!decoder.finish(&mut out));
        assert_eq!(out, "ab\u{1F600}c\u{FFFD}");
        decoder.decode(b"\xC3", &mut out);
        decoder.reset();
        decoder.decode(b"\xA9", &mut out);
        assert_eq!(out, "ab\u{1F600}c\u{FFFD}\u{FFFD}");
    }
}
