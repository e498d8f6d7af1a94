//! `GET /runs/{runId}/aiui`: the event stream of a run, with its fault knobs.

use std::io::{BufReader, Read};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::answer::unknown_run;
use super::http::{Request, StreamOut};
use super::state::{Shared, State};

/// Why a stream stopped early.
enum Stop {
    /// The fake is stopping, or the client went away.
    Gone,
}

impl From<std::io::Error> for Stop {
    fn from(_: std::io::Error) -> Stop {
        Stop::Gone
    }
}

/// Waits until `ready` yields, the deadline passes (`Ok(None)`) or the fake stops,
/// sending keep-alive comments at the configured interval meanwhile.
fn wait_for<T>(
    shared: &Shared,
    out: &mut StreamOut,
    keep_alive: Duration,
    deadline: Option<Instant>,
    mut ready: impl FnMut(&State) -> Option<T>,
) -> Result<Option<T>, Stop> {
    let mut last_ping = Instant::now();
    let mut state = shared.state();
    loop {
        if shared.is_stopping() {
            return Err(Stop::Gone);
        }
        if let Some(value) = ready(&state) {
            return Ok(Some(value));
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok(None);
        }
        let mut timeout = deadline.map(|d| d - now);
        if !keep_alive.is_zero() {
            let due = last_ping + keep_alive;
            if now >= due {
                // Never write while holding the lock: the write may block.
                drop(state);
                out.send(b": keep-alive\n")?;
                last_ping = Instant::now();
                state = shared.state();
                continue;
            }
            timeout = Some(timeout.map_or(due - now, |t| t.min(due - now)));
        }
        state = shared.wait(state, timeout);
    }
}

/// `GET /runs/{runId}/aiui`; returns whether the connection may be reused.
pub(super) fn stream(
    shared: &Shared,
    req: &Request,
    run_id: &str,
    request_id: &str,
    sock: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
) -> bool {
    let after: u64 = req
        .header("last-event-id")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (malformed, cut, delay, keep_alive, hold_open, retry_ms, chunked) = {
        let mut state = shared.state();
        let malformed = state.knobs.malformed_stream.take();
        if malformed.is_none() && !state.runs.contains_key(run_id) {
            drop(state);
            let close = req.wants_close();
            return unknown_run(run_id).write(sock, request_id, close).is_ok() && !close;
        }
        let k = &mut state.knobs;
        let cut = if malformed.is_none() {
            k.cut_after_events.take()
        } else {
            None
        };
        (
            malformed,
            cut,
            k.event_delay,
            k.keep_alive,
            k.hold_open_after_finish,
            k.retry_ms,
            !k.close_delimited,
        )
    };
    let Ok(clone) = sock.try_clone() else {
        return false;
    };
    let Ok(mut out) = StreamOut::start(clone, chunked, request_id) else {
        return false;
    };
    if let Some(bytes) = malformed {
        return out.send(&bytes).and_then(|_| out.finish()).is_ok() && chunked;
    }
    let result = (|| -> Result<bool, Stop> {
        if let Some(ms) = retry_ms {
            out.send(format!("retry: {ms}\n\n").as_bytes())?;
        }
        let mut next_after = after;
        let mut sent = 0usize;
        loop {
            if cut == Some(sent) {
                // An abrupt end: no chunk terminator, no more bytes.
                let _ = out.sock.shutdown(Shutdown::Both);
                return Ok(false);
            }
            let next = wait_for(shared, &mut out, keep_alive, None, |state| {
                let run = &state.runs[run_id];
                match run.events.iter().find(|e| e.seq > next_after) {
                    Some(e) => Some(Some((e.seq, e.frame(), e.is_terminal()))),
                    None if run.finished => Some(None),
                    None => None,
                }
            })?;
            let Some(Some((seq, frame, terminal))) = next else {
                break; // nothing left: the run finished before `last-event-id`
            };
            if !delay.is_zero() {
                wait_for(
                    shared,
                    &mut out,
                    keep_alive,
                    Some(Instant::now() + delay),
                    |_| None::<()>,
                )?;
            }
            out.send(frame.as_bytes())?;
            sent += 1;
            next_after = seq;
            if terminal {
                break;
            }
        }
        if hold_open {
            // Wait for the client to hang up (or the fake to stop) without ending the body.
            let mut buf = [0u8; 1024];
            while !matches!(reader.read(&mut buf), Ok(0) | Err(_)) {}
            return Ok(false);
        }
        out.finish()?;
        Ok(chunked)
    })();
    result.unwrap_or(false)
}
