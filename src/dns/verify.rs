//! Read-back: ask the authoritative server itself what it now serves, and compare that with
//! what was written.
//!
//! Each read builds a fresh hickory resolver that knows only the one server address (no
//! `resolv.conf`, no hosts file, no cache, recursion not desired), so a read-back never sees a
//! stale answer from a cache or another server.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as WireError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};

use crate::domain::Fqdn;

use super::error::DnsError;
use super::records::{RecordKind, RecordSet};

/// Where and how to read records back: one authoritative server.
#[derive(Debug, Clone)]
pub(crate) struct ReadBack {
    server: SocketAddr,
    timeout: Duration,
}

impl ReadBack {
    pub(crate) fn new(server: SocketAddr, timeout: Duration) -> Self {
        Self { server, timeout }
    }

    fn resolver(&self) -> Result<TokioResolver, DnsError> {
        let mut name_server = NameServerConfig::udp_and_tcp(self.server.ip());
        for connection in &mut name_server.connections {
            connection.port = self.server.port();
        }
        let mut opts = ResolverOpts::default();
        opts.timeout = self.timeout;
        opts.attempts = 1;
        opts.cache_size = 0;
        // A zero-capacity cache may still hold an entry until its next maintenance run; zero
        // TTL bounds make any such entry stale on arrival.
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
        opts.recursion_desired = false;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        Resolver::builder_with_config(ResolverConfig::from_name_servers(vec![name_server]), TokioRuntimeProvider::new())
            .with_options(opts)
            .build()
            .map_err(|e| DnsError::Config(format!("cannot build a resolver for {}: {e}", self.server)))
    }

    /// The values of (name, kind) as the server answers now, in presentation form, sorted.
    /// A name or rrset that does not exist reads as an empty list.
    pub(crate) async fn read(&self, name: &Fqdn, kind: RecordKind) -> Result<Vec<String>, DnsError> {
        let server = self.server.to_string();
        let qname = Name::from_ascii(name.to_absolute()).map_err(|e| DnsError::Lookup {
            server: server.clone(),
            name: name.clone(),
            kind,
            source: Box::new(e),
        })?;
        let resolver = self.resolver()?;
        let lookup = tokio::time::timeout(self.timeout, resolver.lookup(qname.clone(), record_type(kind))).await;
        let lookup = match lookup {
            Err(_elapsed) => return Err(DnsError::Timeout { server }),
            Ok(Ok(lookup)) => lookup,
            Ok(Err(e)) => return no_records_or_error(e, server, name, kind),
        };
        // The answer may carry a CNAME chain; only (name, kind) itself is this rrset.
        let mut values: Vec<String> = lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == record_type(kind) && r.name.eq_ignore_root(&qname))
            .filter_map(|r| presentation(&r.data))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// Fails with `Mismatch` unless the server now serves exactly `set`'s values.
    pub(crate) async fn expect(&self, set: &RecordSet) -> Result<(), DnsError> {
        let expected = set.normalized_values()?;
        self.expect_values(&set.name, set.kind, expected).await
    }

    pub(crate) async fn expect_values(&self, name: &Fqdn, kind: RecordKind, expected: Vec<String>) -> Result<(), DnsError> {
        let found = self.read(name, kind).await?;
        if found == expected {
            Ok(())
        } else {
            Err(DnsError::Mismatch { server: self.server.to_string(), name: name.clone(), kind, expected, found })
        }
    }
}

fn no_records_or_error(e: NetError, server: String, name: &Fqdn, kind: RecordKind) -> Result<Vec<String>, DnsError> {
    match e {
        NetError::Dns(WireError::NoRecordsFound(_)) => Ok(Vec::new()),
        NetError::Timeout => Err(DnsError::Timeout { server }),
        NetError::Dns(WireError::ResponseCode(ResponseCode::ServFail)) => Err(DnsError::ServerFailure { server }),
        NetError::Io(_) | NetError::NoConnections => Err(DnsError::Unreachable { server, source: Box::new(e) }),
        other => Err(DnsError::Lookup { server, name: name.clone(), kind, source: Box::new(other) }),
    }
}

pub(crate) fn record_type(kind: RecordKind) -> RecordType {
    match kind {
        RecordKind::A => RecordType::A,
        RecordKind::Aaaa => RecordType::AAAA,
        RecordKind::Ptr => RecordType::PTR,
        RecordKind::Cname => RecordType::CNAME,
        RecordKind::Txt => RecordType::TXT,
    }
}

/// The canonical presentation form of record data (see `RecordValue::presentation`).
fn presentation(data: &RData) -> Option<String> {
    let absolute_lowercase = |n: &Name| {
        let text = n.to_ascii().to_ascii_lowercase();
        if text.ends_with('.') { text } else { format!("{text}.") }
    };
    match data {
        RData::A(a) => Some(a.0.to_string()),
        RData::AAAA(a) => Some(a.0.to_string()),
        RData::PTR(p) => Some(absolute_lowercase(&p.0)),
        RData::CNAME(c) => Some(absolute_lowercase(&c.0)),
        // Join the raw bytes first: a multi-byte character may straddle two character-strings.
        RData::TXT(t) => Some(String::from_utf8_lossy(&t.txt_data.concat()).into_owned()),
        _ => None,
    }
}
