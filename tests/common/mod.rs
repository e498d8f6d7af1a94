//! A small HTTP server of our own for what mockito cannot do: cut a
//! connection mid-stream, hold one open, answer each connection differently.

#![allow(dead_code)] // each test binary uses a different part

// Loopback proxies and a TLS server with a private CA (tests/network.rs).
pub mod forward_proxy;
pub mod relay;
pub mod socks;
pub mod tls;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

/// Bounds every test: no call may wait longer than this.
pub const LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Runs `f` on a thread and waits for it at most `limit`, failing instead
/// of hanging; a panic inside `f` fails the test with its own message.
pub fn bounded_for<T: Send + 'static>(
    limit: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread sends before it ends"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {limit:?}"),
    }
}

/// [`bounded_for`] with [`LIMIT`].
pub fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    bounded_for(LIMIT, f)
}

/// A raw ureq agent for talking HTTP without the client: every status is an
/// answer, and no call waits longer than [`LIMIT`].
pub fn raw_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(LIMIT))
        .build()
        .into()
}

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a handler gets: the connection's number (from 0), the request, the
/// socket to answer on, and a receiver that disconnects when the server is
/// dropped (block on it to hold a connection open).
pub struct Conn<'a> {
    pub index: usize,
    pub request: &'a Seen,
    pub socket: &'a mut TcpStream,
    pub hold: &'a Mutex<mpsc::Receiver<()>>,
}

impl Conn<'_> {
    pub fn write(&mut self, bytes: impl AsRef<[u8]>) {
        // The client may have gone: that is what some tests check.
        let _ = self.socket.write_all(bytes.as_ref());
        let _ = self.socket.flush();
    }

    /// Blocks until the server is dropped.
    pub fn hold_open(&self) {
        let _ = self.hold.lock().unwrap().recv();
    }

    /// Waits until the client closes its side; true when it did.
    pub fn client_closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        matches!(std::io::Read::read(self.socket, &mut buf), Ok(0) | Err(_))
    }
}

pub struct TestServer {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    release: Option<mpsc::Sender<()>>,
    accept: Option<JoinHandle<()>>,
    connections: Arc<AtomicUsize>,
}

impl TestServer {
    pub fn start(handler: impl Fn(Conn) + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (release, hold) = mpsc::channel();
        let hold = Arc::new(Mutex::new(hold));
        let handler = Arc::new(handler);
        let accept = {
            let (seen, stop, connections) = (seen.clone(), stop.clone(), connections.clone());
            std::thread::spawn(move || {
                for socket in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut socket) = socket else { continue };
                    let index = connections.fetch_add(1, Ordering::SeqCst);
                    let (seen, hold, handler) = (seen.clone(), hold.clone(), handler.clone());
                    std::thread::spawn(move || {
                        let Some(request) = read_request(&mut socket) else {
                            return;
                        };
                        seen.lock().unwrap().push(request.clone());
                        handler(Conn {
                            index,
                            request: &request,
                            socket: &mut socket,
                            hold: &hold,
                        });
                        let _ = socket.shutdown(Shutdown::Both);
                    });
                }
            })
        };
        TestServer {
            url,
            seen,
            stop,
            release: Some(release),
            accept: Some(accept),
            connections,
        }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.release.take();
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn read_request(socket: &mut TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(socket.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    Some(Seen {
        request_line: request_line.trim_end().to_owned(),
        headers,
    })
}

/// The head of an event stream whose body ends when the connection closes.
pub const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";

/// The head of a chunked event stream.
pub const SSE_CHUNKED_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

pub fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

/// The text of one event block with an id.
pub fn block(id: usize, event: &str, data: &str) -> String {
    format!("id: {id}\nevent: {event}\ndata: {data}\n\n")
}
