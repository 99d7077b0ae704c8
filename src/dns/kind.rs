//! `RecordKind`: the record types kolokasi manages. The bottom of the DNS module: errors,
//! values and record sets all name a kind, and a kind names nothing of theirs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The record types kolokasi manages. Anything else in a zone belongs to someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordKind {
    A,
    Aaaa,
    Ptr,
    Cname,
    Txt,
}

impl RecordKind {
    /// The type's mnemonic as DNS and the PowerDNS API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Ptr => "PTR",
            Self::Cname => "CNAME",
            Self::Txt => "TXT",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
