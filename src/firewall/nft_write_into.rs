//! `write_into` mode: the request's accepts and its destination's drop go straight into a
//! regular chain the operator named (and jumps to from their own base chain), each tagged
//! `kolokasi:<request>:<kind>`. A change reads that chain, then deletes the request's earlier
//! rules for the destination and appends them again in one atomic batch; undo deletes exactly
//! the rules whose comments name the request. The operator's rules in that chain are never
//! touched; a destination another request's rules guard is refused naming that request.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{Value, json};

use super::integration::Integration;
use super::nft_layout::batch_bytes;
use super::nftables::{Allowed, InstalledRule, Nftables, StaleMapping};
use super::rule::{self, FirewallRule, RuleComment};
use super::FirewallError;
use crate::ssh::{RemoteCommand, RequestTag};

impl Nftables {
    fn write_into_chain(&self) -> &str {
        match self.integration() {
            Integration::WriteInto { chain, .. } => chain.as_str(),
            _ => unreachable!("only called in write_into mode"),
        }
    }

    /// kolokasi's rules in the operator's chain (an error naming the chain if it is missing).
    async fn written_rules(&self) -> Result<Vec<InstalledRule>, FirewallError> {
        let listing = self.list_operator_chain(self.write_into_chain()).await?;
        self.parse_rules(&listing)
    }

    fn delete_rule(&self, handle: u64) -> Value {
        let l = self.layout();
        json!({"delete": {"rule": {"family": l.family.as_str(), "table": l.table, "chain": self.write_into_chain(), "handle": handle}}})
    }

    pub(super) async fn write_into_allow(&self, request: &RequestTag, rules: &[FirewallRule], stale: Option<&StaleMapping>) -> Result<Allowed, FirewallError> {
        let destinations: BTreeSet<IpAddr> = self.destinations(request, rules)?;
        if destinations.is_empty() {
            return Ok(Allowed { written: Vec::new(), total: 0 });
        }
        let chain = self.write_into_chain().to_string();
        let _change = self.lock_changes().await;
        let installed = self.written_rules().await?;
        let mut batch = Vec::new();
        for r in &installed {
            let Some(d) = r.comment.destination().filter(|d| destinations.contains(d)) else { continue };
            if r.comment.request == *request || stale.is_some_and(|s| s.address == d) {
                batch.push(self.delete_rule(r.handle));
            } else {
                let mapping = StaleMapping { address: d, chain: chain.clone() };
                return Err(FirewallError::AddressTaken { device: self.device().into(), mapping, owner: Some(r.comment.request.clone()) });
            }
        }
        let mut written = Vec::new();
        for &d in &destinations {
            let accepts = rules.iter().filter(|r| r.destination == d).map(|r| (r.comment(), super::nftables::accept_expr(r)));
            for (comment, expr) in accepts.chain([(rule::comment(request, &rule::drop_kind(d)), super::nftables::drop_expr(d))]) {
                batch.push(json!({"add": {"rule": self.layout().rule(&chain, Some(&comment), expr)}}));
                let comment = RuleComment::parse(&comment).ok_or_else(|| self.unexpected(format!("unparsable own comment {comment:?}")))?;
                written.push(InstalledRule { chain: chain.clone(), handle: 0, comment });
            }
        }
        let command = RemoteCommand::new("nft").args(["--json", "-f", "-"]);
        let out = self.run(&command, Some(&batch_bytes(batch))).await?;
        if !out.success() {
            return Err(self.command_failed(&out.status_text(), &out.stderr));
        }
        Ok(Allowed { total: written.len(), written })
    }

    pub(super) async fn write_into_remove(&self, request: &RequestTag, destination: Option<IpAddr>) -> Result<usize, FirewallError> {
        let _change = self.lock_changes().await;
        let doomed: Vec<u64> = self
            .written_rules()
            .await?
            .into_iter()
            .filter(|r| r.comment.request == *request && destination.is_none_or(|d| r.comment.destination() == Some(d)))
            .map(|r| r.handle)
            .collect();
        if doomed.is_empty() {
            return Ok(0);
        }
        let batch = doomed.iter().map(|h| self.delete_rule(*h)).collect();
        let command = RemoteCommand::new("nft").args(["--json", "-f", "-"]);
        let out = self.run(&command, Some(&batch_bytes(batch))).await?;
        if !out.success() {
            return Err(self.command_failed(&out.status_text(), &out.stderr));
        }
        Ok(doomed.len())
    }
}
