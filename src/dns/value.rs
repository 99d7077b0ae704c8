//! `RecordValue`: one record's data parsed for its kind, so both drivers and the read-back
//! agree on a single canonical presentation form (`2001:db8::1`, not `2001:DB8:0::1`;
//! `name.example.` with its trailing dot).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::domain::Fqdn;

use super::error::DnsError;
use super::kind::RecordKind;

/// Longest TXT text accepted; well inside one UDP update with a TSIG signature.
const MAX_TXT_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordValue {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// A PTR or CNAME target.
    Name(Fqdn),
    Text(String),
}

impl RecordValue {
    pub(crate) fn parse(name: &Fqdn, kind: RecordKind, value: &str) -> Result<Self, DnsError> {
        let invalid = |reason| DnsError::InvalidValue { name: name.clone(), kind, value: value.to_string(), reason };
        match kind {
            RecordKind::A => value.trim().parse().map(Self::V4).map_err(|_| invalid("expected an IPv4 address")),
            RecordKind::Aaaa => value.trim().parse().map(Self::V6).map_err(|_| invalid("expected an IPv6 address")),
            RecordKind::Ptr | RecordKind::Cname => {
                Fqdn::parse(value).map(Self::Name).map_err(|_| invalid("expected a fully qualified host name"))
            }
            RecordKind::Txt => {
                if value.len() > MAX_TXT_LEN {
                    Err(invalid("TXT text is longer than 2048 bytes"))
                } else if value.chars().any(char::is_control) {
                    Err(invalid("TXT text may not contain control characters"))
                } else {
                    Ok(Self::Text(value.to_string()))
                }
            }
        }
    }

    /// The canonical presentation form, as a read-back reports it.
    pub(crate) fn presentation(&self) -> String {
        match self {
            Self::V4(a) => a.to_string(),
            Self::V6(a) => a.to_string(),
            Self::Name(n) => n.to_absolute(),
            Self::Text(t) => t.clone(),
        }
    }

    /// TXT text split into DNS character-strings (at most 255 bytes each).
    pub(crate) fn txt_chunks(text: &str) -> Vec<&[u8]> {
        if text.is_empty() {
            return vec![b""];
        }
        text.as_bytes().chunks(255).collect()
    }
}
