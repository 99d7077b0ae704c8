//! What a `dns_records` step saves in the run log, and what drift checks and documents read
//! back: each record set written, in its zone, and what an adopted one held before.

use serde::{Deserialize, Serialize};

use super::RecordKind;
use crate::domain::Fqdn;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsStepOutput {
    /// The configured DNS provider the records were written through (`primary`).
    pub provider: String,
    pub records: Vec<WrittenRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenRecord {
    pub zone: Fqdn,
    pub name: Fqdn,
    pub kind: RecordKind,
    pub values: Vec<String>,
    /// The values an admin adopted (they were there before kolokasi wrote this set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<Vec<String>>,
}

impl crate::domain::SavedOutput for DnsStepOutput {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SavedOutput;

    #[test]
    fn reads_back_what_it_saves() {
        let name = Fqdn::parse("sipd.kaltimprov.go.id").unwrap();
        let out = DnsStepOutput {
            provider: "primary".into(),
            records: vec![WrittenRecord { zone: Fqdn::parse("kaltimprov.go.id").unwrap(), name, kind: RecordKind::A, values: vec!["198.51.100.5".into()], adopted_from: None }],
        };
        let saved = serde_json::to_value(&out).unwrap();
        assert_eq!(saved["records"][0]["kind"], "A");
        assert_eq!(saved["records"][0]["name"], "sipd.kaltimprov.go.id");
        assert_eq!(DnsStepOutput::read(&saved), Some(out));
    }
}
