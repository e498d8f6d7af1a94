//! Which redirects are followed, and where the credential may go.
//!
//! A redirect is followed (at most [`MAX_REDIRECTS`] hops) only while it stays
//! on the configured origin or, for a request without a body, to another
//! origin that is not a step down from https to http. The credential goes to
//! the configured origin alone. Anything else fails the call with the 3xx
//! status, and nothing is sent to the new location.

use url::Url;

/// Redirects followed at most, as the official SDKs' HTTP stacks do.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// The next hop of a redirect that may be followed.
#[derive(Debug, PartialEq)]
pub(crate) struct Hop {
    pub url: Url,
    /// A 303: the next request is a GET without a body.
    pub as_get: bool,
    /// The new location is the configured origin: the credential goes along.
    pub with_credential: bool,
}

/// Where a redirect answer leads, or why it is not followed.
///
/// `hop` counts the hops already made; `has_body` is whether the request
/// that was redirected carried one.
pub(crate) fn next_hop(
    origin: &Url,
    current: &str,
    status: u16,
    location: Option<&str>,
    has_body: bool,
    hop: usize,
) -> Result<Hop, String> {
    if hop >= MAX_REDIRECTS {
        return Err("the server redirected too many times".to_owned());
    }
    let target = location
        .and_then(|location| Url::parse(current).ok()?.join(location).ok())
        .filter(|target| matches!(target.scheme(), "http" | "https"))
        .ok_or_else(|| "the server redirected without a usable location".to_owned())?;
    let ours = target.origin() == origin.origin();
    if !ours {
        if has_body {
            // The location is not quoted: a server can put anything in it.
            return Err("the server redirected a request with a body to another origin".to_owned());
        }
        let was_https = Url::parse(current).is_ok_and(|u| u.scheme() == "https");
        if was_https && target.scheme() == "http" {
            return Err("the server redirected from https to plain http".to_owned());
        }
        // A remote server must not point the client (or its proxy) at a loopback service.
        let loopback = |u: &Url| u.host().is_some_and(|h| crate::config::is_loopback(&h));
        if loopback(&target) && !loopback(origin) {
            return Err("the server redirected to a loopback address".to_owned());
        }
    }
    Ok(Hop {
        url: target,
        as_get: status == 303,
        with_credential: ours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(current: &str, location: &str, has_body: bool) -> Result<Hop, String> {
        let origin = Url::parse("https://api.example").unwrap();
        next_hop(&origin, current, 307, Some(location), has_body, 0)
    }

    #[test]
    fn our_origin_is_followed_with_the_credential_and_the_body() {
        let hop = next("https://api.example/a", "/b?x=1", true).unwrap();
        assert_eq!(hop.url.as_str(), "https://api.example/b?x=1");
        assert!(hop.with_credential);
    }

    #[test]
    fn another_origin_gets_no_body_and_no_credential() {
        let refused = next("https://api.example/a", "https://other.example/b", true);
        assert!(refused.unwrap_err().contains("another origin"));
        let hop = next("https://api.example/a", "https://other.example/b", false).unwrap();
        assert!(!hop.with_credential);
    }

    #[test]
    fn https_to_http_is_refused_even_without_a_body() {
        let refused = next("https://api.example/a", "http://api.example/b", false);
        assert!(refused.unwrap_err().contains("plain http"));
        let refused = next("https://other.example/a", "http://other.example/b", false);
        assert!(refused.is_err());
    }

    #[test]
    fn a_remote_origin_cannot_send_the_client_to_loopback() {
        for target in [
            "https://127.0.0.2:8080/x",
            "https://localhost./x",
            "https://[::1]/x",
        ] {
            let refused = next("https://api.example/a", target, false);
            assert!(refused.unwrap_err().contains("loopback"), "{target}");
        }
        let local = Url::parse("http://127.0.0.1:9080").unwrap();
        let hop = next_hop(
            &local,
            "http://127.0.0.1:9080/a",
            302,
            Some("http://localhost:9081/b"),
            false,
            0,
        );
        assert!(
            hop.is_ok(),
            "a local runtime may point at another local port"
        );
    }

    #[test]
    fn hops_are_capped_and_locations_checked() {
        let origin = Url::parse("https://api.example").unwrap();
        let at_cap = next_hop(&origin, "https://api.example/a", 302, Some("/b"), false, 5);
        assert!(at_cap.unwrap_err().contains("too many"));
        for bad in [None, Some("ftp://api.example/x"), Some("http://[::1")] {
            let e = next_hop(&origin, "https://api.example/a", 302, bad, false, 0);
            assert!(e.unwrap_err().contains("usable location"));
        }
        let see_other = next_hop(&origin, "https://api.example/a", 303, Some("/b"), true, 0);
        assert!(see_other.unwrap().as_get);
    }
}
