//! Feeds arbitrary bytes through `SseReader` with a small size cap, whole and
//! in reads of several sizes: it must never panic, and every way of reading
//! must give the same events.

#![no_main]

use std::io::{self, BufRead, Read};

use libfuzzer_sys::fuzz_target;
use zaby::sse::SseReader;

/// Hands out the input in reads whose sizes cycle through `sizes`.
struct Chunked<'a> {
    data: &'a [u8],
    pos: usize,
    sizes: &'a [u8],
    turn: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.read(buf)?;
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Chunked<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let size = usize::from(self.sizes[self.turn % self.sizes.len()]).max(1);
        let end = self.data.len().min(self.pos + size);
        Ok(&self.data[self.pos..end])
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt;
        self.turn += 1;
    }
}

fn read_all<R: BufRead>(reader: R, cap: usize) -> Vec<Result<zaby::SseEvent, String>> {
    SseReader::new(reader)
        .with_max_event_size(cap)
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

fuzz_target!(|input: &[u8]| {
    // The first bytes choose the cap and the read sizes; the rest is the stream.
    let Some((&cap, rest)) = input.split_first() else {
        return;
    };
    let cap = usize::from(cap) * 4;
    let (sizes, data) = rest.split_at(rest.len().min(4));
    let whole = read_all(data, cap);
    for sizes in [&[1u8][..], &[2, 3, 7], sizes] {
        if sizes.is_empty() {
            continue;
        }
        let chunked = Chunked {
            data,
            pos: 0,
            sizes,
            turn: 0,
        };
        assert_eq!(read_all(chunked, cap), whole);
    }
});
