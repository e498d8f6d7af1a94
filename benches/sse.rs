//! The Server-Sent Events parser on its own, over any reader.
//!
//! Each group reads one stream three ways, with throughput counted in bytes of
//! the stream for all three: the parser, a baseline that only finds the line
//! ends, and a baseline that only decodes the JSON payloads (already cut out).
//!
//! Before criterion starts, the W1 ratio is measured on its own and printed
//! on one line: the parser and the JSON-only baseline timed in alternation,
//! round after round, so that load from other processes falls on both alike;
//! the median round is quoted. See `benches/README.md`.

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
const RATIO_ROUNDS: usize = 21;

/// Times the parser and the JSON-only baseline on W1 in alternation and
/// prints the median of the per-round speed ratios.
fn w1_ratio() {
    let case = text_deltas();
    let bytes = &case.bytes[..];
    let time = |f: &dyn Fn() -> usize| {
        let start = Instant::now();
        black_box(f());
        start.elapsed().as_secs_f64()
    };
    let parser = || parse(bytes);
    let json = || decode_json(&case.payloads);
    // One untimed pass of each to warm caches and the allocator.
    time(&parser);
    time(&json);
    let (mut best_parser, mut best_json) = (f64::MAX, f64::MAX);
    let mut ratios: Vec<f64> = (0..RATIO_ROUNDS)
        .map(|round| {
            // Alternate which goes first, so neither always follows the other.
            let (p, j) = if round % 2 == 0 {
                let p = time(&parser);
                (p, time(&json))
            } else {
                let j = time(&json);
                (time(&parser), j)
            };
            best_parser = best_parser.min(p);
            best_json = best_json.min(j);
            j / p
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[RATIO_ROUNDS / 2];
    println!(
        "W1 ratio: the parser runs at {median:.2}x the speed of JSON-only decoding \
         (JSON-only time / parser time, median of {RATIO_ROUNDS} rounds, range {:.2}..{:.2}; \
         best times {:.1} ms parser, {:.1} ms JSON-only: {:.2}x)",
        ratios[0],
        ratios[RATIO_ROUNDS - 1],
        best_parser * 1e3,
        best_json * 1e3,
        best_json / best_parser,
    );
}

criterion_group!(benches, sse);

fn main() {
    // `cargo test --benches` runs this binary with `--test`: no timing then.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        w1_ratio();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
