//! `jump` mode: the one rule `jump kolokasi` (comment `kolokasi:jump`) in the operator's base
//! chain, added with kolokasi's maps and dispatch chain in the batch of the change that needs it,
//! and taken away with them by the removal that leaves no request behind.
//!
//! The operator's chain is read (`nft -j list chain`) before each change; the jump is added
//! only when no rule of that chain carries its comment, and copies beyond the first (made by
//! hand, say) are deleted — so there is exactly one. It is inserted before the rule the
//! operator named (by handle or comment), or appended; no other rule of the operator's is ever
//! moved, rewritten or deleted. Two changes from this process are serialised by the driver's
//! lock, and the engine holds the device's lock across a step.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::FirewallError;
use super::integration::{Integration, RuleAnchor};
use super::nft_layout::{DISPATCH_CHAIN, JUMP_COMMENT, listed_rules};
use super::nftables::Nftables;
use crate::ssh::{RemoteCommand, RequestTag};

/// An operator's rule as listed: handle and comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRule {
    pub handle: u64,
    pub comment: Option<String>,
}

/// The rules of an `nft -j list chain` answer, in order.
pub fn chain_listing(json_text: &str) -> Option<Vec<ListedRule>> {
    let doc: Value = serde_json::from_str(json_text).ok()?;
    Some(listed_rules(&doc).filter_map(|r| Some(ListedRule { handle: r["handle"].as_u64()?, comment: r["comment"].as_str().map(String::from) })).collect())
}

/// Where the jump goes: the handle to insert before, or `None` to append.
pub fn anchor_handle(rules: &[ListedRule], anchor: Option<&RuleAnchor>) -> Result<Option<u64>, String> {
    let Some(anchor) = anchor else { return Ok(None) };
    let found = match (&anchor.handle, &anchor.comment) {
        (Some(h), _) => rules.iter().find(|r| r.handle == *h),
        (None, Some(c)) => rules.iter().find(|r| r.comment.as_deref() == Some(c.as_str())),
        (None, None) => None,
    };
    found.map(|r| Some(r.handle)).ok_or_else(|| format!("{anchor}, which kolokasi's jump must precede, is not in the chain"))
}

impl Nftables {
    fn jump_config(&self) -> Option<(&str, Option<&RuleAnchor>)> {
        match self.integration() {
            Integration::Jump { chain, before, .. } => Some((chain.as_str(), before.as_ref())),
            _ => None,
        }
    }

    /// `nft --json --handle list chain` of one of the operator's chains (an error naming the
    /// chain if it does not exist).
    pub(super) async fn list_operator_chain(&self, chain: &str) -> Result<String, FirewallError> {
        let l = self.layout();
        let command = RemoteCommand::new("nft").args(["--json", "--handle", "list", "chain", l.family.as_str(), &l.table, chain]);
        let out = self.run(&command, None).await?;
        if !out.success() {
            if out.stderr.contains("No such file or directory") {
                return Err(self.unexpected(format!(
                    "chain {} {} {chain} (named in this firewall's integration) does not exist; see `kolokasi datacenter check`",
                    l.family, l.table
                )));
            }
            return Err(self.command_failed(&out.status_text(), &out.stderr));
        }
        Ok(out.stdout)
    }

    /// The operator's base chain's rules.
    pub(super) async fn operator_chain_rules(&self, chain: &str) -> Result<Vec<ListedRule>, FirewallError> {
        let listing = self.list_operator_chain(chain).await?;
        chain_listing(&listing).ok_or_else(|| self.unexpected("nft listed the chain without JSON".into()))
    }

    /// What a change must send before its own commands so that exactly one jump exists. Where
    /// the jump is missing, the dispatch chain is `create`d (not `add`ed): if another process
    /// added the jump since the listing, `create` fails with `File exists` and the caller lists
    /// again instead of adding a second jump. `repair` (the second try) adds the jump even if a
    /// dispatch chain is left without one (its jump deleted by hand).
    pub(super) async fn jump_prelude(&self, repair: bool) -> Result<Vec<Value>, FirewallError> {
        let Some((chain, anchor)) = self.jump_config() else { return Ok(Vec::new()) };
        let l = self.layout();
        let rules = self.operator_chain_rules(chain).await?;
        let jumps: Vec<u64> = rules.iter().filter(|r| r.comment.as_deref() == Some(JUMP_COMMENT)).map(|r| r.handle).collect();
        let mut batch = Vec::new();
        match jumps.split_first() {
            Some((_, extra)) => {
                for h in extra {
                    batch.push(json!({"delete": {"rule": {"family": l.family.as_str(), "table": l.table, "chain": chain, "handle": h}}}));
                }
            }
            None => {
                let verb = if repair { "add" } else { "create" };
                batch.push(json!({verb: {"chain": l.chain_ref(DISPATCH_CHAIN)}}));
                batch.extend(l.maps_and_dispatch(DISPATCH_CHAIN));
                let mut jump = l.rule(chain, Some(JUMP_COMMENT), vec![json!({"jump": {"target": DISPATCH_CHAIN}})]);
                match anchor_handle(&rules, anchor).map_err(|m| self.unexpected(m))? {
                    // `insert` at a handle puts the rule before it; `add` appends.
                    Some(h) => {
                        jump["handle"] = json!(h);
                        batch.push(json!({"insert": {"rule": jump}}));
                    }
                    None => batch.push(json!({"add": {"rule": jump}})),
                }
            }
        }
        Ok(batch)
    }

    /// When removing `doomed` leaves no address mapped at all: the commands that delete the
    /// jump, the dispatch chain and the maps (empty otherwise, or if there is no jump).
    pub(super) async fn jump_cleanup(&self, request: &RequestTag, doomed: &[(IpAddr, usize)]) -> Result<Vec<Value>, FirewallError> {
        let Some((chain, _)) = self.jump_config() else { return Ok(Vec::new()) };
        let l = self.layout();
        let mut mapped = 0;
        for (map, _, _) in l.maps() {
            let command = RemoteCommand::new("nft").args(["--json", "list", "map", l.family.as_str(), &l.table, map]);
            let out = self.run(&command, None).await?;
            if !out.success() {
                continue; // no map: nothing mapped
            }
            let doc: Value = serde_json::from_str(&out.stdout).map_err(|e| self.unexpected(format!("nft printed no JSON: {e}")))?;
            for item in doc["nftables"].as_array().into_iter().flatten() {
                for e in item["map"]["elem"].as_array().into_iter().flatten() {
                    let key = e.as_array().and_then(|p| p.first()).and_then(Value::as_str).and_then(|k| k.parse::<IpAddr>().ok());
                    let target = e.as_array().and_then(|p| p.get(1)).and_then(|v| v["jump"]["target"].as_str());
                    let going = key.is_some_and(|k| doomed.iter().any(|(d, _)| *d == k) && target == Some(&l.request_chain(request, k)));
                    if !going {
                        mapped += 1;
                    }
                }
            }
        }
        if mapped > 0 {
            return Ok(Vec::new());
        }
        let jumps: Vec<u64> =
            self.operator_chain_rules(chain).await?.into_iter().filter(|r| r.comment.as_deref() == Some(JUMP_COMMENT)).map(|r| r.handle).collect();
        if jumps.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch: Vec<Value> =
            jumps.iter().map(|h| json!({"delete": {"rule": {"family": l.family.as_str(), "table": l.table, "chain": chain, "handle": h}}})).collect();
        batch.push(json!({"flush": {"chain": l.chain_ref(DISPATCH_CHAIN)}}));
        batch.push(json!({"delete": {"chain": l.chain_ref(DISPATCH_CHAIN)}}));
        for (map, _, _) in l.maps() {
            batch.push(json!({"delete": {"map": {"family": l.family.as_str(), "table": l.table, "name": map}}}));
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::integration::NftComment;

    #[test]
    fn the_jump_goes_before_the_named_rule() {
        let listing = r#"{"nftables": [{"metainfo": {}}, {"chain": {"family": "inet", "table": "filter", "name": "forward", "handle": 2}},
            {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 8, "comment": "ops: established", "expr": []}},
            {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 10, "comment": "ops: refuse the rest", "expr": []}}]}"#;
        let rules = chain_listing(listing).unwrap();
        assert_eq!(rules.len(), 2);
        let by_comment = RuleAnchor { handle: None, comment: Some(NftComment::parse("ops: refuse the rest").unwrap()) };
        assert_eq!(anchor_handle(&rules, Some(&by_comment)), Ok(Some(10)));
        assert_eq!(anchor_handle(&rules, Some(&RuleAnchor { handle: Some(8), comment: None })), Ok(Some(8)));
        assert_eq!(anchor_handle(&rules, None), Ok(None));
        assert!(anchor_handle(&rules, Some(&RuleAnchor { handle: Some(99), comment: None })).unwrap_err().contains("handle 99"));
    }
}
