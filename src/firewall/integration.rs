//! How kolokasi fits into an nftables firewall, chosen per device in the inventory
//! (`integration:` of a `kind: nftables` device), and the typed names it is configured with.
//!
//! - `own_table` (the default): kolokasi owns `table inet kolokasi` with its own base chains.
//!   Works only where no other base chain on the same hook drops by policy (`kolokasi datacenter
//!   check` says so).
//! - `jump`: the operator's base chain gets exactly one rule, `jump kolokasi`, and everything
//!   kolokasi adds (maps `kolokasi_dest4`/`kolokasi_dest6`, chain `kolokasi`, one chain per
//!   request `kolokasi_<request>-v4-…`) lives in the operator's table, named `kolokasi…`. In the
//!   operator's table because nftables only jumps within a table.
//! - `write_into`: rules go directly into an operator-named regular chain, tagged with comments.
//!
//! Every name is parsed here once; a name reaches a device only inside nft's JSON input.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    #[error("{0:?} is not an nftables name (letters, digits, `_`, `-`, `.`; 1-64 characters, starting with a letter)")]
    Name(String),
    #[error("{0:?} is not a rule comment kolokasi can match (1-128 printable characters, no quotes, backslashes or line breaks)")]
    Comment(String),
    #[error("a jump position names a rule by handle or by comment, not both")]
    Position,
}

/// An nftables family a filter table can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NftFamily {
    Ip,
    Ip6,
    Inet,
}

impl NftFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Ip6 => "ip6",
            Self::Inet => "inet",
        }
    }

    /// Whether rules of this family see IPv4 (`v4`) or IPv6 packets.
    pub fn carries(self, v4: bool) -> bool {
        match self {
            Self::Inet => true,
            Self::Ip => v4,
            Self::Ip6 => !v4,
        }
    }
}

impl fmt::Display for NftFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A table or chain name: `filter`, `forward`, `customers`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NftName(String);

crate::domain::string_newtype!(NftName, IntegrationError, debug = own);

impl NftName {
    pub fn parse(text: &str) -> Result<Self, IntegrationError> {
        let ok = (1..=64).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_alphabetic())
            && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if ok { Ok(Self(text.to_string())) } else { Err(IntegrationError::Name(text.to_string())) }
    }
}

/// The comment of an operator's rule, as the operator wrote it (`ops: refuse the rest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NftComment(String);

crate::domain::string_newtype!(NftComment, IntegrationError, debug = own);

impl NftComment {
    pub fn parse(text: &str) -> Result<Self, IntegrationError> {
        let ok = (1..=128).contains(&text.len()) && text.chars().all(|c| (' '..='~').contains(&c) && !"\"'\\`$;".contains(c));
        if ok { Ok(Self(text.to_string())) } else { Err(IntegrationError::Comment(text.to_string())) }
    }
}

/// The operator's rule that kolokasi's jump must come before: by handle or by comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleAnchor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<NftComment>,
}

impl RuleAnchor {
    pub fn validate(&self) -> Result<(), IntegrationError> {
        if self.handle.is_some() == self.comment.is_some() { Err(IntegrationError::Position) } else { Ok(()) }
    }
}

impl fmt::Display for RuleAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.handle, &self.comment) {
            (Some(h), _) => write!(f, "the rule with handle {h}"),
            (None, Some(c)) => write!(f, "the rule with comment {:?}", c.as_str()),
            (None, None) => f.write_str("nothing"),
        }
    }
}

/// The operator's chain kolokasi works in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorChain {
    pub family: NftFamily,
    pub table: NftName,
    pub chain: NftName,
}

impl fmt::Display for OperatorChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.family, self.table, self.chain)
    }
}

/// `integration:` of an nftables device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Integration {
    #[default]
    OwnTable,
    Jump {
        family: NftFamily,
        table: NftName,
        /// The operator's base chain (`forward`) the one jump goes into.
        chain: NftName,
        /// The rule the jump must precede; without it the jump is appended (after the
        /// operator's rules, before the chain's policy).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<RuleAnchor>,
        /// Keep the jump (and kolokasi's empty chain and maps) when the last request goes.
        #[serde(default)]
        keep_jump: bool,
    },
    WriteInto {
        family: NftFamily,
        table: NftName,
        /// A regular chain the operator's base chain jumps to.
        chain: NftName,
    },
}

impl Integration {
    pub fn name(&self) -> &'static str {
        match self {
            Self::OwnTable => "own_table",
            Self::Jump { .. } => "jump",
            Self::WriteInto { .. } => "write_into",
        }
    }

    pub fn validate(&self) -> Result<(), IntegrationError> {
        match self {
            Self::Jump { before: Some(a), .. } => a.validate(),
            _ => Ok(()),
        }
    }

    /// The operator's chain named by `jump` or `write_into`.
    pub fn operator_chain(&self) -> Option<OperatorChain> {
        match self {
            Self::OwnTable => None,
            Self::Jump { family, table, chain, .. } | Self::WriteInto { family, table, chain } => {
                Some(OperatorChain { family: *family, table: table.clone(), chain: chain.clone() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_comments_are_refused_with_metacharacters() {
        for bad in ["", "1abc", "a b", "a;b", "a\nb", "a\"b", "a$(id)", "a}", &"x".repeat(65)] {
            assert!(NftName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(NftName::parse("filter").is_ok() && NftName::parse("fw_forward-1.v4").is_ok());
        for bad in ["", "a\nb", "a\rb", "x\"; flush ruleset", "it's", "a\\b", "$(id)", "a`b`"] {
            assert!(NftComment::parse(bad).is_err(), "{bad:?}");
        }
        assert!(NftComment::parse("ops: refuse the rest").is_ok());
    }

    #[test]
    fn modes_parse_from_the_inventory() {
        let j: Integration = serde_yaml_ng::from_str(
            "{ mode: jump, family: inet, table: filter, chain: forward, before: { comment: 'ops: refuse the rest' } }",
        )
        .unwrap();
        assert!(matches!(&j, Integration::Jump { keep_jump: false, before: Some(RuleAnchor { comment: Some(_), handle: None }), .. }));
        assert!(j.validate().is_ok());
        let w: Integration = serde_yaml_ng::from_str("{ mode: write_into, family: ip, table: filter, chain: customers }").unwrap();
        assert_eq!(w.operator_chain().unwrap().to_string(), "ip filter customers");
        assert_eq!(serde_yaml_ng::from_str::<Integration>("{ mode: own_table }").unwrap(), Integration::OwnTable);
        for bad in [
            "{ mode: jump, family: inet, table: 'filter; flush ruleset', chain: forward }",
            "{ mode: jump, family: bridge, table: filter, chain: forward }",
            "{ mode: write_into, family: inet, table: filter }",
            "{ mode: jump, family: inet, table: filter, chain: forward, before: { comment: \"a\\nb\" } }",
        ] {
            assert!(serde_yaml_ng::from_str::<Integration>(bad).is_err(), "{bad}");
        }
        let both: Integration =
            serde_yaml_ng::from_str("{ mode: jump, family: inet, table: f, chain: c, before: { handle: 3, comment: x } }").unwrap();
        assert!(both.validate().is_err());
    }
}
