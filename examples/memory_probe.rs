//! Streams N small events from a local server through `runs().stream` and
//! prints how many arrived, to measure the client's peak memory:
//!
//! ```text
//! cargo build --release --example memory_probe
//! /usr/bin/time -v target/release/examples/memory_probe 10000
//! /usr/bin/time -v target/release/examples/memory_probe 1000000
//! ```
//!
//! "Maximum resident set size" should stay flat as N grows: the stream holds
//! one event at a time, not the run.

// `zaby::Error` is deliberately unboxed.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use zaby::ZabyRuntime;

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.memory-probe.sig";

fn main() -> zaby::Result<()> {
    let n: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().expect("usage: memory_probe <number of events>"),
        None => 10_000,
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let origin = format!("http://{}", listener.local_addr().expect("local address"));
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            std::thread::spawn(move || serve(socket, n));
        }
    });

    let runtime = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(origin)
        .build()?;
    let mut text = 0u64;
    let mut finished = false;
    for event in runtime.runs().stream("probe-run")? {
        let event = event?;
        if event.is_run_finished() {
            finished = true;
        } else {
            text += 1;
        }
    }
    assert!(finished, "the stream ended without RunFinished");
    assert_eq!(text, n, "events lost or repeated");
    println!("{text} events streamed, then RunFinished");
    Ok(())
}

/// Reads the request head, then writes `n` text events and RunFinished,
/// a few hundred at a time from one reused buffer.
fn serve(socket: TcpStream, n: u64) {
    let mut reader = BufReader::new(socket.try_clone().expect("clone the socket"));
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim_end().is_empty() => break,
            Ok(_) => {}
        }
    }
    let mut out = socket;
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    for id in 1..=n {
        let _ = write!(
            buf,
            "id: {id}\nevent: text\ndata: {{\"content\":\"token {id}\"}}\n\n"
        );
        if buf.len() >= 60 * 1024 {
            if out.write_all(&buf).is_err() {
                return;
            }
            buf.clear();
        }
    }
    let _ = write!(
        buf,
        "id: {}\nevent: RunFinished\ndata: {{\"result\":{{\"finalOutput\":\"done\"}}}}\n\n",
        n + 1
    );
    let _ = out.write_all(&buf);
}
