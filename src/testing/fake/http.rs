//! Just enough HTTP/1.1 for the fake: bounded request parsing and plain writers.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;

use serde_json::Value;

/// Cap on the request line plus headers.
const MAX_HEAD: usize = 64 * 1024;
/// Cap on a request body.
pub(super) const MAX_BODY: usize = 16 * 1024 * 1024;

pub(super) struct Request {
    pub method: String,
    /// The request target: path and query, still percent-encoded.
    pub target: String,
    pub http10: bool,
    /// Lower-case names, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::headers::header(&self.headers, name)
    }

    /// Whether the client asked for the connection to end after this exchange.
    pub fn wants_close(&self) -> bool {
        let connection = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.http10 {
            !connection.contains("keep-alive")
        } else {
            connection.contains("close")
        }
    }
}

pub(super) enum ReadError {
    /// The peer went away (or the fake is stopping): nothing to answer.
    Closed,
    /// A request we refuse; answered, then the connection closes.
    Bad {
        status: u16,
        code: &'static str,
        message: String,
    },
}

fn bad(status: u16, code: &'static str, message: impl Into<String>) -> ReadError {
    ReadError::Bad {
        status,
        code,
        message: message.into(),
    }
}

/// Reads one line within `budget` bytes, without its line ending.
/// `Ok(None)` means a clean end of input before any byte.
fn read_line(r: &mut impl BufRead, budget: &mut usize) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)
        .map_err(|_| ReadError::Closed)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return if n > *budget {
            Err(bad(400, "HEADERS_TOO_LARGE", "request head exceeds 64 KiB"))
        } else {
            Err(ReadError::Closed)
        };
    }
    *budget -= n;
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Reads one request; `w` is only used for `100 Continue`.
pub(super) fn read_request(r: &mut impl BufRead, w: &mut TcpStream) -> Result<Request, ReadError> {
    let mut budget = MAX_HEAD;
    // Blank lines before a request line are allowed by RFC 9112.
    let line = loop {
        match read_line(r, &mut budget)? {
            None => return Err(ReadError::Closed),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let line = String::from_utf8(line)
        .map_err(|_| bad(400, "BAD_REQUEST", "request line is not UTF-8"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(bad(400, "BAD_REQUEST", "malformed request line"));
    };
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if !method_ok || !target.starts_with('/') || !matches!(version, "HTTP/1.1" | "HTTP/1.0") {
        return Err(bad(400, "BAD_REQUEST", "malformed request line"));
    }
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(r, &mut budget)? else {
            return Err(ReadError::Closed);
        };
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(&line);
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(400, "BAD_REQUEST", "malformed header line"));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(bad(400, "BAD_REQUEST", "malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        http10: version == "HTTP/1.0",
        headers,
        body: Vec::new(),
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let length = match request.header("content-length") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| bad(400, "BAD_REQUEST", "invalid content-length"))?,
        ),
    };
    if length.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(bad(413, "PAYLOAD_TOO_LARGE", "request body exceeds 16 MiB"));
    }
    let has_body = chunked || length.is_some_and(|n| n > 0);
    if has_body
        && request
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|_| ReadError::Closed)?;
    }
    if chunked {
        request.body = read_chunked(r)?;
    } else if let Some(n) = length {
        let mut body = vec![0; n as usize];
        r.read_exact(&mut body).map_err(|_| ReadError::Closed)?;
        request.body = body;
    }
    Ok(request)
}

fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let mut budget = 4096;
        let Some(line) = read_line(r, &mut budget)? else {
            return Err(ReadError::Closed);
        };
        let line = String::from_utf8_lossy(&line);
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| bad(400, "BAD_REQUEST", "malformed chunk size"))?;
        if size == 0 {
            // Trailers, ignored, up to the blank line.
            let mut budget = MAX_HEAD;
            loop {
                match read_line(r, &mut budget)? {
                    None => return Err(ReadError::Closed),
                    Some(l) if l.is_empty() => return Ok(body),
                    Some(_) => {}
                }
            }
        }
        if size > MAX_BODY - body.len() {
            return Err(bad(413, "PAYLOAD_TOO_LARGE", "request body exceeds 16 MiB"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])
            .map_err(|_| ReadError::Closed)?;
        let mut budget = 2;
        match read_line(r, &mut budget)? {
            Some(l) if l.is_empty() => {}
            _ => return Err(bad(400, "BAD_REQUEST", "chunk not followed by CRLF")),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Writes a complete JSON answer.
pub(super) fn write_json(
    w: &mut impl Write,
    status: u16,
    request_id: &str,
    extra_headers: &[(&str, String)],
    body: &Value,
    close: bool,
) -> io::Result<()> {
    let body = body.to_string();
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {}\r\n",
        reason(status),
        body.len(),
        header_safe(request_id),
    );
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {}\r\n", header_safe(value)));
    }
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    w.write_all(&out)?;
    w.flush()
}

/// Drops CR and LF so an echoed value can never split a header.
fn header_safe(value: &str) -> String {
    value.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// The body of an event stream: chunked (one chunk per write) or close-delimited.
pub(super) struct StreamOut {
    pub sock: TcpStream,
    pub chunked: bool,
}

impl StreamOut {
    /// Writes the status line and headers.
    pub fn start(sock: TcpStream, chunked: bool, request_id: &str) -> io::Result<StreamOut> {
        let mut out = StreamOut { sock, chunked };
        let framing = if chunked {
            "transfer-encoding: chunked\r\n"
        } else {
            "connection: close\r\n"
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nx-request-id: {}\r\n{framing}\r\n",
            header_safe(request_id)
        );
        out.sock.write_all(head.as_bytes())?;
        out.sock.flush()?;
        Ok(out)
    }

    /// Sends `bytes` at once (as one chunk when chunked).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(()); // an empty chunk would end the body
        }
        if self.chunked {
            let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
            framed.extend_from_slice(bytes);
            framed.extend_from_slice(b"\r\n");
            self.sock.write_all(&framed)?;
        } else {
            self.sock.write_all(bytes)?;
        }
        self.sock.flush()
    }

    /// Ends the body properly.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.chunked {
            self.sock.write_all(b"0\r\n\r\n")?;
            self.sock.flush()
        } else {
            self.sock.shutdown(std::net::Shutdown::Write)
        }
    }
}
