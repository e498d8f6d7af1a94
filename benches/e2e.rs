//! End to end over loopback, against a minimal local server of the bench's
//! own (no pacing, no script):
//!
//! - `stream`: one run's event stream of about 100 MB of small events,
//!   read through `runs().stream` (counting events), next to a raw `ureq`
//!   GET reading the same body to its end;
//! - `start`: 1,000 sequential `runs().start` on a keep-alive connection,
//!   next to the same 1,000 requests made with raw `ureq`;
//! - `start_threads`: 1, 2, 4 and 8 threads sharing one client, 1,000 starts
//!   per iteration between them.
//!
//! A summary (MB/s, events/s, calls/s, ratios, accepted TCP connections) is
//! printed at the end. Run with `cargo bench --bench e2e`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use zaby::ZabyRuntime;

/// The stream's size per iteration, before its final RunFinished event.
const STREAM_BYTES: usize = 100 * 1000 * 1000;
/// Calls per iteration of the call benchmarks.
const CALLS: usize = 1000;
const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.bench-token.sig";
const RUN_JSON: &str = r#"{"workflowId":"04a3bca0-0000-4000-8000-000000000001","runId":"0bbce854-0000-4000-8000-000000000002","deploymentId":"9f2b235d-0000-4000-8000-000000000003","status":"COMPLETED","latestSeq":15,"finalOutput":"Hello! How can I assist you today?","agentSessionId":"ff44fb37-0000-4000-8000-000000000004","externalAppId":"2abd6574-0000-4000-8000-000000000005"}"#;

/// One small event; its id's ten digits are rewritten for every copy.
const EVENT: &[u8] = b"id: 0000000000\nevent: text\ndata: {\"content\":\"hello, world\"}\n\n";
const ID_AT: usize = 4;
const ID_DIGITS: usize = 10;
/// Events generated per write: about 256 KiB.
const EVENTS_PER_CHUNK: usize = 4096;

/// How many text events a stream of `STREAM_BYTES` holds (whole chunks).
fn text_events() -> u64 {
    let chunk = EVENT.len() * EVENTS_PER_CHUNK;
    (STREAM_BYTES.div_ceil(chunk) * EVENTS_PER_CHUNK) as u64
}

/// The stream's exact size in bytes, RunFinished included.
fn stream_len() -> u64 {
    text_events() * EVENT.len() as u64 + finished_event(text_events() + 1).len() as u64
}

fn finished_event(id: u64) -> String {
    format!(
        "id: {id:010}\nevent: RunFinished\ndata: {{\"result\":{{\"finalOutput\":\"done\"}}}}\n\n"
    )
}

/// Writes the event stream body: whole chunks of small events from one
/// reused buffer, then RunFinished.
fn write_stream(out: &mut impl Write) -> std::io::Result<()> {
    let mut chunk = EVENT.repeat(EVENTS_PER_CHUNK);
    let mut id = 0u64;
    let chunks = text_events() as usize / EVENTS_PER_CHUNK;
    for _ in 0..chunks {
        for event in chunk.chunks_exact_mut(EVENT.len()) {
            id += 1;
            let digits = &mut event[ID_AT..ID_AT + ID_DIGITS];
            let mut n = id;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        out.write_all(&chunk)?;
    }
    out.write_all(finished_event(id + 1).as_bytes())?;
    out.flush()
}

/// A minimal HTTP/1.1 server: keep-alive, one thread per connection.
/// Any path ending in `/aiui` gets the event stream (close-delimited); any
/// POST gets the run JSON.
struct Server {
    url: String,
    accepted: Arc<AtomicUsize>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                let Ok(socket) = socket else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = serve(socket);
                });
            }
        });
        Server { url, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn serve(socket: TcpStream) -> std::io::Result<()> {
    let _ = socket.set_nodelay(true);
    let mut reader = BufReader::new(socket.try_clone()?);
    let mut out = socket;
    let mut line = String::new();
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{RUN_JSON}",
        RUN_JSON.len()
    );
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let target = line.split(' ').nth(1).unwrap_or("").to_owned();
        let mut length = 0usize;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink())?;
        if target.ends_with("/aiui") {
            out.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
            )?;
            return write_stream(&mut out);
        }
        out.write_all(answer.as_bytes())?;
    }
}

fn client(server: &Server) -> ZabyRuntime {
    ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(&server.url)
        .build()
        .unwrap()
}

/// Mean time per iteration of each benchmark, measured alongside criterion.
static TIMES: Mutex<BTreeMap<String, (Duration, u64)>> = Mutex::new(BTreeMap::new());

fn record(name: &str, elapsed: Duration, iters: u64) {
    let mut times = TIMES.lock().unwrap();
    let entry = times.entry(name.to_owned()).or_default();
    entry.0 += elapsed;
    entry.1 += iters;
}

fn mean(name: &str) -> Option<Duration> {
    let times = TIMES.lock().unwrap();
    let (total, iters) = times.get(name)?;
    Some(*total / (*iters).max(1) as u32)
}

/// Streams one run through the SDK; returns the events seen.
fn sdk_stream(client: &ZabyRuntime) -> u64 {
    let mut events = 0u64;
    let mut finished = false;
    for event in client.runs().stream("bench-run").unwrap() {
        let event = event.unwrap();
        finished = event.is_run_finished();
        events += 1;
    }
    assert!(finished);
    events
}

/// Reads the same body with a raw ureq GET; returns the bytes read.
fn raw_stream(agent: &ureq::Agent, url: &str) -> u64 {
    let response = agent
        .get(url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "text/event-stream")
        .call()
        .unwrap();
    let mut reader = response.into_body().into_reader();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf).unwrap() {
            0 => return total,
            n => total += n as u64,
        }
    }
}

fn bench_stream(c: &mut Criterion, server: &Server) {
    let client = client(server);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_recv_body(None)
        .build()
        .into();
    let url = format!("{}/api/v1/agent-runtime/runs/bench-run/aiui", server.url);
    // The expected shape, checked once.
    assert_eq!(sdk_stream(&client), text_events() + 1);
    assert_eq!(raw_stream(&agent, &url), stream_len());

    let mut group = c.benchmark_group("stream");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(stream_len()));
    group.bench_function("zaby_runs_stream", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                black_box(sdk_stream(&client));
            }
            let elapsed = started.elapsed();
            record("stream/zaby", elapsed, iters);
            elapsed
        })
    });
    group.bench_function("raw_ureq_get", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                black_box(raw_stream(&agent, &url));
            }
            let elapsed = started.elapsed();
            record("stream/raw", elapsed, iters);
            elapsed
        })
    });
    group.finish();
}

fn raw_start(agent: &ureq::Agent, url: &str, body: &str) -> usize {
    let mut response = agent
        .post(url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("accept", "application/json")
        .content_type("application/json")
        .send(body)
        .unwrap();
    response.body_mut().read_to_string().unwrap().len()
}

fn bench_start(c: &mut Criterion, server: &Server) {
    let client = client(server);
    let agent = ureq::Agent::new_with_defaults();
    let url = format!("{}/api/v1/agent-runtime/runs", server.url);
    let body = r#"{"input":"What's the weather in London?","requestId":"3f1c2a9e-0000-4000-8000-000000000000"}"#;

    // Connection reuse, shown once: 1,000 starts on one new client.
    let before = server.accepted();
    for _ in 0..CALLS {
        black_box(
            client
                .runs()
                .start("What's the weather in London?")
                .unwrap(),
        );
    }
    let sdk_connections = server.accepted() - before;
    let before = server.accepted();
    for _ in 0..CALLS {
        black_box(raw_start(&agent, &url, body));
    }
    let raw_connections = server.accepted() - before;
    println!(
        "connections accepted for {CALLS} sequential calls: zaby runs().start {sdk_connections}, raw ureq {raw_connections}"
    );

    let mut group = c.benchmark_group("start");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(CALLS as u64));
    group.bench_function("zaby_runs_start_x1000", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                for _ in 0..CALLS {
                    black_box(
                        client
                            .runs()
                            .start("What's the weather in London?")
                            .unwrap(),
                    );
                }
            }
            let elapsed = started.elapsed();
            record("start/zaby", elapsed, iters);
            elapsed
        })
    });
    group.bench_function("raw_ureq_post_x1000", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                for _ in 0..CALLS {
                    black_box(raw_start(&agent, &url, body));
                }
            }
            let elapsed = started.elapsed();
            record("start/raw", elapsed, iters);
            elapsed
        })
    });
    group.finish();
}

/// `CALLS` starts split between `threads` threads sharing `client`.
fn starts_on_threads(client: &ZabyRuntime, threads: usize) {
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..CALLS / threads {
                    black_box(
                        client
                            .runs()
                            .start("What's the weather in London?")
                            .unwrap(),
                    );
                }
            });
        }
    });
}

fn bench_threads(c: &mut Criterion, server: &Server) -> Vec<(usize, usize)> {
    // Connections a new client opens for its first CALLS calls, per thread count.
    let mut connections = Vec::new();
    for threads in [1, 2, 4, 8] {
        let before = server.accepted();
        starts_on_threads(&client(server), threads);
        connections.push((threads, server.accepted() - before));
    }
    let client = client(server);
    let mut group = c.benchmark_group("start_threads");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(CALLS as u64));
    for threads in [1, 2, 4, 8] {
        group.bench_with_input(
            BenchmarkId::from_parameter(threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let started = Instant::now();
                    for _ in 0..iters {
                        starts_on_threads(&client, threads);
                    }
                    let elapsed = started.elapsed();
                    record(&format!("threads/{threads}"), elapsed, iters);
                    elapsed
                })
            },
        );
    }
    group.finish();
    connections
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let server = Server::start();
    bench_stream(&mut c, &server);
    bench_start(&mut c, &server);
    let connections = bench_threads(&mut c, &server);
    c.final_summary();

    println!("\n== e2e summary (means over the measured iterations) ==");
    let mb = stream_len() as f64 / 1e6;
    let events = (text_events() + 1) as f64;
    if let (Some(sdk), Some(raw)) = (mean("stream/zaby"), mean("stream/raw")) {
        let (sdk, raw) = (sdk.as_secs_f64(), raw.as_secs_f64());
        println!(
            "stream of {mb:.1} MB, {events:.0} events: zaby {:.0} MB/s, {:.0} events/s; raw ureq {:.0} MB/s; zaby/raw = {:.2}",
            mb / sdk,
            events / sdk,
            mb / raw,
            raw / sdk
        );
    }
    if let (Some(sdk), Some(raw)) = (mean("start/zaby"), mean("start/raw")) {
        let (sdk, raw) = (sdk.as_secs_f64(), raw.as_secs_f64());
        println!(
            "{CALLS} sequential starts: zaby {:.1} µs/call ({:.0} calls/s); raw ureq {:.1} µs/call ({:.0} calls/s); zaby/raw = {:.2}",
            sdk / CALLS as f64 * 1e6,
            CALLS as f64 / sdk,
            raw / CALLS as f64 * 1e6,
            CALLS as f64 / raw,
            raw / sdk
        );
    }
    for (threads, accepted) in connections {
        if let Some(t) = mean(&format!("threads/{threads}")) {
            println!(
                "{threads} thread(s), one client: {:.0} calls/s ({accepted} TCP connections accepted for a new client's first {CALLS} calls)",
                CALLS as f64 / t.as_secs_f64()
            );
        }
    }
}
