//! How a transport's ureq agents are built: one shared connector (the TLS
//! configuration made once), one DNS cache, and the settings every agent has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{ConnectionDetails, Connector, DefaultConnector, NextTimeout};

pub(crate) fn new_agent(
    timeout: Duration,
    proxy: &Option<ureq::Proxy>,
    tls: &ureq::tls::TlsConfig,
    resolver: &CachingResolver,
    connector: &SharedConnector,
) -> ureq::Agent {
    let config = agent_config(timeout)
        .proxy(proxy.clone())
        .tls_config(tls.clone())
        .build();
    ureq::Agent::with_parts(config, connector.clone(), resolver.clone())
}

/// One connector for all of a transport's agents: it builds the TLS
/// configuration (root certificates included) once, not once per stream.
#[derive(Clone, Debug, Default)]
pub(crate) struct SharedConnector(Arc<DefaultConnector>);

impl Connector for SharedConnector {
    type Out = Box<dyn ureq::unversioned::transport::Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        self.0.connect(details, chained)
    }
}

/// How long a host's resolved addresses are reused.
const DNS_TTL: Duration = Duration::from_secs(60);

/// The most hosts remembered at once: a server that redirects each call to
/// a host of its own must not grow the cache without end.
const MAX_HOSTS: usize = 64;

/// ureq resolves the host on every request, pooled connection or not, and
/// with a timeout set it does so on a new thread: remembering the answer for
/// a minute saves a thread and a lookup per call.
#[derive(Clone, Debug, Default)]
pub(crate) struct CachingResolver {
    cache: Arc<Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", |a| a.as_str())
        );
        let lock = || self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, addrs)) = lock().get(&key) {
            if at.elapsed() < DNS_TTL {
                return Ok(addrs.clone());
            }
        }
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        let mut cache = lock();
        cache.retain(|_, (at, _)| at.elapsed() < DNS_TTL);
        if cache.len() >= MAX_HOSTS {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

/// The agent settings every request shares; a request's own limits are set
/// per request.
fn agent_config(timeout: Duration) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        // Error answers carry the message and code we surface: read them, do not fail on them.
        .http_status_as_error(false)
        // The client follows redirects itself, to keep the token from other origins.
        .max_redirects(0)
        // Thread-per-request services share one client: keep their connections.
        .max_idle_connections(64)
        .max_idle_connections_per_host(32)
        .user_agent(ureq::config::AutoHeaderValue::None)
        .timeout_resolve(Some(timeout))
        .timeout_connect(Some(timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_cache_holds_a_bounded_number_of_hosts() {
        let resolver = CachingResolver::default();
        let config = ureq::config::Config::default();
        for port in 1..=3 * MAX_HOSTS {
            let uri: ureq::http::Uri = format!("http://127.0.0.1:{port}/").parse().unwrap();
            resolver
                .resolve(&uri, &config, NextTimeout::default())
                .unwrap();
            assert!(resolver.cache.lock().unwrap().len() <= MAX_HOSTS);
        }
        // A host asked for again within the minute is answered from the cache.
        let uri: ureq::http::Uri = format!("http://127.0.0.1:{}/", 3 * MAX_HOSTS)
            .parse()
            .unwrap();
        let before = resolver.cache.lock().unwrap().len();
        resolver
            .resolve(&uri, &config, NextTimeout::default())
            .unwrap();
        assert_eq!(resolver.cache.lock().unwrap().len(), before);
    }
}
