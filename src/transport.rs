//! The HTTP layer under the client: a trait, and its `ureq` implementation.
//!
//! Auth, retries, redirects and error mapping live above the transport, so
//! they work the same with any [`Transport`], the mock included.

use std::fmt;
use std::io::Read;
use std::time::Duration;

use crate::agent::{CachingResolver, SharedConnector, new_agent};
use crate::body::{MAX_ERROR_BODY, read_prefix};
use crate::deadline::Deadline;
use crate::headers::redacted;
use crate::{CancelHandle, Error, Result};

/// Sends one HTTP request and returns the answer, whatever its status.
///
/// Implement it to put the client on another HTTP stack or to record traffic;
/// [`HttpTransport`] is the default and [`crate::testing::MockTransport`] the
/// in-process double. A transport must not follow redirects: the client does,
/// so that the authorization header never reaches another origin.
///
/// # Example
/// ```
/// use zaby::{Transport, TransportRequest, TransportResponse};
/// struct Canned;
/// impl Transport for Canned {
///     fn send(&self, request: TransportRequest) -> zaby::Result<TransportResponse> {
///         assert_eq!(request.method, "POST");
///         Ok(TransportResponse::new(200, vec![], &br#"{"runId":"r1"}"#[..]))
///     }
/// }
/// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(Canned).build()?;
/// assert_eq!(runtime.runs().start("Hello")?.run_id, "r1");
/// # Ok::<(), zaby::Error>(())
/// ```
pub trait Transport: Send + Sync {
    /// Sends the request. Any status is an `Ok` answer; `Err` is for requests
    /// that got no answer (use [`Error::Connection`] or [`Error::Timeout`] so
    /// that retries apply).
    ///
    /// # Errors
    /// Whatever stopped the request from getting an answer.
    fn send(&self, request: TransportRequest) -> Result<TransportResponse>;

    /// Sends a stream request whose body `cancel` must be able to interrupt
    /// while a read is blocked: register that with [`CancelHandle::on_cancel`].
    /// The default just sends; the stream then notices a cancel between reads.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    fn send_cancellable(
        &self,
        request: TransportRequest,
        cancel: &CancelHandle,
    ) -> Result<TransportResponse> {
        let _ = cancel;
        self.send(request)
    }
}

/// One request, as the client hands it to a [`Transport`]. `Debug` hides
/// the credential headers.
///
/// # Example
/// ```
/// let request = zaby::TransportRequest {
///     method: "GET".into(),
///     url: "https://genapi.zaby.io/api/v1/agent-runtime/runs/r1/events".into(),
///     path: "/api/v1/agent-runtime/runs/r1/events".into(),
///     headers: vec![("authorization".into(), "Bearer eyJhbGciOi...".into())],
///     body: None,
///     stream: false,
///     timeout: Some(std::time::Duration::from_secs(30)),
/// };
/// assert!(!format!("{request:?}").contains("eyJ"));
/// ```
pub struct TransportRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The whole URL: origin + path.
    pub url: String,
    /// The path, with the query.
    pub path: String,
    /// Headers, names in lower case. Includes the credential: never log them raw.
    pub headers: Vec<(String, String)>,
    /// The body, when there is one (JSON).
    pub body: Option<Vec<u8>>,
    /// Whether the answer is an event stream, read for as long as it lasts.
    pub stream: bool,
    /// For a plain call, the limit of the whole call; for a stream, of
    /// connecting and of each wait for more bytes. `None`: no limit.
    pub timeout: Option<Duration>,
}

impl fmt::Debug for TransportRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &redacted(&self.headers))
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("stream", &self.stream)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The answer to a [`TransportRequest`].
///
/// # Example
/// ```
/// let answer = zaby::TransportResponse::new(204, vec![], std::io::empty());
/// assert_eq!(answer.status, 204);
/// ```
pub struct TransportResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, read as it arrives.
    pub body: Box<dyn Read + Send>,
}

impl TransportResponse {
    /// An answer, as a custom [`Transport`] builds it; header names are
    /// lower-cased here so that the client finds them.
    ///
    /// # Example
    /// ```
    /// let answer = zaby::TransportResponse::new(
    ///     200,
    ///     vec![("Content-Type".into(), "application/json".into())],
    ///     std::io::Cursor::new(br#"{"runId":"r1"}"#.to_vec()),
    /// );
    /// assert_eq!(answer.headers[0].0, "content-type");
    /// ```
    pub fn new(
        status: u16,
        headers: Vec<(String, String)>,
        body: impl Read + Send + 'static,
    ) -> Self {
        let headers = headers
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        TransportResponse {
            status,
            headers,
            body: Box::new(body),
        }
    }
}

impl fmt::Debug for TransportResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// The default transport: a `ureq` agent, whose connection pool every clone
/// of the client shares.
///
/// One made with [`new`](Self::new) or [`with_timeout`](Self::with_timeout)
/// uses no proxy (it does not read the environment) and the bundled TLS
/// roots; the one a builder makes for its client follows the builder's
/// `proxy` and `tls_roots`.
///
/// # Example
/// ```
/// let shared = zaby::HttpTransport::new();
/// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(shared.clone()).build()?;
/// let zaby = zaby::Zaby::builder().api_key("zk_test_0123456789").transport(shared).build()?;
/// # let _ = (runtime, zaby);
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone)]
pub struct HttpTransport {
    agent: ureq::Agent,
    /// Bounds connecting, and a stream's wait for its answer's head.
    timeout: Duration,
    /// Shared with every stream's own agent.
    resolver: CachingResolver,
    connector: SharedConnector,
    proxy: Option<ureq::Proxy>,
    tls: ureq::tls::TlsConfig,
}

impl fmt::Debug for HttpTransport {
    // ureq's own Debug shows part of a proxy's user name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proxy = self.proxy.as_ref().map(|p| {
            let protocol = p.protocol().to_string().to_ascii_lowercase();
            format!("{protocol}://{}:{}", p.host(), p.port())
        });
        f.debug_struct("HttpTransport")
            .field("timeout", &self.timeout)
            .field("proxy", &proxy)
            .field("tls_roots", &self.tls.root_certs())
            .finish_non_exhaustive()
    }
}

/// Longer timeouts are taken as this: ureq adds them to `Instant::now()`.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

impl Default for HttpTransport {
    fn default() -> Self {
        HttpTransport::new()
    }
}

impl HttpTransport {
    /// A transport with its own connection pool.
    ///
    /// # Example
    /// ```
    /// let runtime = zaby::ZabyRuntime::builder()
    ///     .token("eyJhbGciOi...")
    ///     .transport(zaby::HttpTransport::new())
    ///     .build()?;
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn new() -> Self {
        HttpTransport::with_timeout(crate::config::DEFAULT_TIMEOUT)
    }

    /// A transport whose connecting (and a stream's wait for the answer's
    /// head) is bounded by `timeout`; a client builds its own transport this
    /// way with the configured timeout.
    ///
    /// # Example
    /// ```
    /// let transport = zaby::HttpTransport::with_timeout(std::time::Duration::from_secs(5));
    /// # let _ = transport;
    /// ```
    pub fn with_timeout(timeout: Duration) -> Self {
        HttpTransport::build(timeout, None, crate::TlsRoots::bundled().tls_config())
    }

    /// The transport a builder makes for its client: through `proxy` (none:
    /// direct), checking https against `roots`.
    pub(crate) fn with_network(
        timeout: Duration,
        proxy: Option<&crate::proxy::ProxyUrl>,
        roots: &crate::TlsRoots,
    ) -> Result<Self> {
        let proxy = proxy.map(crate::proxy::ProxyUrl::to_ureq).transpose()?;
        Ok(HttpTransport::build(timeout, proxy, roots.tls_config()))
    }

    fn build(timeout: Duration, proxy: Option<ureq::Proxy>, tls: ureq::tls::TlsConfig) -> Self {
        let timeout = timeout.min(LONGEST_TIMEOUT);
        let resolver = CachingResolver::default();
        let connector = SharedConnector::default();
        HttpTransport {
            agent: new_agent(timeout, &proxy, &tls, &resolver, &connector),
            timeout,
            resolver,
            connector,
            proxy,
            tls,
        }
    }

    /// An agent with this transport's settings, sharing its resolver and connector.
    fn new_agent(&self) -> ureq::Agent {
        new_agent(
            self.timeout,
            &self.proxy,
            &self.tls,
            &self.resolver,
            &self.connector,
        )
    }
}

impl Transport for HttpTransport {
    fn send(&self, request: TransportRequest) -> Result<TransportResponse> {
        let response = self.run(&self.agent, request)?;
        Ok(into_transport_response(response))
    }

    /// A stream gets an agent of its own, so that shutting that agent down
    /// interrupts this stream's blocked read and nothing else. Streams are
    /// long-lived: the extra connection setup is small beside them.
    ///
    /// Opening is bounded by the call timeout as a whole: a deadline shuts
    /// the agent down if the head, or the body of a non-2xx answer (read
    /// here, capped), takes longer, however the server drips it.
    fn send_cancellable(
        &self,
        request: TransportRequest,
        cancel: &CancelHandle,
    ) -> Result<TransportResponse> {
        let agent = self.new_agent();
        let shutdown = agent.clone();
        cancel.on_cancel(move || shutdown.shutdown());
        // A plain call is bounded by its own global timeout already.
        let stream = request.stream;
        let deadline = stream.then(|| {
            let expire = agent.clone();
            Deadline::arm(self.timeout, move || expire.shutdown())
        });
        let timed_out = || Error::Timeout(format!("opening the stream ({:?})", self.timeout));
        let answer = self.run(&agent, request).map_err(|e| {
            if deadline.as_ref().is_some_and(Deadline::fired) {
                timed_out()
            } else {
                e
            }
        });
        let mut response = into_transport_response(answer?);
        if stream && !(200..300).contains(&response.status) {
            // What came before the deadline explains the status well enough.
            let body = read_prefix(response.body, MAX_ERROR_BODY);
            response.body = Box::new(std::io::Cursor::new(body));
        }
        let fired = deadline.is_some_and(Deadline::disarm);
        if fired && (200..300).contains(&response.status) {
            // It shut the agent down as the answer came: the stream is dead.
            // (An error answer keeps its status, with what of its body came.)
            return Err(timed_out());
        }
        Ok(response)
    }
}

impl HttpTransport {
    /// Runs one request on `agent` with the request's timeouts.
    fn run(
        &self,
        agent: &ureq::Agent,
        request: TransportRequest,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(request.url.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        // A POST without a body says so with `content-length: 0`, never chunked.
        let body = match request.body {
            None if request.method != "GET" => Some(Vec::new()),
            body => body,
        };
        let built = match body {
            Some(bytes) => builder
                .body(bytes)
                .map(|r| self.configure(agent, r, request.stream, request.timeout)),
            None => builder
                .body(())
                .map(|r| self.configure(agent, r, request.stream, request.timeout)),
        };
        built.map_err(|e| Error::InvalidInput(format!("cannot build the request: {e}")))?
    }

    fn configure<S: ureq::AsSendBody>(
        &self,
        agent: &ureq::Agent,
        request: ureq::http::Request<S>,
        stream: bool,
        timeout: Option<Duration>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let timeout = timeout.map(|t| t.min(LONGEST_TIMEOUT));
        let configured = agent.configure_request(request);
        let configured = if stream {
            // A stream lasts as long as the run: bound its head, then each wait, not the whole.
            configured
                .timeout_global(None)
                .timeout_recv_response(Some(self.timeout))
                .timeout_recv_body(None)
                .timeout_per_read(timeout)
        } else {
            configured.timeout_global(timeout)
        };
        agent.run(configured.build()).map_err(from_ureq)
    }
}

fn into_transport_response(response: ureq::http::Response<ureq::Body>) -> TransportResponse {
    let (parts, body) = response.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    TransportResponse {
        status: parts.status.as_u16(),
        headers,
        body: Box::new(TimeoutAware(body.into_reader())),
    }
}

/// ureq reports a read timeout as an `Other` I/O error wrapping its own
/// error; give it the `TimedOut` kind, which the rest of the crate reads.
struct TimeoutAware<R>(R);

impl<R: Read> Read for TimeoutAware<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            let timed_out = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ureq::Error>())
                .is_some_and(|inner| matches!(inner, ureq::Error::Timeout(_)));
            if timed_out {
                std::io::Error::new(std::io::ErrorKind::TimedOut, e.to_string())
            } else {
                e
            }
        })
    }
}

/// Maps ureq's error to ours: timeouts and connection failures keep their
/// kinds; TLS and protocol failures, which a retry would not heal, are
/// connection errors of kind `InvalidData`, which are not retryable.
fn from_ureq(e: ureq::Error) -> Error {
    let e = match crate::tls::not_trusted(e) {
        Ok(untrusted) => return untrusted,
        Err(e) => e,
    };
    match e {
        ureq::Error::Timeout(what) => Error::Timeout(format!("waiting for the server ({what})")),
        ureq::Error::Io(io) => Error::from_io(io, "waiting for the server"),
        ureq::Error::BadUri(uri) => Error::InvalidInput(format!("bad URL {uri}")),
        e @ (ureq::Error::HostNotFound | ureq::Error::ConnectionFailed) => {
            Error::Connection(std::io::Error::other(e))
        }
        // The ureq error stays the source: a TLS failure names its certificate problem.
        other => Error::Connection(std::io::Error::new(std::io::ErrorKind::InvalidData, other)),
    }
}
