//! Streams N small events from a local server through `runs().stream` and
//! prints how many arrived, to measure the client's peak memory:
//!
//! ```text
//! cargo build --release --example memory_probe
//! /usr/bin/time -v target/release/examples/memory_probe 10000
//! /usr/bin/time -v target/release/examples/memory_probe 1000000
//! /usr/bin/time -v target/release/examples/memory_probe 1000000 text
//! /usr/bin/time -v target/release/examples/memory_probe 1000000 text replay
//! ```
//!
//! With numeric ids counting up, "Maximum resident set size" should stay flat
//! as N grows: the stream holds one event at a time, not the run. With `text`
//! the ids are `e1`, `e2`, …: the stream remembers each one it yielded (a
//! hash) so that a resume skips it, which is what the figure then measures.
//! With `replay` the first connection is cut after half the events and the
//! server answers the resume with all N again, from the first: each must
//! still arrive exactly once.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use zaby::ZabyRuntime;

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.memory-probe.sig";

/// What the server sends.
#[derive(Clone, Copy)]
struct Script {
    events: u64,
    /// Ids `e1`, `e2`, … instead of `1`, `2`, ….
    text_ids: bool,
    /// Cut the first connection after half; replay everything on the next.
    replay: bool,
}

fn main() -> zaby::Result<()> {
    let usage = "usage: memory_probe <number of events> [text] [replay]";
    let mut args = std::env::args().skip(1);
    let events = args.next().map_or(10_000, |n| n.parse().expect(usage));
    let mut script = Script {
        events,
        text_ids: false,
        replay: false,
    };
    for arg in args {
        match arg.as_str() {
            "text" => script.text_ids = true,
            "replay" => script.replay = true,
            _ => panic!("{usage}"),
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let origin = format!("http://{}", listener.local_addr().expect("local address"));
    std::thread::spawn(move || {
        for (index, socket) in listener.incoming().flatten().enumerate() {
            std::thread::spawn(move || serve(socket, script, index == 0));
        }
    });

    let runtime = ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(origin)
        .build()?;
    let mut text = 0u64;
    let mut finished = false;
    let mut stream = runtime.runs().stream("probe-run")?;
    for event in stream.by_ref() {
        let event = event?;
        if event.is_run_finished() {
            finished = true;
        } else {
            text += 1;
        }
    }
    assert!(finished, "the stream ended without RunFinished");
    assert_eq!(text, events, "events lost or repeated");
    println!(
        "{text} events streamed, then RunFinished ({} reconnects)",
        stream.reconnects()
    );
    Ok(())
}

/// Reads the request head, then writes the script's text events and
/// RunFinished, a few hundred at a time from one reused buffer.
fn serve(socket: TcpStream, script: Script, first: bool) {
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
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nretry: 0\n\n";
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    let prefix = if script.text_ids { "e" } else { "" };
    let last = if script.replay && first {
        script.events / 2
    } else {
        script.events
    };
    let mut buf = Vec::with_capacity(64 * 1024);
    for id in 1..=last {
        let _ = write!(
            buf,
            "id: {prefix}{id}\nevent: text\ndata: {{\"content\":\"token {id}\"}}\n\n"
        );
        if buf.len() >= 60 * 1024 {
            if out.write_all(&buf).is_err() {
                return;
            }
            buf.clear();
        }
    }
    if last == script.events {
        let _ = write!(
            buf,
            "id: {prefix}{}\nevent: RunFinished\ndata: {{\"result\":{{\"finalOutput\":\"done\"}}}}\n\n",
            script.events + 1
        );
    }
    let _ = out.write_all(&buf);
}
