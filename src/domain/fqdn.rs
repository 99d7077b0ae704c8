//! `Fqdn` — a fully qualified domain name as the request names it (`sipd.kaltimprov.go.id`).
//!
//! Stored lower-case without the trailing dot; `to_absolute` adds it for DNS wire use.


use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fqdn(String);

crate::domain::string_newtype!(Fqdn, FqdnError, debug = named);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FqdnError {
    #[error("domain name is empty")]
    Empty,
    #[error("domain name is longer than 253 characters")]
    TooLong,
    #[error("domain name needs at least two labels (e.g. app.kaltimprov.go.id)")]
    SingleLabel,
    #[error("domain label {0:?} is empty or longer than 63 characters")]
    LabelLength(String),
    #[error("domain label {0:?} may contain only letters, digits and '-'")]
    LabelCharacters(String),
    #[error("domain label {0:?} must not start or end with '-'")]
    LabelHyphen(String),
    #[error("the top-level domain {0:?} must not be numeric")]
    NumericTld(String),
}

impl Fqdn {
    pub fn parse(input: &str) -> Result<Self, FqdnError> {
        let name = input.trim().strip_suffix('.').unwrap_or(input.trim()).to_ascii_lowercase();
        if name.is_empty() {
            return Err(FqdnError::Empty);
        }
        if name.len() > 253 {
            return Err(FqdnError::TooLong);
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 2 {
            return Err(FqdnError::SingleLabel);
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return Err(FqdnError::LabelLength(label.to_string()));
            }
            if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(FqdnError::LabelCharacters(label.to_string()));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(FqdnError::LabelHyphen(label.to_string()));
            }
        }
        let tld = labels[labels.len() - 1];
        if tld.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FqdnError::NumericTld(tld.to_string()));
        }
        Ok(Self(name))
    }

    /// The name with its trailing dot, as DNS wire formats want it.
    pub fn to_absolute(&self) -> String {
        format!("{}.", self.0)
    }

    /// Whether this name lies inside `zone` (equal to it or below it).
    pub fn is_within(&self, zone: &Fqdn) -> bool {
        self.0 == zone.0 || self.0.ends_with(&format!(".{}", zone.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_and_trailing_dot() {
        let d = Fqdn::parse("SIPD.KaltimProv.go.id.").unwrap();
        assert_eq!(d.as_str(), "sipd.kaltimprov.go.id");
        assert_eq!(d.to_absolute(), "sipd.kaltimprov.go.id.");
        assert!(d.is_within(&Fqdn::parse("kaltimprov.go.id").unwrap()));
        assert!(!d.is_within(&Fqdn::parse("prov.go.id.x").unwrap()));
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(Fqdn::parse(""), Err(FqdnError::Empty));
        assert_eq!(Fqdn::parse("localhost"), Err(FqdnError::SingleLabel));
        assert!(matches!(Fqdn::parse("a..go.id"), Err(FqdnError::LabelLength(_))));
        assert!(matches!(Fqdn::parse("sipd;rm -rf.go.id"), Err(FqdnError::LabelCharacters(_))));
        assert!(matches!(Fqdn::parse("-sipd.go.id"), Err(FqdnError::LabelHyphen(_))));
        assert!(matches!(Fqdn::parse("10.0.0.1"), Err(FqdnError::NumericTld(_))));
        assert!(matches!(Fqdn::parse("a\nb.go.id"), Err(FqdnError::LabelCharacters(_))));
        assert_eq!(Fqdn::parse(&format!("{}.id", "a".repeat(252))), Err(FqdnError::TooLong));
    }

    proptest! {
        #[test]
        fn generated_valid_names_parse_and_roundtrip(
            labels in proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", 1..5),
            tld in "[a-z]{2,6}"
        ) {
            let name = format!("{}.{}", labels.join("."), tld);
            let d = Fqdn::parse(&name).unwrap();
            prop_assert_eq!(Fqdn::parse(&d.to_absolute()).unwrap(), d.clone());
            prop_assert_eq!(d.as_str(), name.as_str());
        }

        #[test]
        fn accepted_names_hold_only_safe_characters(s in "\\PC{0,80}") {
            if let Ok(d) = Fqdn::parse(&s) {
                prop_assert!(d.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'));
            }
        }
    }
}
