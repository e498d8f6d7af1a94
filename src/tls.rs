//! Which certificate authorities an https origin is checked against, and
//! what a certificate the client does not trust turns into.

use std::fmt;
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::{Error, Result};

/// The certificate authorities an https origin (and an https proxy) is checked
/// against; give it to the builder's `tls_roots`. Cheap to clone.
///
/// # Example
/// ```no_run
/// let ca = std::fs::read("/etc/zaby/private-ca.pem")?;
/// let runtime = zaby::ZabyRuntime::builder()
///     .token("eyJhbGciOi...")
///     .api_origin("https://zaby.internal.example")
///     .tls_roots(zaby::TlsRoots::from_pem(&ca)?)
///     .build()?;
/// # let _ = runtime;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TlsRoots {
    roots: Roots,
}

#[derive(Clone)]
enum Roots {
    Bundled,
    #[cfg(feature = "platform-verifier")]
    Platform,
    Pem(Arc<Vec<Certificate<'static>>>),
}

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.roots {
            Roots::Bundled => f.write_str("TlsRoots::bundled()"),
            #[cfg(feature = "platform-verifier")]
            Roots::Platform => f.write_str("TlsRoots::platform()"),
            Roots::Pem(certs) => write!(f, "TlsRoots::from_pem({} certificates)", certs.len()),
        }
    }
}

impl Default for TlsRoots {
    fn default() -> Self {
        TlsRoots::bundled()
    }
}

impl TlsRoots {
    /// Mozilla's root certificates, compiled into the crate (`webpki-roots`):
    /// the same on every machine, whatever its trust store. The default.
    ///
    /// # Example
    /// ```
    /// let runtime = zaby::ZabyRuntime::builder()
    ///     .token("eyJhbGciOi...")
    ///     .tls_roots(zaby::TlsRoots::bundled())
    ///     .build()?;
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    pub fn bundled() -> Self {
        TlsRoots {
            roots: Roots::Bundled,
        }
    }

    /// The operating system's trust store and its policies (through
    /// `rustls-platform-verifier`), as a TLS-inspecting corporate gateway
    /// usually needs. Needs the cargo feature `platform-verifier`.
    ///
    /// # Example
    /// ```
    /// let runtime = zaby::ZabyRuntime::builder()
    ///     .token("eyJhbGciOi...")
    ///     .tls_roots(zaby::TlsRoots::platform())
    ///     .build()?;
    /// # let _ = runtime;
    /// # Ok::<(), zaby::Error>(())
    /// ```
    #[cfg(feature = "platform-verifier")]
    pub fn platform() -> Self {
        TlsRoots {
            roots: Roots::Platform,
        }
    }

    /// Only the certificates in this PEM text, for a private certificate
    /// authority: the bundled roots no longer apply. Other PEM sections (a
    /// private key, say) are skipped.
    ///
    /// # Errors
    /// [`Error::Config`] when the text holds no certificate, or a section of
    /// it is not valid PEM.
    ///
    /// # Example
    /// ```
    /// let err = zaby::TlsRoots::from_pem(b"not a certificate").unwrap_err();
    /// assert!(matches!(err, zaby::Error::Config(_)));
    /// ```
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => {
                    // Read it as the TLS stack will: one it would skip is refused now.
                    let der = rustls::pki_types::CertificateDer::from(cert.der().to_vec());
                    if rustls::RootCertStore::empty().add(der).is_err() {
                        return Err(Error::Config(
                            "TLS roots: a CERTIFICATE section of the PEM text is not a certificate"
                                .into(),
                        ));
                    }
                    certs.push(cert.to_owned());
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::Config(format!(
                        "TLS roots: the PEM text is not valid ({e})"
                    )));
                }
            }
        }
        if certs.is_empty() {
            return Err(Error::Config(
                "TLS roots: the PEM text holds no certificate; pass the CA's certificate \
                 (a -----BEGIN CERTIFICATE----- section)"
                    .into(),
            ));
        }
        Ok(TlsRoots {
            roots: Roots::Pem(Arc::new(certs)),
        })
    }

    /// The TLS configuration of the ureq agent.
    pub(crate) fn tls_config(&self) -> TlsConfig {
        let roots = match &self.roots {
            Roots::Bundled => RootCerts::WebPki,
            #[cfg(feature = "platform-verifier")]
            Roots::Platform => RootCerts::PlatformVerifier,
            Roots::Pem(certs) => RootCerts::Specific(certs.clone()),
        };
        TlsConfig::builder().root_certs(roots).build()
    }
}

/// A certificate the client did not trust: the message says how to fix it;
/// the error from the TLS stack is its source.
#[derive(Debug)]
struct NotTrusted {
    message: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for NotTrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NotTrusted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// `Err(e)` back when `e` is not about the server's certificate; else the
/// [`Error::Connection`] (kind `InvalidData`, not retryable) that explains it.
pub(crate) fn not_trusted(e: ureq::Error) -> std::result::Result<Error, ureq::Error> {
    let certificate = |e: &rustls::Error| match e {
        rustls::Error::InvalidCertificate(why) => Some(format!("{why:?}")),
        _ => None,
    };
    let (why, source): (String, Box<dyn std::error::Error + Send + Sync>) = match e {
        ureq::Error::Rustls(tls) => match certificate(&tls) {
            Some(why) => (why, Box::new(tls)),
            None => return Err(ureq::Error::Rustls(tls)),
        },
        ureq::Error::Io(io) => {
            let why = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .and_then(certificate);
            match why {
                Some(why) => (why, Box::new(io)),
                None => return Err(ureq::Error::Io(io)),
            }
        }
        other => return Err(other),
    };
    let message = format!(
        "the server's TLS certificate was not trusted ({why}); if the server uses a private \
         certificate authority, give its certificate to the builder with \
         tls_roots(TlsRoots::from_pem(..)), or use the system's trust store with \
         tls_roots(TlsRoots::platform()) (cargo feature platform-verifier)"
    );
    Ok(Error::Connection(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        NotTrusted { message, source },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_without_a_certificate_is_refused() {
        for pem in [
            &b""[..],
            b"hello",
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
        ] {
            assert!(matches!(TlsRoots::from_pem(pem), Err(Error::Config(_))));
        }
        // Not DER at all, and an empty SEQUENCE the TLS stack would skip.
        for body in ["AAAA", "MAA="] {
            let pem = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
            let refused = TlsRoots::from_pem(pem.as_bytes());
            assert!(matches!(refused, Err(Error::Config(_))), "{body}");
        }
    }

    #[test]
    fn certificate_errors_say_how_to_fix_them() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let Ok(Error::Connection(e)) = not_trusted(ureq::Error::Io(io)) else {
            panic!("a certificate error");
        };
        let text = e.to_string();
        assert!(text.contains("not trusted (UnknownIssuer)"), "{text}");
        assert!(text.contains("tls_roots"), "{text}");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        let source = std::error::Error::source(e.get_ref().unwrap()).unwrap();
        assert!(
            source.to_string().contains("invalid peer certificate"),
            "{source}"
        );
        let other =
            std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(not_trusted(ureq::Error::Io(other)).is_err());
        assert!(not_trusted(ureq::Error::HostNotFound).is_err());
    }
}
