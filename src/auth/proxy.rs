//! Who the client is behind a reverse proxy. Forwarded headers are believed only when the peer
//! that sent them is a configured proxy (`trusted_proxies`), and then only as far as the chain
//! of trusted proxies goes: the client is the right-most hop that is not itself a trusted proxy
//! (RFC 7239 `Forwarded: for=…` if present, else `X-Forwarded-For`). A client cannot choose its
//! own address by sending the header, and clients behind one ingress are not one address.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The networks whose peers may say who the client is; empty: no proxy is trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// Loopback only: a proxy on the same machine (the old `console_trust_proxy: true`).
pub fn loopback() -> TrustedProxies {
    TrustedProxies(vec!["127.0.0.0/8".parse().expect("a network"), "::1/128".parse().expect("a network")])
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|n| n.contains(&addr))
    }

    /// The client's address for rate limits and the audit: the peer, unless the peer is a
    /// trusted proxy, then the right-most forwarded hop that is not.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> String {
        let Some(peer) = peer else { return "unknown".into() };
        if !self.trusts(peer) {
            return canonical(peer).to_string();
        }
        let hops = forwarded_for(headers);
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(a) if self.trusts(a) => continue,
                Ok(a) => return canonical(a).to_string(),
                // An obfuscated or malformed hop (`_hidden`, `unknown`): stop there, as the
                // last proxy we trust saw it; it is a name, not an address to believe.
                Err(_) => return format!("forwarded:{}", sanitize(hop)),
            }
        }
        hops.first().and_then(|h| h.parse::<IpAddr>().ok()).map_or_else(|| canonical(peer).to_string(), |a| canonical(a).to_string())
    }

    /// Whether the browser is on HTTPS as the trusted proxy says (`Forwarded: proto=`, else
    /// `X-Forwarded-Proto`); false when the peer is not a trusted proxy.
    pub fn forwarded_https(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        if !peer.is_some_and(|p| self.trusts(p)) {
            return false;
        }
        let proto = forwarded_params(headers, "proto").pop().or_else(|| header_list(headers, "x-forwarded-proto").pop());
        proto.is_some_and(|p| p.eq_ignore_ascii_case("https"))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

/// At most 64 characters of letters, digits and `._-:`, for a hop that is not an address.
fn sanitize(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || "._-:".contains(*c)).take(64).collect()
}

/// The comma-separated values of every `name` header, in order.
fn header_list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The `name=` values of every element of every `Forwarded` header, in order.
fn forwarded_params(headers: &HeaderMap, name: &str) -> Vec<String> {
    header_list(headers, "forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_string())
            })
        })
        .collect()
}

/// The hops, client first: `Forwarded: for=` if the header is there, else `X-Forwarded-For`;
/// ports and IPv6 brackets removed.
pub fn forwarded_for(headers: &HeaderMap) -> Vec<String> {
    let from_forwarded = forwarded_params(headers, "for");
    let hops = if headers.contains_key("forwarded") { from_forwarded } else { header_list(headers, "x-forwarded-for") };
    hops.into_iter().map(|h| strip_port(&h)).collect()
}

/// `[2001:db8::1]:4711` → `2001:db8::1`, `192.0.2.1:80` → `192.0.2.1`; anything else as is.
fn strip_port(hop: &str) -> String {
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    match hop.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ => hop.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn ingress() -> TrustedProxies {
        TrustedProxies::new(vec!["10.0.0.0/24".parse().unwrap()])
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(ingress().client(ip("203.0.113.9"), &h), "203.0.113.9");
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.5"), &h), "10.0.0.5");
        assert!(!ingress().forwarded_https(ip("203.0.113.9"), &headers(&[("x-forwarded-proto", "https")])));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        // The client spoofs a first hop; the ingress appends the real address.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.3")]);
        assert_eq!(ingress().client(ip("10.0.0.5"), &h), "198.51.100.7");
        let h = headers(&[("forwarded", "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https")]);
        assert_eq!(ingress().client(ip("10.0.0.5"), &h), "2001:db8::7");
        assert!(ingress().forwarded_https(ip("10.0.0.5"), &h));
        let h = headers(&[("forwarded", "for=192.0.2.60:8080;proto=http")]);
        assert_eq!(ingress().client(ip("::ffff:10.0.0.5"), &h), "192.0.2.60");
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(ingress().client(ip("10.0.0.5"), &h), "forwarded:_hidden");
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(ingress().client(ip("10.0.0.5"), &HeaderMap::new()), "10.0.0.5");
    }
}
