//! The fake's server: the accept loop, one thread per connection, stopping,
//! and the router that hands each request to its handler.

use std::io::{self, BufReader, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::Value;

use super::answer::{Answer, error};
use super::http::{self, ReadError, Request};
use super::provisioning;
use super::recorded::FakeRequest;
use super::runtime::{self, Route};
use super::state::{Shared, lock};
use super::stream;

/// Accepts connections on `listener` on a thread of its own, until [`stop`].
pub(super) fn spawn(shared: Arc<Shared>, listener: TcpListener) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("zaby-fake-accept".into())
        .spawn(move || accept_loop(&shared, listener))
}

/// Stops the server listening on `addr`: the accept thread, then every
/// connection, waiting for their threads.
pub(super) fn stop(shared: &Shared, addr: SocketAddr, accept: Option<JoinHandle<()>>) {
    shared.stop();
    // The accept loop blocks in accept(): one connection wakes it to see `stopping`.
    let woke = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok();
    if let Some(accept) = accept {
        if woke {
            let _ = accept.join();
        }
    }
    // The accept thread has ended, so every connection is registered by now.
    let (sockets, threads) = {
        let mut conns = lock(&shared.connections);
        (
            std::mem::take(&mut conns.sockets),
            std::mem::take(&mut conns.threads),
        )
    };
    for socket in sockets.values() {
        // Unblocks reads and writes of idle, parked and streaming connections.
        let _ = socket.shutdown(Shutdown::Both);
    }
    for thread in threads {
        let _ = thread.join();
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    for conn in listener.incoming() {
        if shared.is_stopping() {
            return;
        }
        let Ok(sock) = conn else {
            // E.g. out of file descriptors: back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = sock.set_nodelay(true);
        let Ok(registered) = sock.try_clone() else {
            continue;
        };
        let mut conns = lock(&shared.connections);
        // Reap finished connection threads so the list stays short.
        let (done, running): (Vec<_>, Vec<_>) =
            conns.threads.drain(..).partition(|t| t.is_finished());
        conns.threads = running;
        for t in done {
            let _ = t.join();
        }
        let id = conns.next_id;
        conns.next_id += 1;
        conns.sockets.insert(id, registered);
        let conn_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("zaby-fake-conn".into())
            .spawn(move || {
                serve_connection(&conn_shared, sock);
                lock(&conn_shared.connections).sockets.remove(&id);
            });
        match spawned {
            Ok(handle) => conns.threads.push(handle),
            Err(_) => {
                conns.sockets.remove(&id);
            }
        }
    }
}

/// Serves requests on one connection until it closes or the fake stops.
fn serve_connection(shared: &Shared, sock: TcpStream) {
    let Ok(read_half) = sock.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut out = sock;
    while !shared.is_stopping() {
        let request = match http::read_request(&mut reader, &mut out) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad {
                status,
                code,
                message,
            }) => {
                let id = shared.state().next_request_id();
                let _ = error(status, code, message).write(&mut out, &id, true);
                linger(&mut out, &mut reader);
                return;
            }
        };
        if !handle(shared, request, &mut out, &mut reader) {
            return;
        }
    }
}

/// After refusing a request whose body we did not read, reads a little of what the
/// client still sends, so that closing does not reset the connection before it
/// has read the answer.
fn linger(out: &mut TcpStream, reader: &mut BufReader<TcpStream>) {
    let _ = out.shutdown(Shutdown::Write);
    let _ = out.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0usize;
    while total < 2 * http::MAX_BODY {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

/// Records one request, routes it and answers it; returns whether the
/// connection may serve another.
fn handle(
    shared: &Shared,
    req: Request,
    out: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
) -> bool {
    let request_id = match req.header("x-request-id") {
        Some(id) => id.to_owned(),
        None => shared.state().next_request_id(),
    };
    let close = req.wants_close();
    let body = parse_body(&req.body);
    shared
        .state()
        .requests
        .push(FakeRequest::of(&req, body.clone()));
    let answer = match pre_route(shared, &req) {
        Some(answer) => answer,
        None if provisioning::is_provisioning(&req.target) => {
            provisioning::handle(&mut shared.state(), &req, body)
        }
        None => match runtime::route(&req.method, &req.target) {
            Err(answer) => answer,
            Ok(Route::Stream(run_id)) => {
                return stream::stream(shared, &req, &run_id, &request_id, out, reader) && !close;
            }
            Ok(Route::StartRun) => runtime::start_run(shared, &req, body),
            Ok(Route::Events(run_id)) => runtime::events(shared, &req.target, &run_id),
            Ok(Route::Decide(run_id, approval_id, decision)) => {
                runtime::decide(shared, &run_id, &approval_id, decision)
            }
            Ok(Route::Feedback(run_id)) => runtime::feedback(shared, &run_id, &req.body, body),
        },
    };
    answer.write(out, &request_id, close).is_ok() && !close
}

/// The body as JSON; one that is not JSON as a JSON string of its text.
fn parse_body(body: &[u8]) -> Option<Value> {
    if body.is_empty() {
        return None;
    }
    Some(serde_json::from_slice(body).unwrap_or_else(|_| {
        // Kept as text so tests can still see what a client sent.
        Value::String(String::from_utf8_lossy(body).into_owned())
    }))
}

/// Injected failures, then (for runtime requests) expired tokens and the token
/// check: all apply before any routing. Provisioning requests are only
/// subject to injected failures here; `provisioning::handle` checks their API key.
fn pre_route(shared: &Shared, req: &Request) -> Option<Answer> {
    let mut state = shared.state();
    if let Some(failure) = state.knobs.fail.take("failure") {
        return Some(failure);
    }
    if provisioning::is_provisioning(&req.target) {
        return None;
    }
    runtime::authorize(&mut state, &shared.token, req).err()
}
