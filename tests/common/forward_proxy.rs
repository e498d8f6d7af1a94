//! An HTTP forward proxy on loopback that takes every request to one target,
//! whatever host the request names: CONNECT tunnels, and absolute-form
//! requests (`GET http://host/path`), passed on as they came.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use super::relay::{Acceptor, pipe, read_head};

pub struct ForwardProxy {
    /// `http://127.0.0.1:PORT`, to give as the proxy.
    pub url: String,
    lines: Arc<Mutex<Vec<String>>>,
    bytes: Arc<Mutex<Vec<u8>>>,
    acceptor: Acceptor,
}

impl ForwardProxy {
    pub fn start(target: SocketAddr) -> ForwardProxy {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (lines, bytes) = (lines.clone(), bytes.clone());
            Acceptor::start(move |mut client| {
                let Some(head) = read_head(&mut client) else {
                    return;
                };
                bytes.lock().unwrap().extend_from_slice(&head);
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap_or_default().to_owned();
                lines.lock().unwrap().push(line.clone());
                let Ok(mut upstream) = TcpStream::connect(target) else {
                    let _ =
                        client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
                    return;
                };
                if line.starts_with("CONNECT ") {
                    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                } else if upstream.write_all(&head).is_err() {
                    return;
                }
                pipe(client, upstream, bytes.clone());
            })
        };
        ForwardProxy {
            url: format!("http://{}", acceptor.addr),
            lines,
            bytes,
            acceptor,
        }
    }

    /// The first line of each request the proxy was sent, e.g.
    /// `CONNECT zaby.test:443 HTTP/1.1`.
    pub fn request_lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Every byte clients sent through the proxy, tunnels included.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.acceptor.connections()
    }
}
