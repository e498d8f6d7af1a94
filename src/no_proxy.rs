//! `no_proxy` lists as curl reads them: which hosts go direct.

/// The entries of a `no_proxy` list, normalised: lower case, without a
/// leading `*.` or `.`, a trailing `.`, or IPv6 brackets; an IP address in
/// its canonical form. `*` stays `*`. Anything else (a wildcard inside a
/// name, a CIDR range, a port) is dropped: it matches no host, here or in
/// the HTTP stack's own matching after a redirect, so that host is proxied.
pub(crate) fn entries(list: &str) -> Vec<String> {
    list.split(',')
        .map(|entry| {
            let entry = entry.trim();
            let entry = entry.strip_prefix("*.").unwrap_or(entry);
            let entry = entry.strip_prefix('.').unwrap_or(entry);
            let entry = entry.strip_suffix('.').unwrap_or(entry);
            let entry = entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .unwrap_or(entry);
            match entry.parse::<std::net::IpAddr>() {
                Ok(ip) => ip.to_string(),
                Err(_) => entry.to_ascii_lowercase(),
            }
        })
        .filter(|entry| {
            let name = |e: &str| {
                !e.starts_with(['.', '-'])
                    && !e.ends_with('.')
                    && !e.contains("..")
                    && e.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            };
            entry == "*"
                || entry.parse::<std::net::IpAddr>().is_ok()
                || (!entry.is_empty() && name(entry))
        })
        .collect()
}

/// curl's rule: `*` matches every host; an IP address matches itself; a
/// name matches itself and its subdomains.
pub(crate) fn matches(entry: &str, host: &str) -> bool {
    if entry == "*" {
        return true;
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return entry.parse::<std::net::IpAddr>().ok() == Some(ip);
    }
    host == entry
        || host
            .strip_suffix(entry)
            .is_some_and(|rest| rest.ends_with('.'))
}
