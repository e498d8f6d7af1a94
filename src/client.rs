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
///
/// # Example
/// ```
/// // Resume a flaky stream twice as often as by default.
/// let runtime = zaby::ZabyRuntime::builder()
///     .token("eyJhbGciOi...")
///     .max_reconnects(2 * zaby::DEFAULT_MAX_RECONNECTS)
///     .build()?;
/// # let _ = runtime;
/// # Ok::<(), zaby::Error>(())
/// ```
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
///
/// # Example
/// ```
/// use std::time::Duration;
/// let runtime = zaby::ZabyRuntime::builder()
///     .token("eyJhbGciOi...")
///     .api_origin("http://localhost:9080")
///     .timeout(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(runtime.api_origin(), "http://localhost:9080");
/// # Ok::<(), zaby::Error>(())
/// ```
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

impl ZabyRuntimeBuilder {
    shared_setters!(token, token_provider, "runtime token");

    /// A [`TokenSource`], asked before every request; a token the server
    /// refuses as expired or used up is invalidated and the call repeated
    /// once with the next token (see [`TokenSource`] for which calls).
    ///
    /// # Example
    /// ```
    /// struct Fixed;
    /// impl zaby::TokenSource for Fixed {
    ///     fn token(&self) -> Result<String, zaby::TokenError> {
    ///         Ok("eyJhbGciOi...".to_owned())
    ///     }
    /// }
    /// let runtime = zaby::ZabyRuntime::builder().token_source(Fixed).build()?;
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn token_source(mut self, source: impl TokenSource + 'static) -> Self {
        self.options.secret = Some(Secret::Source(Arc::new(source)));
        self
    }

    /// How long a stream may stay silent (comments count as activity) before
    /// it fails with [`Error::Timeout`]; `None` waits forever. Defaults to the timeout.
    ///
    /// # Example
    /// ```
    /// // The agent may think for minutes between events.
    /// let runtime = zaby::ZabyRuntime::builder()
    ///     .token("eyJhbGciOi...")
    ///     .stream_idle_timeout(Some(std::time::Duration::from_secs(300)))
    ///     .build()?;
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn stream_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.stream_idle_timeout = Some(timeout);
        self
    }

    /// How many times in a row a broken stream is resumed. Defaults to 3.
    ///
    /// # Example
    /// ```
    /// // Never resume: a cut is an error at once.
    /// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").max_reconnects(0).build()?;
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn max_reconnects(mut self, n: u32) -> Self {
        self.max_reconnects = Some(n);
        self
    }

    /// The most one streamed event may buffer; a larger one ends the stream
    /// with [`Error::Stream`]. Defaults to 16 MiB.
    ///
    /// # Example
    /// ```
    /// let runtime = zaby::ZabyRuntime::builder()
    ///     .token("eyJhbGciOi...")
    ///     .stream_max_event_size(1024 * 1024)
    ///     .build()?;
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
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
