//! Macros shared by the builders: request bodies' text setters, and the
//! setters both client builders have.

/// Builder setters `fn name(self, impl Into<String>) -> Self` for optional
/// text fields of the same name, each with its doc comment.
macro_rules! text_setters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.$name = Some(value.into());
            self
        }
    )*};
}

/// The setters both client builders share (`ZabyRuntimeBuilder`, `ZabyBuilder`);
/// each builder has an `options: ClientOptions`. `$secret` and `$provider` name
/// the credential's two setters; `$what` describes it. The examples show the
/// runtime builder and read the same on the other.
macro_rules! shared_setters {
    ($secret:ident, $provider:ident, $what:literal) => {
        #[doc = concat!("The ", $what, ".")]
        ///
        /// # Example
        /// ```
        /// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").build()?;
        /// # let _ = runtime;
        /// # Ok::<(), zaby::Error>(())
        /// ```
        pub fn $secret(mut self, secret: impl Into<String>) -> Self {
            self.options.secret = Some($crate::client::Secret::Fixed(secret.into()));
            self
        }

        #[doc = concat!("A function asked for the ", $what, " before every request, so a rotated")]
        /// one is picked up without rebuilding the client.
        ///
        /// # Example
        /// ```
        /// let runtime = zaby::ZabyRuntime::builder()
        ///     .token_provider(|| Ok(std::env::var("ZABY_RUNTIME_TOKEN")?))
        ///     .build()?;
        /// # let _ = runtime;
        /// # Ok::<(), zaby::Error>(())
        /// ```
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
        ///
        /// # Example
        /// ```
        /// use std::time::Duration;
        /// let runtime = zaby::ZabyRuntime::builder()
        ///     .token("eyJhbGciOi...")
        ///     .config(zaby::ZabyGlobalConfig { timeout: Some(Duration::from_secs(5)), ..Default::default() })
        ///     .build()?;
        /// # let _ = runtime;
        /// # Ok::<(), zaby::Error>(())
        /// ```
        pub fn config(mut self, overrides: $crate::ZabyGlobalConfig) -> Self {
            self.options.config.merge(overrides);
            self
        }

        /// The API origin. Defaults to the resolved configuration, else
        /// [`crate::DEFAULT_API_ORIGIN`].
        ///
        /// # Example
        /// ```
        /// let runtime = zaby::ZabyRuntime::builder()
        ///     .token("eyJhbGciOi...")
        ///     .api_origin("https://genapi.zaby.io/")
        ///     .build()?;
        /// assert_eq!(runtime.api_origin(), "https://genapi.zaby.io");
        /// # Ok::<(), zaby::Error>(())
        /// ```
        pub fn api_origin(mut self, origin: impl Into<String>) -> Self {
            self.options.config.api_origin = Some(origin.into());
            self
        }

        /// An environment preset; an origin given at any level wins over it.
        /// Defaults to `ZABY_ENVIRONMENT`, else production.
        ///
        /// # Example
        /// ```
        /// let runtime = zaby::ZabyRuntime::builder()
        ///     .token("eyJhbGciOi...")
        ///     .environment(zaby::Environment::Local)
        ///     .build()?;
        /// # if std::env::var("ZABY_API_ORIGIN").is_err() {
        /// assert_eq!(runtime.api_origin(), zaby::LOCAL_API_ORIGIN);
        /// # }
        /// # Ok::<(), zaby::Error>(())
        /// ```
        pub fn environment(mut self, env: $crate::Environment) -> Self {
            self.options.config.environment = Some(env);
            self
        }

        /// The limit of a plain call, and of connecting a stream. Defaults to 30 s.
        ///
        /// # Example
        /// ```
        /// let runtime = zaby::ZabyRuntime::builder()
        ///     .token("eyJhbGciOi...")
        ///     .timeout(std::time::Duration::from_secs(10))
        ///     .build()?;
        /// # let _ = runtime;
        /// # Ok::<(), zaby::Error>(())
        /// ```
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.config.timeout = Some(timeout);
            self
        }

        /// How failed calls are retried: a number of retries, or a
        /// [`RetryPolicy`](crate::RetryPolicy). Defaults to none.
        ///
        /// # Example
        /// ```
        /// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").retries(3).build()?;
        /// # let _ = runtime;
        /// # Ok::<(), zaby::Error>(())
        /// ```
        pub fn retries(mut self, policy: impl Into<$crate::RetryPolicy>) -> Self {
            self.options.config.retries = Some(policy.into());
            self
        }

        /// The `user-agent` header. Defaults to `zaby-rust/<version>`.
        ///
        /// # Example
        /// ```
        /// let runtime = zaby::ZabyRuntime::builder()
        ///     .token("eyJhbGciOi...")
        ///     .user_agent("my-cli/1.2")
        ///     .build()?;
        /// # let _ = runtime;
        /// # Ok::<(), zaby::Error>(())
        /// ```
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
        ///
        /// # Example
        /// ```
        /// let mock = zaby::testing::MockTransport::new();
        /// let runtime = zaby::ZabyRuntime::builder().token("eyJhbGciOi...").transport(mock).build()?;
        /// # let _ = runtime;
        /// # Ok::<(), zaby::Error>(())
        /// ```
        pub fn transport(mut self, transport: impl $crate::Transport + 'static) -> Self {
            self.options.transport = Some(std::sync::Arc::new(transport));
            self
        }

        /// Allows plain `http` to a host that is not loopback, which sends the
        /// credential in clear text. Defaults to `false`.
        ///
        /// # Example
        /// ```
        /// let runtime = zaby::ZabyRuntime::builder()
        ///     .token("eyJhbGciOi...")
        ///     .api_origin("http://zaby.lan:9080")
        ///     .allow_insecure_http(true)
        ///     .build()?;
        /// # let _ = runtime;
        /// # Ok::<(), zaby::Error>(())
        /// ```
        pub fn allow_insecure_http(mut self, yes: bool) -> Self {
            self.options.allow_insecure_http = yes;
            self
        }
    };
}
