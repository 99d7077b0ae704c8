//! The drivers a process is configured with, by name, and how to configure them from the lab
//! description (tests, the demo, the benchmarks).

use std::sync::Arc;
use std::time::Duration;

use super::Drivers;
use crate::dns::{DnsProvider, PowerDns, PowerDnsConfig, Rfc2136, Rfc2136Config, ZoneSet};
use crate::domain::Fqdn;
use crate::lab::{Lab, LabError};

/// A DNS provider and the zones kolokasi may write through it.
#[derive(Debug)]
pub struct DnsTarget {
    pub provider: DnsProvider,
    pub zones: ZoneSet,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverConfigError {
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("driver {name}: {message}")]
    Invalid { name: String, message: String },
    #[error("driver {device}: cannot open secret {secret}")]
    Secret {
        device: String,
        secret: String,
        #[source]
        source: crate::service::ServiceError,
    },
}

fn zones(lab: &Lab) -> Result<ZoneSet, DriverConfigError> {
    let z = |s: &str| Fqdn::parse(s).map_err(|e| DriverConfigError::Invalid { name: "zones".into(), message: e.to_string() });
    Ok(ZoneSet { forward: vec![z(&lab.zones.forward)?], reverse: vec![z(&lab.zones.reverse_v4)?, z(&lab.zones.reverse_v6)?] })
}

fn addr(name: &str, s: &str) -> Result<std::net::SocketAddr, DriverConfigError> {
    s.parse().map_err(|_| DriverConfigError::Invalid { name: name.into(), message: format!("{s:?} is not host:port") })
}

impl Drivers {
    /// DNS providers `bind` (RFC 2136 + TSIG) and `powerdns` (HTTP API) of the local lab; `primary`
    /// is `bind`.
    pub fn dns_from_lab(lab: &Lab) -> Result<Self, DriverConfigError> {
        let timeout = Duration::from_secs(3);
        fn invalid(name: &'static str) -> impl Fn(crate::dns::DnsError) -> DriverConfigError {
            move |e| DriverConfigError::Invalid { name: name.into(), message: e.to_string() }
        }
        let bind = DnsProvider::Rfc2136(
            Rfc2136::new(Rfc2136Config {
                server: addr("bind", &lab.bind.server)?,
                key_name: lab.bind.tsig_key_name.clone(),
                algorithm: lab.bind.tsig_algorithm.clone(),
                secret: lab.tsig_secret()?,
                timeout,
            })
            .map_err(invalid("bind"))?,
        );
        let pdns = DnsProvider::PowerDns(
            PowerDns::new(PowerDnsConfig {
                api_url: lab.powerdns.api_url.clone(),
                api_key: lab.powerdns_api_key()?,
                server_id: lab.powerdns.server_id.clone(),
                dns_server: addr("powerdns", &lab.powerdns.server)?,
                timeout,
            })
            .map_err(invalid("powerdns"))?,
        );
        let zones = zones(lab)?;
        let bind = Arc::new(DnsTarget { provider: bind, zones: zones.clone() });
        let mut d = Self::default();
        d.dns.insert("bind".into(), bind.clone());
        d.dns.insert("primary".into(), bind);
        d.dns.insert("powerdns".into(), Arc::new(DnsTarget { provider: pdns, zones }));
        Ok(d)
    }
}
