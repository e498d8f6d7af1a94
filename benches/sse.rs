//! The Server-Sent Events parser on its own, over any reader.
//!
//! Each group reads one stream three ways, with throughput counted in bytes of
//! the stream for all three: the parser, a baseline that only finds the line
//! ends, and a baseline that only decodes the JSON payloads (already cut out).
//!
//! Before criterion starts, the W1 ratio is measured on its own and printed
//! on a line of its own: the parser and the JSON-only baseline timed in turn, round
//! after round, in CPU time, so that load from other processes falls on both
//! alike; the median round is quoted. A second line gives the floor: the
//! least any parser of these bytes does (find the lines, check UTF-8, cut out
//! the payloads, own the ids) besides the same decode. See `benches/README.md`.

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group};
use serde_json::Value;
use zaby::sse::SseReader;

/// A stream and its data payloads.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    payloads: Vec<String>,
    /// Read through a `BufReader` of this capacity instead of the whole slice.
    read_size: Option<usize>,
}

/// W1: 200,000 AG-UI text deltas of about 100 bytes, each with an id.
fn text_deltas() -> Case {
    let mut bytes = Vec::new();
    let mut payloads = Vec::new();
    for i in 0..200_000 {
        let payload = format!(
            r#"{{"type":"TEXT_MESSAGE_CONTENT","messageId":"m1","delta":"token {:<6} of text"}}"#,
            i
        );
        bytes.extend(format!("id: {i}\ndata: {payload}\n\n").bytes());
        payloads.push(payload);
    }
    Case {
        name: "text_deltas_200k",
        bytes,
        payloads,
        read_size: None,
    }
}

/// 20 events of 1 MiB, read 1 KiB at a time.
fn big_events() -> Case {
    let mut bytes = Vec::new();
    let mut payloads = Vec::new();
    for i in 0..20 {
        let head = format!(r#"{{"type":"TEXT_MESSAGE_CONTENT","messageId":"m{i}","delta":""#);
        let fill = (1 << 20) - head.len() - 2 - "data: \n\n".len();
        let payload = format!(
            "{head}{}\"}}",
            "lorem ipsum ".repeat(fill / 12 + 1)[..fill].to_owned()
        );
        bytes.extend(format!("data: {payload}\n\n").bytes());
        payloads.push(payload);
    }
    Case {
        name: "big_events_1mib_x20",
        bytes,
        payloads,
        read_size: Some(1024),
    }
}

/// 50,000 events of 5 data lines each.
fn multi_line_events() -> Case {
    let mut bytes = Vec::new();
    let mut payloads = Vec::new();
    for i in 0..50_000 {
        let lines = [
            r#"{"type":"TOOL_CALL_ARGS","#.to_owned(),
            r#""toolCallId":"call-1","#.to_owned(),
            r#""messageId":"m1","#.to_owned(),
            format!(r#""index":{i},"#),
            r#""delta":"{\"city\":\"Zürich\"}"}"#.to_owned(),
        ];
        bytes.extend(format!("id: {i}\n").bytes());
        for line in &lines {
            bytes.extend(format!("data: {line}\n").bytes());
        }
        bytes.push(b'\n');
        payloads.push(lines.join("\n"));
    }
    Case {
        name: "five_line_events_50k",
        bytes,
        payloads,
        read_size: None,
    }
}

fn parse<R: BufRead>(reader: R) -> usize {
    let mut count = 0;
    for event in SseReader::new(reader) {
        black_box(event.expect("valid stream"));
        count += 1;
    }
    count
}

/// Only finds the line ends: the least any line parser must do.
fn scan_line_ends<R: BufRead>(mut reader: R) -> usize {
    let mut ends = 0;
    loop {
        let buf = reader.fill_buf().expect("in memory");
        if buf.is_empty() {
            return ends;
        }
        ends += buf.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
        let n = buf.len();
        reader.consume(n);
    }
}

fn decode_json(payloads: &[String]) -> usize {
    for payload in payloads {
        black_box(serde_json::from_str::<Value>(payload).expect("valid JSON"));
    }
    payloads.len()
}

fn run_case(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, case: &Case) {
    let bytes = &case.bytes[..];
    let events = case.payloads.len();
    match case.read_size {
        None => assert_eq!(parse(bytes), events),
        Some(cap) => assert_eq!(parse(BufReader::with_capacity(cap, bytes)), events),
    }
    println!(
        "{}: {} events, {} bytes",
        case.name,
        events,
        case.bytes.len()
    );
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    match case.read_size {
        None => {
            group.bench_function(format!("{}/parser", case.name), |b| b.iter(|| parse(bytes)));
            group.bench_function(format!("{}/scan_line_ends", case.name), |b| {
                b.iter(|| scan_line_ends(bytes))
            });
        }
        Some(cap) => {
            group.bench_function(format!("{}/parser", case.name), |b| {
                b.iter(|| parse(BufReader::with_capacity(cap, bytes)))
            });
            group.bench_function(format!("{}/scan_line_ends", case.name), |b| {
                b.iter(|| scan_line_ends(BufReader::with_capacity(cap, bytes)))
            });
        }
    }
    group.bench_function(format!("{}/json_only", case.name), |b| {
        b.iter(|| decode_json(&case.payloads))
    });
}

fn sse(c: &mut Criterion) {
    for case in [text_deltas(), big_events(), multi_line_events()] {
        let mut group = c.benchmark_group("sse");
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        run_case(&mut group, &case);
        group.finish();
    }
}

/// Rounds of the W1 ratio; the median one is quoted.
const RATIO_ROUNDS: usize = 15;
/// Passes over W1 per timing, so that a timing is long next to the clock's tick.
const PASSES: usize = 3;

/// The least any parser of this stream does besides the same decode: check
/// the UTF-8 of each read of about 16 KiB once, find the line ends, cut out
/// the `data:` payloads, and give each event its id as a `String` of its
/// own, as an `SseEvent` owns it. Nothing else: no cap, no state kept
/// across reads (each read ends at a line end here), no other fields.
fn floor(mut bytes: &[u8]) -> usize {
    let mut count = 0;
    while !bytes.is_empty() {
        let most = bytes.len().min(16 * 1024);
        let end = memchr::memrchr(b'\n', &bytes[..most]).map_or(most, |i| i + 1);
        let mut text = std::str::from_utf8(&bytes[..end]).expect("UTF-8");
        bytes = &bytes[end..];
        let mut id = None;
        while let Some(eol) = memchr::memchr2(b'\n', b'\r', text.as_bytes()) {
            let line = &text[..eol];
            if let Some(payload) = line.strip_prefix("data: ") {
                let value = serde_json::from_str::<Value>(payload).expect("valid JSON");
                black_box((value, id.take().map(str::to_owned)));
                count += 1;
            } else if let Some(value) = line.strip_prefix("id: ") {
                id = Some(value);
            }
            text = &text[eol + 1..];
        }
    }
    count
}

/// Times the parser, the JSON-only baseline and the floor on W1 in turn,
/// round after round, and prints the medians of the per-round speed ratios.
fn w1_ratio() {
    let case = text_deltas();
    let bytes = &case.bytes[..];
    let runs: [&dyn Fn() -> usize; 3] =
        [&|| decode_json(&case.payloads), &|| parse(bytes), &|| {
            floor(bytes)
        }];
    let time = |run: &dyn Fn() -> usize| {
        let (start, cpu) = (Instant::now(), thread_cpu_time());
        for _ in 0..PASSES {
            assert_eq!(run(), case.payloads.len());
        }
        match (cpu, thread_cpu_time()) {
            (Some(a), Some(b)) => b - a,
            _ => start.elapsed().as_secs_f64(),
        }
    };
    // One untimed pass of each to warm caches and the allocator.
    for run in runs {
        black_box(run());
    }
    let mut ratios = [Vec::new(), Vec::new()];
    for round in 0..RATIO_ROUNDS {
        // A different order each round, so that none always follows another.
        let mut times = [0.0; 3];
        for k in 0..3 {
            let which = (k + round) % 3;
            times[which] = time(runs[which]);
        }
        ratios[0].push(times[0] / times[1]);
        ratios[1].push(times[0] / times[2]);
    }
    let [parser, floor] = ratios.map(|mut r| {
        r.sort_by(f64::total_cmp);
        (r[RATIO_ROUNDS / 2], r[0], r[RATIO_ROUNDS - 1])
    });
    println!(
        "W1 ratio: the parser runs at {:.2}x the speed of JSON-only decoding \
         (JSON-only time / parser time; median of {RATIO_ROUNDS} rounds, range {:.2}..{:.2})",
        parser.0, parser.1, parser.2,
    );
    println!(
        "W1 floor: finding the lines, checking UTF-8 once per read, cutting out the \
         payloads and owning each id, then the same decode, runs at {:.2}x (range {:.2}..{:.2})",
        floor.0, floor.1, floor.2,
    );
}

/// Seconds this thread has run on a CPU (Linux; updated at the scheduler's
/// tick), which time spent waiting for one does not count in: other
/// processes then disturb the ratio less.
fn thread_cpu_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}

criterion_group!(benches, sse);

fn main() {
    // Only `cargo bench` passes `--bench`: `cargo test --benches` and
    // `--list` do not time anything.
    if std::env::args().any(|a| a == "--bench") {
        w1_ratio();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
