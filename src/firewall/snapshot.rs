//! One read of everything kolokasi keeps on a firewall (the drift check): every kolokasi rule,
//! which chain each destination is mapped to, and how many jumps lead into kolokasi's dispatch
//! chain. nftables: a single `nft -j list ruleset`; OPNsense: its rule search.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use super::integration::Integration;
use super::nft_layout::{JUMP_COMMENT, listed_rules};
use super::nftables::Nftables;
use super::{FirewallDriver, FirewallError, InstalledRule};
use crate::ssh::{RemoteCommand, RequestTag};

/// What a firewall holds of kolokasi's, read at once.
#[derive(Debug, Clone, Default)]
pub struct FirewallSnapshot {
    pub rules: Vec<InstalledRule>,
    /// Destination → the chain its map entry leads to; `None` where the layout has no maps
    /// (`write_into`, OPNsense).
    pub mapped: Option<BTreeMap<IpAddr, String>>,
    /// Rules carrying the jump's comment in the operator's chain; `None` outside `jump` mode.
    pub jumps: Option<usize>,
}

impl FirewallDriver {
    /// Everything of kolokasi's on this firewall, in one read.
    pub async fn snapshot(&self) -> Result<FirewallSnapshot, FirewallError> {
        match self {
            Self::Nftables(d) => d.snapshot().await,
            Self::Opnsense(d) => Ok(FirewallSnapshot { rules: d.rules().await?, mapped: None, jumps: None }),
        }
    }

    /// The chain `request`'s rules for `destination` live in and its map entry leads to, where
    /// the layout has one.
    pub fn expected_chain(&self, request: &RequestTag, destination: IpAddr) -> Option<String> {
        match self {
            Self::Nftables(d) if !matches!(d.integration(), Integration::WriteInto { .. }) => Some(d.layout().request_chain(request, destination)),
            _ => None,
        }
    }

    /// Whether kolokasi keeps a jump in the operator's chain on this firewall.
    pub fn uses_jump(&self) -> bool {
        matches!(self, Self::Nftables(d) if matches!(d.integration(), Integration::Jump { .. }))
    }
}

impl Nftables {
    async fn snapshot(&self) -> Result<FirewallSnapshot, FirewallError> {
        let out = self.run(&RemoteCommand::new("nft").args(["--json", "--handle", "list", "ruleset"]), None).await?;
        if !out.success() {
            return Err(self.command_failed(&out.status_text(), &out.stderr));
        }
        let rules = self.parse_rules(&out.stdout)?;
        let doc: Value = serde_json::from_str(&out.stdout).map_err(|e| self.unexpected(format!("nft printed no JSON: {e}")))?;
        let l = self.layout();
        let in_table = |o: &Value| o["table"] == l.table.as_str() && o["family"] == l.family.as_str();
        let mapped = match self.integration() {
            Integration::WriteInto { .. } => None,
            _ => {
                let mut map = BTreeMap::new();
                let maps = doc["nftables"].as_array().into_iter().flatten().filter_map(|i| i.get("map")).filter(|m| in_table(m));
                for m in maps.filter(|m| m["name"] == l.map4 || m["name"] == l.map6) {
                    for pair in m["elem"].as_array().into_iter().flatten().filter_map(Value::as_array) {
                        let address = pair.first().and_then(Value::as_str).and_then(|a| a.parse::<IpAddr>().ok());
                        let chain = pair.get(1).and_then(|v| v["jump"]["target"].as_str().or_else(|| v["goto"]["target"].as_str()));
                        if let (Some(a), Some(c)) = (address, chain) {
                            map.insert(a, c.to_string());
                        }
                    }
                }
                Some(map)
            }
        };
        let jumps = match self.integration() {
            Integration::Jump { chain, .. } => {
                Some(listed_rules(&doc).filter(|r| in_table(r) && r["chain"] == chain.as_str() && r["comment"] == JUMP_COMMENT).count())
            }
            _ => None,
        };
        Ok(FirewallSnapshot { rules, mapped, jumps })
    }
}
