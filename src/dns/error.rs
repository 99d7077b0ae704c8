//! `DnsError`: every way a DNS change or read-back can fail, and whether trying again can help.
//!
//! Messages name the server, zone or record involved and never a key or secret: TSIG secrets
//! and API keys stay in `Secret` fields of the providers and are not carried into errors.

use crate::domain::Fqdn;

use super::kind::RecordKind;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    // --- the request itself (fix the input; retrying cannot help) ---
    #[error("{name} is not inside the zone {zone}: kolokasi only writes inside the zone it was given")]
    OutsideZone { name: Fqdn, zone: Fqdn },
    #[error("no zone for {what}: the DNS provider is authoritative only for {zones}")]
    NoZone { what: String, zones: String },
    #[error("{value:?} is not a valid {kind} value for {name}: {reason}")]
    InvalidValue { name: Fqdn, kind: RecordKind, value: String, reason: &'static str },
    #[error("invalid DNS provider configuration: {0}")]
    Config(String),

    // --- the server said no (fix configuration or data; not retryable) ---
    #[error("TSIG key {key_name:?} was rejected by {server}: check the key name and secret")]
    Auth { server: String, key_name: String },
    #[error("{server} rejected the TSIG signature time (BADTIME): check this machine's clock against the server's")]
    ClockSkew { server: String },
    #[error("the PowerDNS API key was rejected by {api_url} (HTTP {status}): check the API key")]
    ApiKeyRejected { api_url: String, status: u16 },
    #[error("{server} refused the update of zone {zone} (REFUSED): the key may not update this zone (check allow-update / update-policy)")]
    Refused { server: String, zone: Fqdn },
    #[error("{server} is not authoritative for zone {zone} (NOTAUTH)")]
    NotAuthoritative { server: String, zone: Fqdn },
    #[error("{server} says the update names lie outside zone {zone} (NOTZONE)")]
    NotZone { server: String, zone: Fqdn },
    #[error("{server} rejected the update of zone {zone} with {rcode}")]
    Rejected { server: String, zone: Fqdn, rcode: String },
    #[error("the answer from {server} carries no valid TSIG signature, so the update's outcome cannot be trusted: {reason}")]
    UnsignedAnswer { server: String, reason: String },
    #[error("PowerDNS has no zone {zone} (HTTP 404): {message}")]
    ZoneNotFound { zone: Fqdn, message: String },
    #[error("PowerDNS rejected the change to zone {zone} (HTTP {status}): {message}")]
    PowerDnsRejected { zone: Fqdn, status: u16, message: String },
    /// A conditional write found the rrset other than kolokasi left it: created by someone
    /// else, or changed since. Nothing was written.
    #[error("{name} {kind} at {server} holds {}, but kolokasi expected {}: not overwritten", shown(found), shown(expected))]
    Conflict { server: String, name: Fqdn, kind: RecordKind, expected: Vec<String>, found: Vec<String> },
    #[error("{name} {kind} read back from {server} as {found:?}, expected {expected:?}")]
    Mismatch { server: String, name: Fqdn, kind: RecordKind, expected: Vec<String>, found: Vec<String> },

    // --- transient (retry with backoff) ---
    #[error("no answer from {server} in time")]
    Timeout { server: String },
    #[error("cannot reach {server}")]
    Unreachable {
        server: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{server} failed to process the request (SERVFAIL)")]
    ServerFailure { server: String },
    #[error("PowerDNS at {api_url} failed (HTTP {status}): {message}")]
    PowerDnsServer { api_url: String, status: u16, message: String },

    // --- anything else from the wire (not retryable: a malformed exchange does not heal) ---
    #[error("DNS exchange with {server} failed")]
    Protocol {
        server: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("lookup of {name} {kind} at {server} failed")]
    Lookup {
        server: String,
        name: Fqdn,
        kind: RecordKind,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// An rrset's values for a message: `[…]`, or "no records".
fn shown(values: &[String]) -> String {
    if values.is_empty() { "no records".into() } else { format!("{values:?}") }
}

impl DnsError {
    /// Whether the same call may succeed later: timeouts, unreachable servers, SERVFAIL and
    /// HTTP 5xx. Authentication, refusal, bad input and read-back mismatches are not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Unreachable { .. } | Self::ServerFailure { .. } | Self::PowerDnsServer { .. })
    }
}
