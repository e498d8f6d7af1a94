//! Where a client's secret comes from (a token, a provider, a token source)
//! and which header carries it. The bottom of the call pipeline: it knows
//! nothing of the clients above it.

use std::sync::Arc;

use crate::{Error, Result, TokenError};

/// Gives a runtime client its token, asked before every request.
///
/// When the server refuses a token as expired or used up, the client calls
/// [`invalidate`](TokenSource::invalidate) with it and repeats the call once
/// with the next token: every GET, `POST /runs` (same request id), opening
/// and resuming a stream. Approvals and feedback are not repeated.
///
/// # Example
/// ```
/// use zaby::{TokenError, TokenSource};
///
/// struct FromFile;
/// impl TokenSource for FromFile {
///     fn token(&self) -> Result<String, TokenError> {
///         Ok(std::fs::read_to_string("/run/secrets/zaby-token")?.trim().to_owned())
///     }
/// }
/// let runtime = zaby::ZabyRuntime::builder().token_source(FromFile).build()?;
/// # let _ = runtime;
/// # Ok::<(), zaby::Error>(())
/// ```
pub trait TokenSource: Send + Sync {
    /// The token to send now.
    ///
    /// # Errors
    /// Whatever kept the source from having one; the call fails with
    /// [`crate::Error::Config`] carrying its message, or [`crate::Error::Credential`]
    /// when a retryable [`crate::Error`] caused it.
    fn token(&self) -> Result<String, TokenError>;

    /// Called with the token that the server said expired or is used up. A
    /// stale call (a newer token was obtained since) must keep the newer one.
    fn invalidate(&self, _token: &str) {}
}

/// One source shared by several clients (or kept to look at).
impl<T: TokenSource + ?Sized> TokenSource for std::sync::Arc<T> {
    fn token(&self) -> Result<String, TokenError> {
        (**self).token()
    }

    fn invalidate(&self, token: &str) {
        (**self).invalidate(token)
    }
}

/// A function asked for the secret before every request.
pub(crate) type SecretProvider = dyn Fn() -> std::result::Result<String, TokenError> + Send + Sync;

/// A plain provider (or a fixed secret) as a token source that never renews.
pub(crate) struct ProviderSource(pub Arc<SecretProvider>);

impl TokenSource for ProviderSource {
    fn token(&self) -> std::result::Result<String, TokenError> {
        (self.0)()
    }
}

/// Where the credential comes from and which header carries it.
#[derive(Clone)]
pub(crate) struct Credential {
    pub source: Arc<dyn TokenSource>,
    /// Whether a refused token is invalidated and the call repeated once
    /// with the next one (a [`TokenSource`] given as such).
    pub renews: bool,
    /// `authorization` (runtime token) or `x-zaby-api-key` (API key).
    pub header: &'static str,
    /// `Bearer ` or nothing.
    pub prefix: &'static str,
    /// What the secret is called in messages: "runtime token", "API key".
    pub name: &'static str,
}

impl Credential {
    /// Asks the provider, and checks that the answer fits in a header.
    pub(crate) fn get(&self) -> Result<String> {
        let secret = self
            .source
            .token()
            .map_err(|e| Error::from_provider(self.name, e))?;
        check_secret(&secret, self.name)?;
        Ok(secret)
    }

    /// The header that carries `secret`.
    pub(crate) fn header(&self, secret: &str) -> (String, String) {
        (self.header.to_owned(), format!("{}{secret}", self.prefix))
    }
}

/// A secret must be non-empty and printable, or the request cannot carry it.
pub(crate) fn check_secret(secret: &str, name: &str) -> Result<()> {
    if secret.trim().is_empty() {
        return Err(Error::Config(format!("the {name} is empty")));
    }
    if secret.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Err(Error::Config(format!(
            "the {name} contains spaces, control or non-ASCII characters; pass the token itself"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_must_fit_a_header() {
        assert!(check_secret("eyJ.abc-_", "runtime token").is_ok());
        assert!(check_secret("  ", "runtime token").is_err());
        assert!(check_secret("a b", "runtime token").is_err());
        assert!(check_secret("a\nb", "runtime token").is_err());
    }
}
