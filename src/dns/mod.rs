//! DNS providers: write the records a request needs into the zones kolokasi is given, and read
//! them back from the authoritative server to prove the change took.
//!
//! Owns only the rrsets it is asked to change, by (name, type): a replace or delete never
//! touches another name or another type at the same name, and refuses any name outside the
//! zone it was given. Foreign records in the same zones are left as they are.
//!
//! Provisioning writes are conditional (`replace_if`, `delete_if`): they say what the rrset
//! must hold before the change (nothing, or exactly the values kolokasi wrote), and a rrset
//! that holds anything else is `DnsError::Conflict`, untouched. `replace` and `delete` are the
//! unconditional forms, for tools and tests.
//!
//! # Layout
//! - `kind`: the record kinds kolokasi manages (the module's bottom: everything else names them).
//! - `records`: record sets, zone sets and the plan of records for one request.
//! - `value`: one record value parsed and put in canonical presentation form.
//! - `rfc2136`: the RFC 2136 dynamic-update driver (BIND, Knot, Windows DNS).
//! - `tsig`: TSIG keys, signing, and the server's verdict on our signature.
//! - `powerdns`: the PowerDNS HTTP API driver.
//! - `verify`: read-back from the authoritative server, uncached.
//! - `error`: `DnsError`, and which failures are worth retrying.

mod error;
mod kind;
mod output;
mod powerdns;
mod records;
mod rfc2136;
mod tsig;
mod value;
mod verify;

pub use error::DnsError;
pub use output::{DnsStepOutput, WrittenRecord};
pub use powerdns::{PowerDns, PowerDnsConfig};
pub use records::{RecordKind, RecordSet, ZoneSet, plan_request_records, reverse_name};
pub use rfc2136::{Rfc2136, Rfc2136Config};

use crate::domain::Fqdn;

use verify::ReadBack;

/// A DNS provider, dispatched by enum (two drivers, no trait objects needed).
#[derive(Debug, Clone)]
pub enum DnsProvider {
    Rfc2136(Rfc2136),
    PowerDns(PowerDns),
}

impl DnsProvider {
    /// Makes the rrset (set.name, set.kind) in `zone` hold exactly `set.values`. Idempotent:
    /// replacing with the same values again leaves one record per value.
    pub async fn replace(&self, zone: &Fqdn, set: &RecordSet) -> Result<(), DnsError> {
        match self {
            Self::Rfc2136(p) => p.replace(zone, set).await,
            Self::PowerDns(p) => p.replace(zone, set).await,
        }
    }

    /// Removes the rrset (name, kind) in `zone` only; deleting an absent rrset is `Ok`.
    pub async fn delete(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind) -> Result<(), DnsError> {
        match self {
            Self::Rfc2136(p) => p.delete(zone, name, kind).await,
            Self::PowerDns(p) => p.delete(zone, name, kind).await,
        }
    }

    /// Makes (name, kind) hold `set.values` only if it holds exactly `expected` now (empty:
    /// the rrset must not exist); otherwise `DnsError::Conflict` and nothing changes.
    pub async fn replace_if(&self, zone: &Fqdn, set: &RecordSet, expected: &[String]) -> Result<(), DnsError> {
        match self {
            Self::Rfc2136(p) => p.replace_if(zone, set, expected).await,
            Self::PowerDns(p) => p.replace_if(zone, set, expected).await,
        }
    }

    /// Removes (name, kind) only if it holds exactly `expected`; otherwise `Conflict`.
    pub async fn delete_if(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind, expected: &[String]) -> Result<(), DnsError> {
        match self {
            Self::Rfc2136(p) => p.delete_if(zone, name, kind, expected).await,
            Self::PowerDns(p) => p.delete_if(zone, name, kind, expected).await,
        }
    }

    /// `replace_if`, then read back.
    pub async fn replace_if_verified(&self, zone: &Fqdn, set: &RecordSet, expected: &[String]) -> Result<(), DnsError> {
        self.replace_if(zone, set, expected).await?;
        self.read_back().expect(set).await
    }

    /// `delete_if`, then read back: a record still served is `Mismatch`.
    pub async fn delete_if_verified(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind, expected: &[String]) -> Result<(), DnsError> {
        self.delete_if(zone, name, kind, expected).await?;
        self.read_back().expect_values(name, kind, Vec::new()).await
    }

    /// The values of (name, kind) as the authoritative server answers right now, sorted; an
    /// absent name or rrset reads as empty.
    pub async fn read(&self, name: &Fqdn, kind: RecordKind) -> Result<Vec<String>, DnsError> {
        self.read_back().read(name, kind).await
    }

    /// `replace`, then read back; anything but exactly `set.values` is `DnsError::Mismatch`.
    pub async fn replace_verified(&self, zone: &Fqdn, set: &RecordSet) -> Result<(), DnsError> {
        self.replace(zone, set).await?;
        self.read_back().expect(set).await
    }

    /// `delete`, then read back; a record still served is `DnsError::Mismatch`.
    pub async fn delete_verified(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind) -> Result<(), DnsError> {
        self.delete(zone, name, kind).await?;
        self.read_back().expect_values(name, kind, Vec::new()).await
    }

    /// The driver's name, as configuration and logs spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Rfc2136(_) => "rfc2136",
            Self::PowerDns(_) => "powerdns",
        }
    }

    fn read_back(&self) -> &ReadBack {
        match self {
            Self::Rfc2136(p) => p.read_back(),
            Self::PowerDns(p) => p.read_back(),
        }
    }
}

impl From<Rfc2136> for DnsProvider {
    fn from(p: Rfc2136) -> Self {
        Self::Rfc2136(p)
    }
}

impl From<PowerDns> for DnsProvider {
    fn from(p: PowerDns) -> Self {
        Self::PowerDns(p)
    }
}
