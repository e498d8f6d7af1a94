//! Which proxy a client's requests go through: the builder's setting, else
//! the environment as curl reads it. Resolved once, when the client is built.

use std::borrow::Cow;
use std::fmt;

use ureq::ProxyProtocol;

use crate::no_proxy::{entries, matches};
use crate::{Error, Result};

/// The builder's proxy setting.
#[derive(Clone, Default)]
pub(crate) enum ProxySetting {
    /// The environment: `https_proxy`/`http_proxy`, `all_proxy`, `no_proxy`.
    #[default]
    Environment,
    /// No proxy, whatever the environment says.
    Off,
    /// This proxy URL, for every host that is not loopback.
    Url(String),
}

impl fmt::Debug for ProxySetting {
    // The URL may hold the proxy's password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::Environment => f.write_str("Environment"),
            ProxySetting::Off => f.write_str("Off"),
            ProxySetting::Url(_) => f.write_str("Url(..)"),
        }
    }
}

/// A proxy, parsed and checked. `Debug` shows neither user name nor password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProxyUrl {
    pub protocol: ProxyProtocol,
    /// As in a URL: an IPv6 address in brackets.
    pub host: String,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `no_proxy` entries (normalised) that still apply to hosts other than
    /// the origin's, as after a redirect.
    pub bypass: Vec<String>,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}",
            self.protocol.to_string().to_ascii_lowercase(),
            self.host
        )?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        if self.username.is_some() || self.password.is_some() {
            f.write_str(" (with credentials)")?;
        }
        Ok(())
    }
}

impl ProxyUrl {
    /// The proxy as ureq takes it. Loopback and the `no_proxy` entries go
    /// direct there too, for requests to a host other than the origin's.
    pub(crate) fn to_ureq(&self) -> Result<ureq::Proxy> {
        let mut builder = ureq::Proxy::builder(self.protocol).host(&self.host);
        if let Some(port) = self.port {
            builder = builder.port(port);
        }
        if let Some(user) = self.username.as_deref() {
            builder = builder.username(user);
        } else if self.password.is_some() {
            builder = builder.username("");
        }
        if let Some(password) = self.password.as_deref() {
            builder = builder.password(password);
        }
        for name in ["localhost", "127.0.0.1", "[::1]"] {
            builder = builder.no_proxy(name);
        }
        for entry in &self.bypass {
            // ureq's `example.com` is that host alone, `.example.com` its subdomains.
            builder = builder.no_proxy(entry);
            if entry.parse::<std::net::IpAddr>().is_err() {
                builder = builder.no_proxy(&format!(".{entry}"));
            } else if entry.contains(':') {
                builder = builder.no_proxy(&format!("[{entry}]"));
            }
        }
        builder.build().map_err(|e| {
            // Not expected: the parts were checked. Say so without the credentials.
            Error::Config(format!(
                "the proxy {self:?} was refused by the HTTP stack ({e})"
            ))
        })
    }
}

/// The proxy for requests to `origin`, or `None` for a direct connection.
///
/// `env` looks a variable up (the process environment, or a table in tests).
/// Loopback origins are never proxied. An explicit URL applies to every other
/// host and the environment is not read; by default the first set variable of
/// `https_proxy`, `HTTPS_PROXY` (https origins) or `http_proxy`, `HTTP_PROXY`
/// (http origins), else `all_proxy`, `ALL_PROXY`, unless `no_proxy` /
/// `NO_PROXY` lists the host. A malformed URL is an error naming its source.
pub(crate) fn resolve(
    origin: &url::Url,
    setting: &ProxySetting,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>> {
    let explicit = match setting {
        ProxySetting::Off => return Ok(None),
        ProxySetting::Url(url) => Some(parse(url, "the proxy given to the builder")?),
        ProxySetting::Environment => None,
    };
    let Some(host) = origin.host() else {
        return Ok(None);
    };
    if crate::config::is_loopback(&host) {
        return Ok(None);
    }
    if explicit.is_some() {
        return Ok(explicit);
    }
    let lookup = |names: &[&'static str]| {
        names.iter().find_map(|name| {
            env(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*name, v))
        })
    };
    let no_proxy = lookup(&["no_proxy", "NO_PROXY"])
        .map(|(_, list)| entries(&list))
        .unwrap_or_default();
    let host = host.to_string();
    if no_proxy.iter().any(|entry| matches(entry, &host)) {
        return Ok(None);
    }
    let scheme_specific: &[&'static str] = match origin.scheme() {
        "https" => &["https_proxy", "HTTPS_PROXY"],
        _ => &["http_proxy", "HTTP_PROXY"],
    };
    let Some((name, value)) =
        lookup(scheme_specific).or_else(|| lookup(&["all_proxy", "ALL_PROXY"]))
    else {
        return Ok(None);
    };
    let mut proxy = parse(&value, &format!("the {name} variable"))?;
    proxy.bypass = no_proxy;
    Ok(Some(proxy))
}

/// Parses a proxy URL as curl takes it (no scheme means `http://`).
/// Messages name `source` and never quote the value, which may hold a password.
fn parse(value: &str, source: &str) -> Result<ProxyUrl> {
    let bad = |why: &str| {
        Error::Config(format!(
            "{source} is not a usable proxy URL: {why}; expected a URL such as \
             http://proxy.example:3128 or socks5h://proxy.example:1080"
        ))
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(bad("it is empty"));
    }
    let full: Cow<str> = if value.contains("://") {
        value.into()
    } else {
        format!("http://{value}").into()
    };
    let url = url::Url::parse(&full).map_err(|e| bad(&e.to_string()))?;
    let protocol = match url.scheme() {
        "http" => ProxyProtocol::Http,
        "https" => ProxyProtocol::Https,
        "socks4" => ProxyProtocol::Socks4,
        "socks4a" => ProxyProtocol::Socks4A,
        "socks5" => ProxyProtocol::Socks5,
        "socks5h" => ProxyProtocol::Socks5h,
        _ => {
            return Err(bad(
                "its scheme is not http, https, socks4, socks4a, socks5 or socks5h",
            ));
        }
    };
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => return Err(bad("it has no host")),
    };
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it has a path, query or fragment"));
    }
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(Cow::into_owned)
            .map_err(|_| bad("its user name or password is not UTF-8 once decoded"))
    };
    let username = Some(url.username())
        .filter(|u| !u.is_empty())
        .map(decode)
        .transpose()?;
    let password = url.password().map(decode).transpose()?;
    Ok(ProxyUrl {
        protocol,
        host,
        port: url.port(),
        username,
        password,
        bypass: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Resolves with these variables as the whole environment.
    fn with_env(
        origin: &str,
        setting: ProxySetting,
        vars: &[(&str, &str)],
    ) -> Result<Option<ProxyUrl>> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        resolve(&url::Url::parse(origin).unwrap(), &setting, &|name| {
            vars.get(name).cloned()
        })
    }

    fn env_proxy(origin: &str, vars: &[(&str, &str)]) -> Option<String> {
        with_env(origin, ProxySetting::Environment, vars)
            .unwrap()
            .map(|p| format!("{p:?}"))
    }

    #[test]
    fn the_scheme_picks_the_variable_then_all_proxy() {
        let vars = [
            ("HTTPS_PROXY", "http://secure.proxy:3128"),
            ("http_proxy", "http://plain.proxy:8080"),
            ("ALL_PROXY", "socks5h://any.proxy:1080"),
        ];
        assert_eq!(
            env_proxy("https://api.example", &vars).as_deref(),
            Some("http://secure.proxy:3128")
        );
        assert_eq!(
            env_proxy("http://api.example", &vars).as_deref(),
            Some("http://plain.proxy:8080")
        );
        let only_all = [("all_proxy", "socks5://any.proxy")];
        assert_eq!(
            env_proxy("https://api.example", &only_all).as_deref(),
            Some("socks5://any.proxy")
        );
        assert_eq!(env_proxy("https://api.example", &[]), None);
        // An empty variable counts as unset.
        let empty = [("https_proxy", " "), ("HTTPS_PROXY", "http://upper:1")];
        assert_eq!(
            env_proxy("https://api.example", &empty).as_deref(),
            Some("http://upper:1")
        );
    }

    #[test]
    fn lower_case_wins_over_upper_case_as_in_curl() {
        let vars = [
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
        ];
        assert_eq!(
            env_proxy("https://api.example", &vars).as_deref(),
            Some("http://lower:1")
        );
    }

    #[test]
    fn every_proxy_kind_parses_and_a_bare_host_is_http() {
        for (url, shown) in [
            ("http://p:1", "http://p:1"),
            ("https://p:2", "https://p:2"),
            ("socks4://p:3", "socks4://p:3"),
            ("socks4a://p:4", "socks4a://p:4"),
            ("socks5://p:5", "socks5://p:5"),
            ("SOCKS5H://p:6", "socks5h://p:6"),
            ("proxy.corp:3128", "http://proxy.corp:3128"),
            ("http://[::2]:7", "http://[::2]:7"),
        ] {
            let proxy = parse(url, "test").unwrap();
            assert_eq!(format!("{proxy:?}"), shown, "{url}");
            proxy.to_ureq().unwrap();
        }
    }

    #[test]
    fn no_proxy_entries_that_match_nothing_are_dropped() {
        let kept = entries(
            "*example.com, internal*, 10.0.0.0/8, host:80, a..b, 2001:DB8:0::1, .Corp.Example.",
        );
        assert_eq!(kept, ["2001:db8::1", "corp.example"]);
        let mut proxy = parse("http://proxy.example:3128", "test").unwrap();
        proxy.bypass = entries("*example.com");
        // The HTTP stack's own matching, used after a redirect, agrees.
        let target: ureq::http::Uri = "https://evilexample.com/".parse().unwrap();
        assert!(!proxy.to_ureq().unwrap().is_no_proxy(&target));
    }

    #[test]
    fn no_proxy_lists_hosts_suffixes_and_star() {
        let proxied = |origin: &str, list: &str| {
            env_proxy(origin, &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", list)]).is_some()
        };
        assert!(!proxied("https://internal.corp", "internal.corp"));
        assert!(!proxied("https://api.internal.corp", "internal.corp"));
        assert!(!proxied("https://api.internal.corp", ".internal.corp"));
        assert!(!proxied("https://internal.corp", ".internal.corp"));
        assert!(!proxied("https://API.Internal.Corp", "*.internal.CORP"));
        assert!(!proxied("https://a.example", "other.example, a.example"));
        assert!(!proxied("https://anything.example", "*"));
        assert!(!proxied("https://10.1.2.3", "10.1.2.3"));
        assert!(!proxied("https://[2001:db8::1]", "[2001:db8::1]"));
        assert!(!proxied("https://[2001:db8::1]", "2001:db8::1"));
        assert!(proxied("https://notinternal.corp", "internal.corp"));
        assert!(proxied("https://internal.corp.evil", "internal.corp"));
        assert!(proxied("https://10.1.2.33", "10.1.2.3"));
        assert!(proxied("https://110.1.2.3", "0.1.2.3"));
        assert!(proxied("https://a.example", ""));
        // The lower-case name wins, as in curl.
        assert!(
            env_proxy(
                "https://a.example",
                &[
                    ("HTTPS_PROXY", "http://p:1"),
                    ("no_proxy", "b.example"),
                    ("NO_PROXY", "a.example")
                ]
            )
            .is_some()
        );
    }

    #[test]
    fn loopback_is_never_proxied() {
        let vars = [
            ("HTTPS_PROXY", "http://p:1"),
            ("HTTP_PROXY", "http://p:1"),
            ("ALL_PROXY", "socks5h://p:1"),
        ];
        for origin in [
            "http://localhost:9080",
            "http://LOCALHOST.",
            "http://127.0.0.1:1",
            "http://127.9.8.7",
            "https://[::1]:443",
        ] {
            assert_eq!(env_proxy(origin, &vars), None, "{origin}");
            let explicit = ProxySetting::Url("http://p:1".into());
            assert_eq!(with_env(origin, explicit, &vars).unwrap(), None, "{origin}");
        }
        assert!(env_proxy("http://127.example", &vars).is_some());
    }

    #[test]
    fn an_explicit_proxy_beats_the_environment_and_none_turns_it_off() {
        let vars = [("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", "*")];
        let explicit = ProxySetting::Url("socks5h://mine:1080".into());
        let got = with_env("https://api.example", explicit, &vars).unwrap();
        assert_eq!(format!("{got:?}"), "Some(socks5h://mine:1080)");
        let off = with_env(
            "https://api.example",
            ProxySetting::Off,
            &[("HTTPS_PROXY", "::bad")],
        );
        assert!(matches!(off, Ok(None)));
    }

    #[test]
    fn malformed_urls_fail_naming_their_source_never_the_password() {
        for bad in [
            "http://user:hunter2secret@",
            "ftp://user:hunter2secret@proxy:21",
            "http://user:hunter2secret@proxy:99999",
            "http://user:hunter2secret@proxy:1/path",
            "http://user:hunter2secret@pro xy:1",
            "http://user:%FFhunter2secret@proxy:1",
        ] {
            let vars = [("HTTPS_PROXY", bad)];
            let Err(Error::Config(msg)) =
                with_env("https://api.example", ProxySetting::Environment, &vars)
            else {
                panic!("{bad} must be refused");
            };
            assert!(msg.contains("the HTTPS_PROXY variable"), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
            let explicit = ProxySetting::Url(bad.into());
            let Err(Error::Config(msg)) = with_env("https://api.example", explicit, &[]) else {
                panic!("{bad} must be refused");
            };
            assert!(msg.contains("the proxy given to the builder"), "{msg}");
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        // An explicit proxy is checked even for a loopback origin.
        let explicit = ProxySetting::Url("gopher://p".into());
        assert!(with_env("http://127.0.0.1", explicit, &[]).is_err());
        // A variable that does not apply is not read.
        let unused = [("HTTP_PROXY", "::bad"), ("HTTPS_PROXY", "http://p:1")];
        assert!(with_env("https://api.example", ProxySetting::Environment, &unused).is_ok());
    }

    #[test]
    fn credentials_are_decoded_and_kept_out_of_debug() {
        let proxy = parse("http://us%40er:p%3Ass%20word@proxy:3128", "test").unwrap();
        assert_eq!(proxy.username.as_deref(), Some("us@er"));
        assert_eq!(proxy.password.as_deref(), Some("p:ss word"));
        let shown = format!(
            "{proxy:?} {:?}",
            ProxySetting::Url("http://u:p%3Ass@x".into())
        );
        assert!(
            !shown.contains("us@er") && !shown.contains("p:ss") && !shown.contains("us%40er"),
            "{shown}"
        );
        let transport = crate::HttpTransport::with_network(
            std::time::Duration::from_secs(1),
            Some(&proxy),
            &crate::TlsRoots::bundled(),
        )
        .unwrap();
        let shown = format!("{transport:?}");
        assert!(shown.contains("http://proxy:3128"), "{shown}");
        assert!(
            !shown.contains("us%40er") && !shown.contains("u*") && !shown.contains("word"),
            "{shown}"
        );
        let ureq = proxy.to_ureq().unwrap();
        assert_eq!(ureq.username(), Some("us@er"));
        assert_eq!(ureq.password(), Some("p:ss word"));
        assert_eq!(ureq.port(), 3128);
    }

    #[test]
    fn ureq_sends_bypassed_and_loopback_hosts_direct_after_a_redirect() {
        let vars = [
            ("HTTPS_PROXY", "http://p:1"),
            ("NO_PROXY", ".internal.corp,10.0.0.1"),
        ];
        let proxy = with_env("https://api.example", ProxySetting::Environment, &vars)
            .unwrap()
            .unwrap()
            .to_ureq()
            .unwrap();
        let direct = |url: &str| proxy.is_no_proxy(&url.parse().unwrap());
        assert!(direct("https://internal.corp/"));
        assert!(direct("https://a.internal.corp/"));
        assert!(direct("https://10.0.0.1/"));
        assert!(direct("http://localhost:9080/"));
        assert!(direct("http://127.0.0.1:9080/"));
        assert!(direct("http://[::1]:9080/"));
        assert!(!direct("https://api.example/"));
        assert!(!direct("https://xinternal.corp/"));
    }
}
