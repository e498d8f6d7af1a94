//! A private certificate authority made with rcgen, and an https server on
//! loopback whose certificate it signed.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::relay::{Acceptor, read_head};

/// A certificate authority of our own.
pub struct TestCa {
    /// Its certificate, for `TlsRoots::from_pem`.
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for these names (host names or IP addresses).
    fn leaf(&self, names: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), key)
    }
}

/// An https server with a certificate from `ca` for `localhost`,
/// `127.0.0.1` and `zaby.test`. Each connection gets one answer and is closed.
pub struct TlsServer {
    pub addr: SocketAddr,
    /// `https://localhost:PORT`.
    pub url: String,
    heads: Arc<Mutex<Vec<String>>>,
    acceptor: Acceptor,
}

impl TlsServer {
    /// `answer` turns the request head into the whole answer, head and body.
    pub fn start(
        ca: &TestCa,
        answer: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> TlsServer {
        let (cert, key) = ca.leaf(&["localhost", "127.0.0.1", "zaby.test"]);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let config = Arc::new(config);
        let heads = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let heads = heads.clone();
            Acceptor::start(move |socket| {
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, socket);
                // A client that refuses the certificate ends here.
                let Some(head) = read_head(&mut tls).and_then(|h| String::from_utf8(h).ok()) else {
                    return;
                };
                heads.lock().unwrap().push(head.clone());
                let _ = tls.write_all(answer(&head).as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            })
        };
        TlsServer {
            addr: acceptor.addr,
            url: format!("https://localhost:{}", acceptor.addr.port()),
            heads,
            acceptor,
        }
    }

    /// The heads of the requests it read (after a handshake the client accepted).
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.acceptor.connections()
    }
}

/// A whole `200` answer with a JSON body, closing the connection.
pub fn json_answer(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
