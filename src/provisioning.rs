//! The provisioning client: holds the tenant API key, mints runtime tokens.

use std::fmt;
use std::sync::Arc;

use crate::Result;
use crate::client::ClientOptions;
use crate::pipeline::Core;

/// The provisioning client, for trusted server code: it holds the tenant API
/// key (sent as `x-zaby-api-key`) and mints the runtime tokens that
/// [`crate::ZabyRuntime`] uses. Never ship the key to a browser or a device.
///
/// Cheap to clone; `Send + Sync`; configured like `ZabyRuntime`. `Debug`
/// never shows the key.
///
/// # Example
/// ```no_run
/// use zaby::{RuntimeTokenRequest, Zaby, ZabyRuntime};
///
/// let zaby = Zaby::new(std::env::var("ZABY_API_KEY").unwrap())?;
/// let minted = zaby.runtime_tokens().create(RuntimeTokenRequest::new("app-id", "deployment-id"))?;
/// let runtime = ZabyRuntime::new(minted.token)?;
/// # let _ = runtime;
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Clone)]
pub struct Zaby {
    pub(crate) core: Arc<Core>,
}

impl fmt::Debug for Zaby {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Zaby")
            .field("api_origin", &self.core.settings.origin)
            .finish_non_exhaustive()
    }
}

impl Zaby {
    /// A client with this API key, configured by [`crate::configure_zaby`],
    /// the environment and the defaults.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for an empty key or a bad origin.
    ///
    /// # Example
    /// ```
    /// let zaby = zaby::Zaby::new("zk_test_0123456789")?;
    /// # let _ = zaby;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn new(api_key: impl Into<String>) -> Result<Self> {
        Zaby::builder().api_key(api_key).build()
    }

    /// A builder for every other option.
    ///
    /// # Example
    /// ```
    /// let zaby = zaby::Zaby::builder()
    ///     .api_key("zk_test_0123456789")
    ///     .tenant_id("tenant-7")
    ///     .timeout(std::time::Duration::from_secs(10))
    ///     .build()?;
    /// # let _ = zaby;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn builder() -> ZabyBuilder {
        ZabyBuilder::default()
    }

    /// The origin calls go to.
    ///
    /// # Example
    /// ```
    /// let zaby = zaby::Zaby::builder().api_key("zk_test_0123456789").api_origin("http://localhost:9080/").build()?;
    /// assert_eq!(zaby.api_origin(), "http://localhost:9080");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn api_origin(&self) -> &str {
        &self.core.settings.origin
    }
}

/// Builds a [`Zaby`]; every setting is optional except the API key.
///
/// # Example
/// ```
/// let err = zaby::Zaby::builder().tenant_id("tenant-7").build().unwrap_err();
/// assert!(matches!(err, zaby::Error::Config(_))); // no API key
/// let zaby = zaby::Zaby::builder().api_key("zk_test_0123456789").tenant_id("tenant-7").build()?;
/// # let _ = zaby;
/// # Ok::<(), zaby::Error>(())
/// ```
#[derive(Default)]
#[must_use]
pub struct ZabyBuilder {
    options: ClientOptions,
}

impl fmt::Debug for ZabyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZabyBuilder")
            .field("config", &self.options.config)
            .field("has_api_key", &self.options.secret.is_some())
            .finish_non_exhaustive()
    }
}

impl ZabyBuilder {
    shared_setters!(api_key, api_key_provider, "tenant API key");

    /// The tenant, sent as `x-tenant-id` on every provisioning call (the
    /// TypeScript client's `tenantId`).
    ///
    /// # Example
    /// ```
    /// let zaby = zaby::Zaby::builder().api_key("zk_test_0123456789").tenant_id("tenant-7").build()?;
    /// # let _ = zaby;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn tenant_id(mut self, id: impl Into<String>) -> Self {
        self.options
            .headers
            .retain(|(name, _)| name != "x-tenant-id");
        self.options
            .headers
            .push(("x-tenant-id".to_owned(), id.into()));
        self
    }

    /// Builds the client. Nothing is sent.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when no key was given, the key is empty, or
    /// the origin is refused (as for [`crate::ZabyRuntimeBuilder::build`]).
    ///
    /// # Example
    /// ```
    /// let zaby = zaby::Zaby::builder().api_key("zk_test_0123456789").api_origin("http://localhost:9080").build()?;
    /// assert_eq!(zaby.api_origin(), "http://localhost:9080");
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn build(self) -> Result<Zaby> {
        let core = self.options.build(
            ("x-zaby-api-key", "", "API key"),
            "no API key: pass one to Zaby::new, or to the builder's api_key or api_key_provider",
        )?;
        Ok(Zaby {
            core: Arc::new(core),
        })
    }
}
