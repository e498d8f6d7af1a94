//! The runtime client and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{ZabyGlobalConfig, resolve};
use crate::credential::{Credential, ProviderSource, SecretProvider, check_secret};
use crate::pipeline::Core;
use crate::transport::{HttpTransport, Transport};
use crate::{Error, Result, TokenSource};

/// Stream resumes in a row, unless configured.
pub const DEFAULT_MAX_RECONNECTS: u32 = 3;

/// The client of a deployed agent's runtime API, authenticated by a runtime token (a JWT).
///
/// Cheap to clone: clones share one connection pool and configuration, and
/// it is `Send + Sync`, so one client serves every thread. `Debug` never
/// shows the token.
///
/// # Example
/// ```no_run
/// use zaby::ZabyRuntime;
/// let runtime = ZabyRuntime::new("eyJhbGciOi...")?;
/// let run = runtime.runs().start("What can you help me with?")?;
/// println!("{}", run.final_output.unwrap_or_default());
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone)]
pub struct ZabyRuntime {
    pub(crate) core: Arc<Core>,
    pub(crate) stream_idle_timeout: Option<Duration>,
    pub(crate) max_reconnects: u32,
    pub(crate) stream_max_event_size: usize,
}

impl fmt::Debug for ZabyRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZabyRuntime")
            .field("api_origin", &self.core.settings.origin)
            .field("timeout", &self.core.settings.timeout)
            .field("retries", &self.core.settings.retries)
            .field("stream_idle_timeout", &self.stream_idle_timeout)
            .field("max_reconnects", &self.max_reconnects)
            .finish_non_exhaustive()
    }
}

impl ZabyRuntime {
    /// A client with this token, configured by [`crate::configure_zaby`], the
    /// environment and the defaults.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty token or a bad origin.
    ///
    /// # Example
    /// ```
    /// let runtime = zaby::ZabyRuntime::new("eyJhbGciOi...")?;
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn new(token: impl Into<String>) -> Result<Self> {
        ZabyRuntime::builder().token(token).build()
    }

    /// A builder for every other option.
    ///
    /// # Example
    /// ```
    /// use std::time::Duration;
    /// let runtime = zaby::ZabyRuntime::builder()
    ///     .token("eyJhbGciOi...")
    ///     .api_origin("http://localhost:9080")
    ///     .timeout(Duration::from_secs(10))
    ///     .retries(3)
    ///     .build()?;
    /// assert_eq!(runtime.api_origin(), "http://localhost:9080");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn builder() -> ZabyRuntimeBuilder {
        ZabyRuntimeBuilder::default()
    }

    /// The origin calls go to, e.g. `https://genapi.zaby.io`.
    ///
    /// # Example
    /// ```
    /// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").build()?;
    /// # if std::env::var("ZABY_API_ORIGIN").is_err() && std::env::var("ZABY_ENVIRONMENT").is_err() {
    /// assert_eq!(runtime.api_origin(), zaby::DEFAULT_API_ORIGIN);
    /// # }
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn api_origin(&self) -> &str {
        &self.core.settings.origin
    }
}

/// Builds a [`ZabyRuntime`]; every setting is optional except the token (a
/// JWT minted by the provisioning side), given as a string, a provider, or a
/// [`TokenSource`].
#[derive(Default)]
#[must_use]
pub struct ZabyRuntimeBuilder {
    pub(crate) options: ClientOptions,
    stream_idle_timeout: Option<Option<Duration>>,
    max_reconnects: Option<u32>,
    stream_max_event_size: Option<usize>,
}

impl fmt::Debug for ZabyRuntimeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZabyRuntimeBuilder")
            .field("config", &self.options.config)
            .field("has_token", &self.options.secret.is_some())
            .finish_non_exhaustive()
    }
}

/// What every client's builder collects: credential, configuration, transport.
#[derive(Default)]
pub(crate) struct ClientOptions {
    pub secret: Option<Secret>,
    pub config: ZabyGlobalConfig,
    pub transport: Option<Arc<dyn Transport>>,
    pub allow_insecure_http: bool,
    /// Sent on every request; checked when the client is built.
    pub headers: Vec<(String, String)>,
    /// For the client's own transport only.
    pub proxy: crate::proxy::ProxySetting,
    pub tls_roots: crate::TlsRoots,
}

/// A secret as given: fixed, asked for on every request, or a token source.
pub(crate) enum Secret {
    Fixed(String),
    Provider(Arc<SecretProvider>),
    Source(Arc<dyn TokenSource>),
}

impl ClientOptions {
    /// Resolves the configuration and checks the credential; nothing is sent.
    /// `header` and `prefix` carry the secret (`authorization: Bearer …`);
    /// `name` is what messages call it; `missing` says how to give one.
    pub(crate) fn build(
        self,
        (header, prefix, name): (&'static str, &'static str, &'static str),
        missing: &str,
    ) -> Result<Core> {
        let (source, renews): (Arc<dyn TokenSource>, bool) = match self.secret {
            None => return Err(Error::Config(missing.to_owned())),
            Some(Secret::Fixed(secret)) => {
                // Checked now, so a bad secret fails here and not on the first call.
                check_secret(&secret, name)?;
                (
                    Arc::new(ProviderSource(Arc::new(move || Ok(secret.clone())))),
                    false,
                )
            }
            Some(Secret::Provider(provider)) => (Arc::new(ProviderSource(provider)), false),
            Some(Secret::Source(source)) => (source, true),
        };
        let settings = resolve(&self.config, self.allow_insecure_http)?;
        for (name, value) in &self.headers {
            if ureq::http::HeaderValue::from_str(value).is_err() {
                return Err(Error::Config(format!(
                    "the {name} header value contains control or non-ASCII characters"
                )));
            }
        }
        let transport = match self.transport {
            Some(transport) => transport,
            None => {
                let origin = url::Url::parse(&settings.origin)
                    .map_err(|e| Error::Config(format!("API origin: {e}")))?;
                let env = |name: &str| std::env::var(name).ok();
                let proxy = crate::proxy::resolve(&origin, &self.proxy, &env)?;
                Arc::new(HttpTransport::with_network(
                    settings.timeout,
                    proxy.as_ref(),
                    &self.tls_roots,
                )?)
            }
        };
        Ok(Core {
            settings,
            transport,
            credential: Credential {
                source,
                renews,
                header,
                prefix,
                name,
            },
            headers: self.headers,
        })
    }
}

/// The setters every client builder shares; each builder has an `options: ClientOptions`.
/// `$secret` and `$provider` name the credential's two setters; `$what` describes it.
macro_rules! shared_setters {
    ($secret:ident, $provider:ident, $what:literal) => {
        #[doc = concat!("The ", $what, ".")]
        pub fn $secret(mut self, secret: impl Into<String>) -> Self {
            self.options.secret = Some($crate::client::Secret::Fixed(secret.into()));
            self
        }

        #[doc = concat!("A function asked for the ", $what, " before every request, so a rotated")]
        /// one is picked up without rebuilding the client.
        pub fn $provider<F>(mut self, f: F) -> Self
        where
            F: Fn() -> std::result::Result<String, Box<dyn std::error::Error + Send + Sync>>
                + Send
                + Sync
                + 'static,
        {
            self.options.secret = Some($crate::client::Secret::Provider(std::sync::Arc::new(f)));
            self
        }

        /// Overrides for this client: each `Some` field beats [`crate::configure_zaby`]
        /// and the environment. Later setters override it in turn.
        pub fn config(mut self, overrides: $crate::ZabyGlobalConfig) -> Self {
            self.options.config.merge(overrides);
            self
        }

        /// The API origin. Defaults to the resolved configuration, else
        /// [`crate::DEFAULT_API_ORIGIN`].
        pub fn api_origin(mut self, origin: impl Into<String>) -> Self {
            self.options.config.api_origin = Some(origin.into());
            self
        }

        /// An environment preset; an origin given at any level wins over it.
        /// Defaults to `ZABY_ENVIRONMENT`, else production.
        pub fn environment(mut self, env: $crate::Environment) -> Self {
            self.options.config.environment = Some(env);
            self
        }

        /// The limit of a plain call, and of connecting a stream. Defaults to 30 s.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.config.timeout = Some(timeout);
            self
        }

        /// How failed calls are retried: a number of retries, or a
        /// [`RetryPolicy`](crate::RetryPolicy). Defaults to none.
        pub fn retries(mut self, policy: impl Into<$crate::RetryPolicy>) -> Self {
            self.options.config.retries = Some(policy.into());
            self
        }

        /// The `user-agent` header. Defaults to `zaby-rust/<version>`.
        pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
            self.options.config.user_agent = Some(user_agent.into());
            self
        }

        /// The proxy for every request, as a URL (`http`, `https`, `socks4`,
        /// `socks4a`, `socks5` or `socks5h`); `None`: no proxy, whatever the
        /// environment says. Loopback hosts (localhost, 127.0.0.0/8, ::1) are
        /// never proxied. A given proxy applies to every other host and the
        /// environment is not read.
        ///
        /// Defaults to the environment, read as curl reads it: `https_proxy` /
        /// `HTTPS_PROXY` for an https origin, `http_proxy` / `HTTP_PROXY` for an
        /// http one, else `all_proxy` / `ALL_PROXY`; `no_proxy` / `NO_PROXY` lists
        /// hosts that go direct (`example.com` also covers its subdomains, a
        /// leading `.` is optional, `*` is every host). A malformed proxy URL,
        /// here or in the variable that applies, makes `build()` fail with
        /// [`Error::Config`](crate::Error::Config) naming where it came from.
        /// Not used with your own [`transport`](Self::transport).
        ///
        /// # Example
        /// ```
        /// let runtime = zaby::ZabyRuntime::builder()
        ///     .token("eyJhbGciOi...")
        ///     .proxy(Some("socks5h://proxy.corp.example:1080"))
        ///     .build()?;
        /// # let _ = runtime;
        /// # Ok::<(), zaby::Error>(())
        /// ```
        pub fn proxy(mut self, proxy: Option<&str>) -> Self {
            self.options.proxy = match proxy {
                Some(url) => $crate::proxy::ProxySetting::Url(url.to_owned()),
                None => $crate::proxy::ProxySetting::Off,
            };
            self
        }

        /// The certificate authorities an https origin (and an https proxy) is
        /// checked against: [`TlsRoots::from_pem`](crate::TlsRoots::from_pem) for a
        /// private CA. Not used with your own [`transport`](Self::transport).
        /// Defaults to [`TlsRoots::bundled`](crate::TlsRoots::bundled).
        ///
        /// # Example
        /// ```no_run
        /// let ca = std::fs::read("/etc/ssl/private-ca.pem")?;
        /// let runtime = zaby::ZabyRuntime::builder()
        ///     .token("eyJhbGciOi...")
        ///     .api_origin("https://zaby.internal.example")
        ///     .tls_roots(zaby::TlsRoots::from_pem(&ca)?)
        ///     .build()?;
        /// # let _ = runtime;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn tls_roots(mut self, roots: $crate::TlsRoots) -> Self {
            self.options.tls_roots = roots;
            self
        }

        /// The HTTP transport. Defaults to a new [`HttpTransport`](crate::HttpTransport)
        /// with this builder's timeout, proxy and TLS roots; yours is used as it
        /// is, and [`proxy`](Self::proxy) and [`tls_roots`](Self::tls_roots) do not apply.
        pub fn transport(mut self, transport: impl $crate::Transport + 'static) -> Self {
            self.options.transport = Some(std::sync::Arc::new(transport));
            self
        }

        /// Allows plain `http` to a host that is not loopback, which sends the
        /// credential in clear text. Defaults to `false`.
        pub fn allow_insecure_http(mut self, yes: bool) -> Self {
            self.options.allow_insecure_http = yes;
            self
        }
    };
}
pub(crate) use shared_setters;

impl ZabyRuntimeBuilder {
    shared_setters!(token, token_provider, "runtime token");

    /// A [`TokenSource`], asked before every request; a token the server
    /// refuses as expired or used up is invalidated and the call repeated
    /// once with the next token (see [`TokenSource`] for which calls).
    pub fn token_source(mut self, source: impl TokenSource + 'static) -> Self {
        self.options.secret = Some(Secret::Source(Arc::new(source)));
        self
    }

    /// How long a stream may stay silent (comments count as activity) before
    /// it fails with [`Error::Timeout`]; `None` waits forever. Defaults to the timeout.
    pub fn stream_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.stream_idle_timeout = Some(timeout);
        self
    }

    /// How many times in a row a broken stream is resumed. Defaults to 3.
    pub fn max_reconnects(mut self, n: u32) -> Self {
        self.max_reconnects = Some(n);
        self
    }

    /// The most one streamed event may buffer; a larger one ends the stream
    /// with [`Error::Stream`]. Defaults to 16 MiB.
    pub fn stream_max_event_size(mut self, bytes: usize) -> Self {
        self.stream_max_event_size = Some(bytes);
        self
    }

    /// Builds the client. Nothing is sent.
    ///
    /// # Errors
    /// [`Error::Config`] when no token was given, the token is empty, the
    /// origin is not an absolute http(s) URL, holds a user name or password,
    /// or is plain http to a host that is not loopback without
    /// [`allow_insecure_http`](Self::allow_insecure_http); when the user agent
    /// is not a valid header value, the timeout is zero, or the proxy URL
    /// (given, or in the environment) is malformed.
    ///
    /// # Example
    /// ```
    /// let err = zaby::ZabyRuntime::builder()
    ///     .token("eyJhbGciOi...")
    ///     .api_origin("http://example.com")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("allow_insecure_http"));
    /// ```
    pub fn build(self) -> Result<ZabyRuntime> {
        let core = self.options.build(
            ("authorization", "Bearer ", "runtime token"),
            "no runtime token: pass one to ZabyRuntime::new, or to the builder's token or token_provider",
        )?;
        Ok(ZabyRuntime {
            stream_idle_timeout: self
                .stream_idle_timeout
                .unwrap_or(Some(core.settings.timeout)),
            max_reconnects: self.max_reconnects.unwrap_or(DEFAULT_MAX_RECONNECTS),
            stream_max_event_size: self
                .stream_max_event_size
                .unwrap_or(crate::sse::DEFAULT_MAX_EVENT_SIZE),
            core: Arc::new(core),
        })
    }
}
