//! Typed firewall rules: "allow `protocol`/`port` to `destination` from `sources`" on behalf
//! of a request, and the comments (`kolokasi:<request>:<kind>`) that tie each installed rule
//! to its request so it can be found, counted and removed exactly.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ssh::RequestTag;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{0:?} is not a service; write protocol/port, like tcp/443 or udp/53")]
    Service(String),
    #[error("{0:?} is not a source address or network (like 10.0.0.0/8 or 203.0.113.7)")]
    Source(String),
    #[error("source {network} and destination {destination} are of different IP versions")]
    Family { network: IpNet, destination: IpAddr },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// `tcp/443`: a protocol and a port (1–65535).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Service {
    pub protocol: Protocol,
    pub port: u16,
}

impl FromStr for Service {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, RuleError> {
        let err = || RuleError::Service(s.to_string());
        let (proto, port) = s.split_once('/').ok_or_else(err)?;
        let protocol = match proto.to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => return Err(err()),
        };
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let port: u16 = port.parse().map_err(|_| err())?;
        if port == 0 {
            return Err(err());
        }
        Ok(Self { protocol, port })
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.protocol.as_str(), self.port)
    }
}

/// A source network: `10.0.0.0/8`, or one address (`203.0.113.7`, taken as /32 or /128).
/// Host bits are cleared (`10.1.2.3/8` → `10.0.0.0/8`).
pub fn parse_source(text: &str) -> Result<IpNet, RuleError> {
    let t = text.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    t.parse::<IpAddr>().map(IpNet::from).map_err(|_| RuleError::Source(text.to_string()))
}

/// One allowed service to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallRule {
    pub request: RequestTag,
    pub destination: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
    /// Sorted, without duplicates; empty means any source.
    pub sources: Vec<IpNet>,
}

impl FirewallRule {
    pub fn new(request: RequestTag, destination: IpAddr, service: Service, sources: Vec<IpNet>) -> Result<Self, RuleError> {
        let mut sources: Vec<IpNet> = sources.into_iter().map(|s| s.trunc()).collect();
        sources.sort();
        sources.dedup();
        if let Some(s) = sources.iter().find(|s| matches!(s, IpNet::V4(_)) != destination.is_ipv4()) {
            return Err(RuleError::Family { network: *s, destination });
        }
        Ok(Self { request, destination, protocol: service.protocol, port: service.port, sources })
    }

    pub fn service(&self) -> Service {
        Service { protocol: self.protocol, port: self.port }
    }

    /// `accept/tcp/443/198.51.100.130`, plus `/src-<hash>` when sources are limited (a hash
    /// keeps the comment within nftables' 128 characters for any number of sources).
    pub fn kind(&self) -> String {
        let mut kind = format!("accept/{}/{}/{}", self.protocol.as_str(), self.port, self.destination);
        if !self.sources.is_empty() {
            let list: Vec<String> = self.sources.iter().map(IpNet::to_string).collect();
            let digest = Sha256::digest(list.join(",").as_bytes());
            kind.push_str(&format!("/src-{}", hex::encode(&digest[..4])));
        }
        kind
    }

    pub fn comment(&self) -> String {
        comment(&self.request, &self.kind())
    }
}

/// The kind of the one `drop` that closes a destination after its `accept`s.
pub fn drop_kind(destination: IpAddr) -> String {
    format!("drop/{destination}")
}

pub fn comment(request: &RequestTag, kind: &str) -> String {
    format!("{PREFIX}{request}:{kind}")
}

/// What every kolokasi rule's comment or description starts with.
pub(super) const PREFIX: &str = "kolokasi:";

/// A parsed kolokasi comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleComment {
    pub request: RequestTag,
    pub kind: String,
}

impl RuleComment {
    /// `None` for rules that are not kolokasi's (or whose comment was tampered with).
    pub fn parse(comment: &str) -> Option<Self> {
        let rest = comment.strip_prefix(PREFIX)?;
        // The request tag has no `:`; the kind may (IPv6 addresses).
        let (request, kind) = rest.split_once(':')?;
        Some(Self { request: RequestTag::parse(request).ok()?, kind: kind.to_string() })
    }

    /// The destination the rule guards.
    pub fn destination(&self) -> Option<IpAddr> {
        let mut parts = self.kind.split('/');
        match parts.next()? {
            "accept" => parts.nth(2)?.parse().ok(),
            "drop" => parts.next()?.parse().ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag() -> RequestTag {
        RequestTag::parse("KLK-2026-00042").unwrap()
    }

    #[test]
    fn services_and_sources_parse_strictly() {
        assert_eq!("tcp/443".parse::<Service>().unwrap(), Service { protocol: Protocol::Tcp, port: 443 });
        assert_eq!("UDP/53".parse::<Service>().unwrap().to_string(), "udp/53");
        for bad in ["tcp", "tcp/0", "tcp/65536", "icmp/1", "tcp/+1", "tcp/443;id", "tcp/ 443"] {
            assert!(bad.parse::<Service>().is_err(), "{bad}");
        }
        assert_eq!(parse_source("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_source("203.0.113.7").unwrap().to_string(), "203.0.113.7/32");
        for bad in ["10.0.0.0/8; nft flush ruleset", "$(id)", "10.0.0.0/33", "any", "`id`", "10.0.0.1 10.0.0.2"] {
            assert!(parse_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn comments_name_the_request_and_destination() {
        let v6: IpAddr = "2001:db8:100::7".parse().unwrap();
        let r = FirewallRule::new(tag(), v6, "tcp/443".parse().unwrap(), vec![parse_source("2001:db8::/32").unwrap()]).unwrap();
        let c = RuleComment::parse(&r.comment()).unwrap();
        assert_eq!(c.request, tag());
        assert_eq!(c.destination(), Some(v6));
        assert!(r.comment().len() <= 128);
        let d = RuleComment::parse(&comment(&tag(), &drop_kind(v6))).unwrap();
        assert_eq!(d.destination(), Some(v6));
        assert!(RuleComment::parse("someone else's rule").is_none());
        let mixed = FirewallRule::new(tag(), v6, "tcp/443".parse().unwrap(), vec![parse_source("10.0.0.0/8").unwrap()]);
        assert!(matches!(mixed, Err(RuleError::Family { .. })));
    }
}
