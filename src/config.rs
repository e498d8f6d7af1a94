//! Configuration: process-wide defaults, per-client overrides, the environment.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::Duration;

use crate::{Error, Result, RetryPolicy};

/// The production API origin.
///
/// # Example
/// ```
/// assert_eq!(zaby::Environment::Production.origin(), zaby::DEFAULT_API_ORIGIN);
/// ```
pub const DEFAULT_API_ORIGIN: &str = "https://genapi.zaby.io";
/// The origin of a runtime on this machine (the `local` environment).
///
/// # Example
/// ```
/// let runtime = zaby::ZabyRuntime::builder()
///     .token("eyJhbGciOi...")
///     .api_origin(zaby::LOCAL_API_ORIGIN)
///     .build()?;
/// assert_eq!(runtime.api_origin(), "http://localhost:9080");
/// # Ok::<(), zaby::Error>(())
/// ```
pub const LOCAL_API_ORIGIN: &str = "http://localhost:9080";
/// The timeout of a plain call, and of each read of a stream, unless configured.
///
/// # Example
/// ```
/// // Give slow calls twice the usual time.
/// let runtime = zaby::ZabyRuntime::builder()
///     .token("eyJhbGciOi...")
///     .timeout(2 * zaby::DEFAULT_TIMEOUT)
///     .build()?;
/// # let _ = runtime;
/// # Ok::<(), zaby::Error>(())
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings shared by every client of the process, or given to one client.
///
/// Each `Some` field overrides the level below it: one client's options beat
/// [`configure_zaby`], which beats the environment variables `ZABY_API_ORIGIN`
/// and `ZABY_ENVIRONMENT`, which beat the built-in defaults. An origin set at
/// any level beats an environment preset set at any level.
///
/// # Example
/// ```
/// use zaby::{configure_zaby, Environment, ZabyGlobalConfig};
/// configure_zaby(ZabyGlobalConfig {
///     environment: Some(Environment::Local),
///     ..Default::default()
/// });
/// # zaby::reset_zaby_config();
/// ```
#[derive(Clone, Debug, Default)]
pub struct ZabyGlobalConfig {
    /// A preset origin; `api_origin` wins over it.
    pub environment: Option<Environment>,
    /// The API origin, e.g. `http://localhost:9080`; a trailing `/` is dropped.
    pub api_origin: Option<String>,
    /// The timeout of a plain call; for a stream, of connecting and of each read.
    pub timeout: Option<Duration>,
    /// How failed calls are retried.
    pub retries: Option<RetryPolicy>,
    /// The `user-agent` header.
    pub user_agent: Option<String>,
}

static GLOBAL: RwLock<ZabyGlobalConfig> = RwLock::new(ZabyGlobalConfig {
    environment: None,
    api_origin: None,
    timeout: None,
    retries: None,
    user_agent: None,
});

/// Sets process-wide defaults for clients built afterwards. Each `Some` field
/// replaces the one set before; `None` fields leave it as it was.
///
/// # Example
/// ```
/// use zaby::{configure_zaby, ZabyGlobalConfig, ZabyRuntime};
/// configure_zaby(ZabyGlobalConfig {
///     api_origin: Some("http://localhost:9080".into()),
///     ..Default::default()
/// });
/// let runtime = ZabyRuntime::new("eyJhbGciOi...")?;
/// assert_eq!(runtime.api_origin(), "http://localhost:9080");
/// # zaby::reset_zaby_config();
/// # Ok::<(), zaby::Error>(())
/// ```
pub fn configure_zaby(config: ZabyGlobalConfig) {
    let mut global = GLOBAL.write().unwrap_or_else(|e| e.into_inner());
    global.merge(config);
}

/// Forgets everything [`configure_zaby`] set.
///
/// # Example
/// ```
/// zaby::reset_zaby_config();
/// ```
pub fn reset_zaby_config() {
    *GLOBAL.write().unwrap_or_else(|e| e.into_inner()) = ZabyGlobalConfig::default();
}

impl ZabyGlobalConfig {
    /// Overlays `other`: each of its `Some` fields replaces ours.
    pub(crate) fn merge(&mut self, other: ZabyGlobalConfig) {
        let ZabyGlobalConfig {
            environment,
            api_origin,
            timeout,
            retries,
            user_agent,
        } = other;
        self.environment = environment.or(self.environment.take());
        self.api_origin = api_origin.or(self.api_origin.take());
        self.timeout = timeout.or(self.timeout);
        self.retries = retries.or(self.retries.take());
        self.user_agent = user_agent.or(self.user_agent.take());
    }
}

/// A named deployment of the Zaby API.
///
/// # Example
/// ```
/// use zaby::Environment;
/// let env: Environment = "Local".parse().unwrap(); // as `ZABY_ENVIRONMENT` is read
/// assert_eq!(env, Environment::Local);
/// assert_eq!(env.origin(), zaby::LOCAL_API_ORIGIN);
/// assert_eq!("eu-1".parse(), Ok(Environment::Custom("eu-1".into())));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Environment {
    /// The production service.
    Production,
    /// Staging; served from the production origin unless an origin is given.
    Staging,
    /// A runtime on this machine, [`LOCAL_API_ORIGIN`].
    Local,
    /// Any other name; served from the production origin unless an origin is given.
    Custom(String),
}

impl Environment {
    /// The origin this preset stands for.
    ///
    /// # Example
    /// ```
    /// assert_eq!(zaby::Environment::Local.origin(), "http://localhost:9080");
    /// ```
    pub fn origin(&self) -> &'static str {
        match self {
            Environment::Local => LOCAL_API_ORIGIN,
            _ => DEFAULT_API_ORIGIN,
        }
    }
}

impl FromStr for Environment {
    type Err = std::convert::Infallible;

    /// `production`, `staging`, `local` (any case); anything else is `Custom`.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "production" => Environment::Production,
            "staging" => Environment::Staging,
            "local" => Environment::Local,
            _ => Environment::Custom(s.trim().to_owned()),
        })
    }
}

/// The settings a client runs with, resolved once when it is built.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub origin: String,
    pub timeout: Duration,
    pub retries: RetryPolicy,
    pub user_agent: String,
}

/// Resolves one client's overrides against the global config, the
/// environment and the defaults, and checks the origin.
pub(crate) fn resolve(overrides: &ZabyGlobalConfig, allow_insecure_http: bool) -> Result<Settings> {
    let mut merged = ZabyGlobalConfig {
        environment: env_var("ZABY_ENVIRONMENT")
            .map(|e| e.parse().unwrap_or(Environment::Production)),
        api_origin: env_var("ZABY_API_ORIGIN"),
        ..Default::default()
    };
    merged.merge(GLOBAL.read().unwrap_or_else(|e| e.into_inner()).clone());
    merged.merge(overrides.clone());
    let origin = match (merged.api_origin, merged.environment) {
        (Some(origin), _) => origin,
        (None, Some(env)) => env.origin().to_owned(),
        (None, None) => DEFAULT_API_ORIGIN.to_owned(),
    };
    let timeout = merged.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() {
        return Err(Error::Config(
            "the timeout is zero, which would fail every call at once; give timeout(..) a \
             positive duration (the default is 30 s)"
                .into(),
        ));
    }
    let user_agent = merged
        .user_agent
        .unwrap_or_else(|| concat!("zaby-rust/", env!("CARGO_PKG_VERSION")).to_owned());
    check_user_agent(&user_agent)?;
    Ok(Settings {
        origin: check_origin(&origin, allow_insecure_http)?,
        timeout,
        retries: merged.retries.unwrap_or_default(),
        user_agent,
    })
}

/// A user agent must be a valid header value, or every call would fail.
fn check_user_agent(user_agent: &str) -> Result<()> {
    if ureq::http::HeaderValue::from_str(user_agent).is_ok() {
        return Ok(());
    }
    let (at, c) = user_agent
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && *c != '\t')
        .unwrap_or((0, '?'));
    Err(Error::Config(format!(
        "the user agent is not a valid header value: character {} is the control character \
         {c:?}; give user_agent(..) text without line breaks or other control characters",
        at + 1
    )))
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// An absolute http(s) URL, without trailing `/`; plain http only to loopback
/// unless allowed, so a bearer token never crosses a network in clear text by accident.
fn check_origin(origin: &str, allow_insecure_http: bool) -> Result<String> {
    let trimmed = origin.trim().trim_end_matches('/');
    let shown = without_user_info(trimmed);
    let bad = |why: &str| {
        Err(Error::Config(format!(
            "API origin {shown:?} {why}; expected an absolute URL such as {DEFAULT_API_ORIGIN}"
        )))
    };
    let url = match url::Url::parse(trimmed) {
        Ok(url) => url,
        Err(e) => return bad(&format!("is not a URL ({e})")),
    };
    if !url.username().is_empty() || url.password().is_some() {
        // ureq would send it as `authorization: Basic`, beside the client's own credential.
        return bad(
            "holds a user name or password, which would be sent to the server as a second \
             credential; remove them from the origin (the client sends its token or key itself)",
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return bad("has a query or fragment");
    }
    let Some(host) = url.host() else {
        return bad("has no host");
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(&host) => {}
        "http" => {
            return Err(Error::Config(format!(
                "API origin {shown:?} is plain http to a host that is not loopback, which would send \
                 the token in clear text; use https, or opt in with allow_insecure_http(true)"
            )));
        }
        _ => return bad("is not http or https"),
    }
    Ok(trimmed.to_owned())
}

/// The origin as it may be shown: a user name and password become `***`.
fn without_user_info(origin: &str) -> Cow<'_, str> {
    if let Some((scheme, rest)) = origin.split_once("://") {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{scheme}://***@{}", &rest[at + 1..]).into();
        }
    }
    origin.into()
}

/// localhost, 127.0.0.0/8 and ::1 (also as `::ffff:127.x.y.z`).
pub(crate) fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d
            .strip_suffix('.')
            .unwrap_or(d)
            .eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_trimmed() {
        assert_eq!(
            check_origin("https://a.example/", false).unwrap(),
            "https://a.example"
        );
        assert_eq!(
            check_origin("http://localhost:9080//", false).unwrap(),
            "http://localhost:9080"
        );
        assert!(check_origin("http://127.0.0.9", false).is_ok());
        assert!(check_origin("http://[::1]:80", false).is_ok());
        assert!(check_origin("http://10.0.0.1", true).is_ok());
        for bad in [
            "genapi.zaby.io",
            "ftp://x.example",
            "",
            "https://a.example/?q=1",
            "/relative",
        ] {
            assert!(
                matches!(check_origin(bad, false), Err(Error::Config(_))),
                "{bad}"
            );
        }
        let Err(Error::Config(msg)) = check_origin("http://example.com", false) else {
            panic!("plain http to a remote host must be refused");
        };
        assert!(msg.contains("allow_insecure_http"), "{msg}");
    }

    #[test]
    fn user_info_in_the_origin_is_refused_without_showing_it() {
        for origin in [
            "https://user:hunter2pass@api.example",
            "https://user:hunter2pass@api.example/?q=1",
            "https://:hunter2pass@api.example",
            "https://user:hunter2pass@api example",
        ] {
            let Err(Error::Config(msg)) = check_origin(origin, false) else {
                panic!("{origin} must be refused");
            };
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        let Err(Error::Config(msg)) = check_origin("https://user@api.example", false) else {
            panic!("a user name alone must be refused too");
        };
        assert!(msg.contains("user name or password"), "{msg}");
        assert!(msg.contains("\"https://***@api.example\""), "{msg}");
        assert_eq!(
            without_user_info("https://api.example/a@b"),
            "https://api.example/a@b"
        );
    }

    #[test]
    fn loopback_hosts() {
        let host = |h: &str| {
            let url = url::Url::parse(&format!("http://{h}/")).unwrap();
            is_loopback(&url.host().unwrap())
        };
        for h in [
            "localhost",
            "LocalHost.",
            "127.0.0.1",
            "127.200.0.9",
            "[::1]",
            "[::ffff:127.0.0.2]",
        ] {
            assert!(host(h), "{h}");
        }
        for h in [
            "localhost.example",
            "128.0.0.1",
            "[::2]",
            "[::ffff:10.0.0.1]",
            "example.com",
        ] {
            assert!(!host(h), "{h}");
        }
    }

    #[test]
    fn user_agents_must_be_header_values() {
        assert!(check_user_agent("my-app/1.0 (+https://example.com)").is_ok());
        assert!(check_user_agent("tabs\tare fine").is_ok());
        let Err(Error::Config(msg)) = check_user_agent("app/1\r\nx-injected: 1") else {
            panic!("a line break must be refused");
        };
        assert!(
            msg.contains("character 6") && msg.contains("user_agent"),
            "{msg}"
        );
    }

    #[test]
    fn environment_names_parse() {
        assert_eq!("LOCAL".parse::<Environment>().unwrap(), Environment::Local);
        assert_eq!(
            "staging".parse::<Environment>().unwrap(),
            Environment::Staging
        );
        assert_eq!(
            "qa".parse::<Environment>().unwrap(),
            Environment::Custom("qa".into())
        );
        assert_eq!(
            Environment::Custom("qa".into()).origin(),
            DEFAULT_API_ORIGIN
        );
    }
}
