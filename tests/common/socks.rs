//! A SOCKS5 relay on loopback (no authentication, CONNECT only) that takes
//! every connection to one target and records the address it was asked for:
//! a name for socks5h, where the proxy resolves.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use super::relay::{Acceptor, pipe};

pub struct Socks5Relay {
    /// `127.0.0.1:PORT`; prefix it with `socks5h://` or `socks5://`.
    pub addr: SocketAddr,
    targets: Arc<Mutex<Vec<String>>>,
    acceptor: Acceptor,
}

impl Socks5Relay {
    pub fn start(target: SocketAddr) -> Socks5Relay {
        let targets = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let targets = targets.clone();
            Acceptor::start(move |mut client| {
                let Some(asked) = handshake(&mut client) else {
                    return;
                };
                targets.lock().unwrap().push(asked);
                let Ok(upstream) = TcpStream::connect(target) else {
                    return;
                };
                // Succeeded; the bound address is not used by clients.
                if client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).is_ok() {
                    pipe(client, upstream, Arc::new(Mutex::new(Vec::new())));
                }
            })
        };
        Socks5Relay {
            addr: acceptor.addr,
            targets,
            acceptor,
        }
    }

    /// The `host:port` of each CONNECT, as the client sent it.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.acceptor.connections()
    }
}

/// The greeting and the CONNECT request; returns the address asked for.
fn handshake(client: &mut TcpStream) -> Option<String> {
    let greeting = read(client, 2)?;
    let _methods = read(client, usize::from(greeting[1]))?;
    client.write_all(&[5, 0]).ok()?;
    let request = read(client, 4)?;
    if request[..3] != [5, 1, 0] {
        return None;
    }
    let host = match request[3] {
        1 => IpAddr::from(<[u8; 4]>::try_from(read(client, 4)?).ok()?).to_string(),
        3 => {
            let len = read(client, 1)?[0];
            String::from_utf8(read(client, usize::from(len))?).ok()?
        }
        4 => format!(
            "[{}]",
            IpAddr::from(<[u8; 16]>::try_from(read(client, 16)?).ok()?)
        ),
        _ => return None,
    };
    let port = read(client, 2)?;
    Some(format!("{host}:{}", u16::from_be_bytes([port[0], port[1]])))
}

fn read(client: &mut TcpStream, n: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; n];
    client.read_exact(&mut buf).ok().map(|_| buf)
}
