//! `RequestTag`: the request id as kolokasi stamps it on device configuration (OVS
//! `external_ids:kolokasi-request`, nftables rule comments), so a change can be found again,
//! re-applied idempotently and undone exactly. Shared by every device driver.


use serde::{Deserialize, Serialize};

use crate::domain::RequestId;

/// 1–40 of `A-Z a-z 0-9 _ . -`, starting with a letter or digit. No `:` (it separates the
/// fields of an nftables comment), no spaces, nothing a shell or a device CLI reads specially.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestTag(String);

crate::domain::string_newtype!(RequestTag, RequestTagError, debug = named);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a request tag: 1-40 of A-Z a-z 0-9 _ . - starting with a letter or digit")]
pub struct RequestTagError(pub String);

impl RequestTag {
    pub const MAX: usize = 40;

    pub fn parse(input: &str) -> Result<Self, RequestTagError> {
        let ok = !input.is_empty()
            && input.len() <= Self::MAX
            && input.as_bytes()[0].is_ascii_alphanumeric()
            && input.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if ok { Ok(Self(input.to_string())) } else { Err(RequestTagError(input.to_string())) }
    }
}

impl From<&RequestId> for RequestTag {
    fn from(id: &RequestId) -> Self {
        // A request id (`KLK-2026-00042`) is always a valid tag.
        Self::parse(id.as_str()).expect("request ids are valid request tags")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_request_ids_and_rejects_metacharacters() {
        assert_eq!(RequestTag::from(&RequestId::new(2026, 42)).as_str(), "KLK-2026-00042");
        assert!(RequestTag::parse("test-fw.1_a").is_ok());
        for bad in ["", "-x", "a:b", "a b", "a;b", "$(id)", "`id`", "a'b", "a\"b", "a\nb", "a|b", &"x".repeat(41)] {
            assert!(RequestTag::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
