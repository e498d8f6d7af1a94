//! Proxies, TLS roots and build-time refusals, against real servers on
//! loopback (tests/common: a forward proxy, a SOCKS5 relay, a TLS server with
//! a private CA).
//!
//! Building a client reads the environment, and some tests here set proxy
//! variables: every test takes one lock, so none reads the environment while
//! another writes it. Which variable wins is unit-tested in src/proxy.rs.

mod common;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::forward_proxy::ForwardProxy;
use common::socks::Socks5Relay;
use common::tls::{TestCa, TlsServer, json_answer};
use common::{Conn, SSE_HEAD, TestServer};
use zaby::{Error, EventsQuery, TlsRoots, ZabyRuntime, ZabyRuntimeBuilder};

const TOKEN: &str = "eyJhbGciOi.network-test-token";

const PROXY_VARIABLES: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

static LOCK: Mutex<()> = Mutex::new(());

/// Holds the lock, with no proxy variable set now or after the test.
struct CleanEnv(#[allow(dead_code)] MutexGuard<'static, ()>);

fn clean_env() -> CleanEnv {
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for name in PROXY_VARIABLES {
        set_env(name, None);
    }
    CleanEnv(guard)
}

impl Drop for CleanEnv {
    fn drop(&mut self) {
        for name in PROXY_VARIABLES {
            set_env(name, None);
        }
    }
}

fn set_env(name: &str, value: Option<&str>) {
    // SAFETY: every test of this binary holds LOCK, so no other thread reads
    // or writes the environment meanwhile.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

/// A runtime API on loopback: stored events are `[]`, a stream is one
/// finished event.
fn api() -> TestServer {
    TestServer::start(|mut conn: Conn| {
        if conn.request.request_line.contains("/aiui") {
            conn.write(format!(
                "{SSE_HEAD}id: 1\nevent: RunFinished\ndata: {{}}\n\n"
            ));
        } else {
            conn.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]");
        }
    })
}

fn addr_of(server: &TestServer) -> SocketAddr {
    server.url.trim_start_matches("http://").parse().unwrap()
}

fn runtime(origin: &str) -> ZabyRuntimeBuilder {
    ZabyRuntime::builder()
        .token(TOKEN)
        .api_origin(origin)
        .allow_insecure_http(true)
        .timeout(common::LIMIT)
        .max_reconnects(0)
}

/// One plain call and one stream: both must reach the API.
fn call_and_stream(runtime: &ZabyRuntime) {
    let events = runtime.runs().events("r1", EventsQuery::default()).unwrap();
    assert!(events.is_empty());
    let streamed: Vec<_> = runtime
        .runs()
        .stream("r1")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(streamed.len(), 1);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn an_http_origin_goes_through_an_http_proxy_with_its_credentials() {
    let _env = clean_env();
    let server = api();
    let proxy = ForwardProxy::start(addr_of(&server));
    let port = addr_of(&server).port();
    let with_user = proxy
        .url
        .replace("http://", "http://proxy-user:proxy-pass@");
    let runtime = runtime(&format!("http://zaby.test:{port}"))
        .proxy(Some(&with_user))
        .build()
        .unwrap();
    call_and_stream(&runtime);
    // ureq tunnels plain http too (either form is allowed for http origins).
    let expected = format!("CONNECT zaby.test:{port} HTTP/1.1");
    assert_eq!(proxy.request_lines(), vec![expected.clone(), expected]);
    let seen = proxy.bytes();
    // base64("proxy-user:proxy-pass")
    assert!(contains(
        &seen,
        b"Proxy-Authorization: Basic cHJveHktdXNlcjpwcm94eS1wYXNz"
    ));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(requests[0].header("authorization"), Some(bearer.as_str()));
    assert_eq!(
        requests[0].header("host"),
        Some(format!("zaby.test:{port}").as_str())
    );
}

#[test]
fn https_through_connect_keeps_the_token_from_the_proxy() {
    let _env = clean_env();
    let ca = TestCa::new("zaby test CA");
    let tls = TlsServer::start(&ca, |_| json_answer("[]"));
    let proxy = ForwardProxy::start(tls.addr);
    let port = tls.addr.port();
    let runtime = runtime(&format!("https://zaby.test:{port}"))
        .allow_insecure_http(false)
        .proxy(Some(&proxy.url))
        .tls_roots(TlsRoots::from_pem(ca.pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let events = runtime.runs().events("r1", EventsQuery::default()).unwrap();
    assert!(events.is_empty());
    assert_eq!(
        proxy.request_lines(),
        vec![format!("CONNECT zaby.test:{port} HTTP/1.1")]
    );
    // The server read the token; the proxy carried the handshake and the
    // encrypted request, and saw no token.
    let heads = tls.heads();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].contains(&format!("authorization: Bearer {TOKEN}")),
        "{}",
        heads[0]
    );
    let seen = proxy.bytes();
    assert!(seen.len() > 500, "the tunnel carried {} bytes", seen.len());
    assert!(!contains(&seen, TOKEN.as_bytes()));
    assert!(!contains(&seen, b"network-test-token"));
}

#[test]
fn socks5h_lets_the_proxy_resolve_the_name() {
    let _env = clean_env();
    let server = api();
    let relay = Socks5Relay::start(addr_of(&server));
    let port = addr_of(&server).port();
    let runtime = runtime(&format!("http://zaby.test:{port}"))
        .proxy(Some(&format!("socks5h://{}", relay.addr)))
        .build()
        .unwrap();
    call_and_stream(&runtime);
    let asked = format!("zaby.test:{port}");
    assert_eq!(relay.targets(), vec![asked.clone(), asked]);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_socks_proxy_in_all_proxy_is_used() {
    let _env = clean_env();
    let server = api();
    let relay = Socks5Relay::start(addr_of(&server));
    let port = addr_of(&server).port();
    set_env("ALL_PROXY", Some(&format!("socks5h://{}", relay.addr)));
    let runtime = runtime(&format!("http://zaby.test:{port}"))
        .build()
        .unwrap();
    let events = runtime.runs().events("r1", EventsQuery::default()).unwrap();
    assert!(events.is_empty());
    assert_eq!(relay.targets(), vec![format!("zaby.test:{port}")]);
}

#[test]
fn a_malformed_proxy_variable_fails_the_build_without_its_password() {
    let _env = clean_env();
    for name in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"] {
        set_env(
            name,
            Some("http://proxy-user:hunter2secret@proxy.corp:notaport"),
        );
        let err = ZabyRuntime::builder()
            .token(TOKEN)
            .api_origin("https://zaby.test")
            .build()
            .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(matches!(&err, Error::Config(_)), "{shown}");
        assert!(shown.contains(&format!("the {name} variable")), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        set_env(name, None);
    }
    // Given to the builder: the same, naming the builder.
    let err = ZabyRuntime::builder()
        .token(TOKEN)
        .proxy(Some("ftp://proxy-user:hunter2secret@proxy.corp"))
        .build()
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("the proxy given to the builder"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn proxy_credentials_stay_out_of_debug_and_errors() {
    let _env = clean_env();
    // Nothing listens on the proxy's port: the call fails connecting to it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!(
        "http://proxy-user:hunter2secret@{}",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let builder = runtime("https://zaby.test").proxy(Some(&proxy));
    assert!(!format!("{builder:?}").contains("hunter2"));
    let runtime = builder.build().unwrap();
    assert!(!format!("{runtime:?}").contains("hunter2"));
    let err = runtime
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, Error::Connection(_)), "{shown}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("proxy-user"),
        "{shown}"
    );
}

#[test]
fn loopback_is_not_proxied_whatever_the_proxy_says() {
    let _env = clean_env();
    let server = api();
    let proxy = ForwardProxy::start(addr_of(&server));
    let relay = Socks5Relay::start(addr_of(&server));
    set_env("HTTP_PROXY", Some(&proxy.url));
    set_env("ALL_PROXY", Some(&format!("socks5h://{}", relay.addr)));
    call_and_stream(&runtime(&server.url).build().unwrap());
    let localhost = server.url.replace("127.0.0.1", "localhost");
    let explicit = runtime(&localhost).proxy(Some(&proxy.url)).build().unwrap();
    call_and_stream(&explicit);
    assert_eq!(server.requests().len(), 4);
    assert_eq!(proxy.connections() + relay.connections(), 0);
}

/// A host name that is not loopback by name but resolves to loopback here
/// (the machine's own name, through /etc/hosts), so a direct connection
/// reaches a loopback server. `None` where the machine has no such name.
fn local_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()?;
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() || name == "localhost" || name.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let addrs: Vec<SocketAddr> = (name.as_str(), 80).to_socket_addrs().ok()?.collect();
    let v4_loopback = addrs.iter().any(|a| a.is_ipv4() && a.ip().is_loopback());
    (v4_loopback && addrs.iter().all(|a| a.ip().is_loopback())).then_some(name)
}

#[test]
fn no_proxy_sends_a_listed_host_direct() {
    let _env = clean_env();
    let Some(name) = local_name() else {
        eprintln!("skipped: this machine's name does not resolve to loopback");
        return;
    };
    let server = api();
    let proxy = ForwardProxy::start(addr_of(&server));
    let origin = format!("http://{name}:{}", addr_of(&server).port());
    set_env("HTTP_PROXY", Some(&proxy.url));
    let events =
        |runtime: ZabyRuntime| runtime.runs().events("r1", EventsQuery::default()).unwrap();
    // Not listed: through the proxy.
    events(runtime(&origin).build().unwrap());
    assert_eq!(proxy.connections(), 1);
    // Listed, in each of the forms curl takes: direct.
    let suffix = name.rsplit('.').next().unwrap();
    for list in [
        name.clone(),
        format!("other.example, {}", name.to_ascii_uppercase()),
        format!(".{suffix}"),
        "*".to_owned(),
    ] {
        set_env("NO_PROXY", Some(&list));
        events(runtime(&origin).build().unwrap());
        set_env("NO_PROXY", None);
        set_env("no_proxy", Some(&list));
        events(runtime(&origin).build().unwrap());
        set_env("no_proxy", None);
    }
    // `proxy(None)`: direct, whatever the environment says.
    events(runtime(&origin).proxy(None).build().unwrap());
    assert_eq!(proxy.connections(), 1);
    assert_eq!(server.requests().len(), 10);
}

#[test]
fn a_private_ca_is_trusted_through_from_pem_only() {
    let _env = clean_env();
    let ca = TestCa::new("zaby test CA");
    let tls = TlsServer::start(&ca, |_| json_answer("[]"));
    let client = |roots: Option<TlsRoots>| {
        let builder = runtime(&tls.url).allow_insecure_http(false);
        match roots {
            Some(roots) => builder.tls_roots(roots),
            None => builder,
        }
        .build()
        .unwrap()
    };
    let trusted = client(Some(TlsRoots::from_pem(ca.pem.as_bytes()).unwrap()));
    let events = trusted.runs().events("r1", EventsQuery::default()).unwrap();
    assert!(events.is_empty());
    assert_eq!(tls.heads().len(), 1);

    let wrong_ca = TestCa::new("another CA");
    let refused = vec![
        None,
        Some(TlsRoots::bundled()),
        Some(TlsRoots::from_pem(wrong_ca.pem.as_bytes()).unwrap()),
    ];
    // The system's store does not hold our CA either.
    #[cfg(feature = "platform-verifier")]
    let refused = [refused, vec![Some(TlsRoots::platform())]].concat();
    let attempts = refused.len();
    for roots in refused {
        let shown = format!("{roots:?}");
        let err = client(roots)
            .runs()
            .events("r1", EventsQuery::default())
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(&err, Error::Connection(_)), "{shown}: {err:?}");
        assert!(
            text.contains("certificate was not trusted"),
            "{shown}: {text}"
        );
        assert!(
            text.contains("tls_roots(TlsRoots::from_pem"),
            "{shown}: {text}"
        );
        assert!(!err.is_retryable(), "{shown}");
        // The TLS stack's own error is kept as the source.
        let Error::Connection(io) = &err else {
            unreachable!()
        };
        let source = std::error::Error::source(io.get_ref().unwrap()).unwrap();
        assert!(source.to_string().contains("certificate"), "{source}");
    }
    // The refused handshakes never got as far as a request.
    assert_eq!(tls.heads().len(), 1);
    assert_eq!(tls.connections(), 1 + attempts);
}

#[test]
fn pem_text_without_a_certificate_is_refused() {
    let _env = clean_env();
    let err = TlsRoots::from_pem(
        b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("no certificate")),
        "{err}"
    );
}

#[test]
fn user_info_in_the_origin_is_refused_without_the_password() {
    let _env = clean_env();
    for origin in [
        "https://user:hunter2secret@zaby.test",
        "http://user:hunter2secret@127.0.0.1:9080",
        "https://:hunter2secret@zaby.test/?q",
    ] {
        let err = ZabyRuntime::builder()
            .token(TOKEN)
            .api_origin(origin)
            .build()
            .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(matches!(&err, Error::Config(_)), "{shown}");
        assert!(
            shown.contains("user name or password") || shown.contains("***@"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        let err = zaby::Zaby::builder()
            .api_key("zk_test_0123456789")
            .api_origin(origin)
            .build()
            .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }
}

#[test]
fn a_bad_user_agent_or_a_zero_timeout_fails_the_build() {
    let _env = clean_env();
    let server = api();
    for bad in ["app/1\r\nx-injected: yes", "app/1\n", "nul\0"] {
        let err = runtime(&server.url).user_agent(bad).build().unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("user agent") && m.contains("user_agent(")),
            "{err}"
        );
    }
    let err = runtime(&server.url)
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("timeout is zero") && m.contains("timeout(")),
        "{err}"
    );
    let err = zaby::Zaby::builder()
        .api_key("zk_test_0123456789")
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    // Nothing was sent.
    assert_eq!(server.connections(), 0);
    // A user agent that is a header value is fine, non-ASCII included.
    let fine = runtime(&server.url)
        .user_agent("app/1.0 (café)")
        .build()
        .unwrap();
    fine.runs().events("r1", EventsQuery::default()).unwrap();
    assert_eq!(
        server.requests()[0].header("user-agent"),
        Some("app/1.0 (café)")
    );
}

#[test]
fn retry_after_takes_seconds_and_http_dates_and_ignores_the_rest() {
    let _env = clean_env();
    const VALUES: [&str; 9] = [
        "2",
        "1.5",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "Fri, 01 Jan 2100 00:00:00 GMT",
        "1e1",
        "+1",
        "-1",
        " ",
        "abc",
    ];
    // One answer per connection, in order: a 429 with the next value.
    let server = TestServer::start(|mut conn: Conn| {
        let value = VALUES[conn.index];
        conn.write(format!(
            "HTTP/1.1 429 Too Many Requests\r\nretry-after: {value}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
        ));
    });
    let runtime = runtime(&server.url).build().unwrap();
    let got: Vec<Option<Duration>> = VALUES
        .iter()
        .map(|value| {
            let err = runtime
                .runs()
                .events("r1", EventsQuery::default())
                .unwrap_err();
            assert_eq!(err.status(), Some(429), "{value}: {err}");
            err.retry_after()
        })
        .collect();
    assert_eq!(got[0], Some(Duration::from_secs(2)));
    assert_eq!(got[1], Some(Duration::from_millis(1500)));
    // A past date: retry now.
    assert_eq!(got[2], Some(Duration::ZERO));
    // 2100-01-01 is more than 70 years after any day this test runs on… for a while.
    let years = got[3].unwrap().as_secs() / (365 * 86_400);
    assert!((70..76).contains(&years), "{:?}", got[3]);
    assert_eq!(got[4..], [None; 5]);
}

#[test]
fn a_redirect_from_https_to_plain_http_is_refused_and_nothing_goes_there() {
    let _env = clean_env();
    let plain = api();
    let location = format!("{}/api/v1/agent-runtime/runs/r1/events", plain.url);
    let ca = TestCa::new("zaby test CA");
    let tls = TlsServer::start(&ca, move |_| {
        format!(
            "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
    });
    let client = runtime(&tls.url)
        .allow_insecure_http(false)
        .tls_roots(TlsRoots::from_pem(ca.pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    // A GET has no body, yet leaving https for http is still refused.
    let err = client
        .runs()
        .events("r1", EventsQuery::default())
        .unwrap_err();
    assert!(matches!(&err, Error::Api(e) if e.status == 302), "{err:?}");
    assert!(err.to_string().contains("plain http"), "{err}");
    assert_eq!(tls.heads().len(), 1);
    assert!(
        plain.requests().is_empty(),
        "nothing reached the http server"
    );
}
