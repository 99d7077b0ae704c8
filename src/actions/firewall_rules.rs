//! `firewall_rules`: allows the request's services (`tcp/443`, …) to its address, optionally
//! only from some sources, and closes the address to everything else; undo removes exactly
//! the rules this request installed for that address.
//!
//! Idempotent: every rule's comment names the request and what it allows, so a re-run adds
//! only what is missing.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::engine::action::{optional, required};
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};
use crate::firewall::{FirewallDriver, FirewallError, FirewallRule, FirewallStepOutput, Service, StaleMapping, parse_source};
use crate::lifecycle::Actor;
use crate::store::AuditEntry;
use crate::ssh::RequestTag;

pub struct FirewallRules;

const PARAMS: &[Param] = &[
    required("device", ParamKind::Text),
    required("address", ParamKind::Address),
    required("services", ParamKind::List),
    optional("sources", ParamKind::List),
];

fn firewall<'a>(ctx: &'a ActionCtx<'a>) -> Result<&'a FirewallDriver, StepError> {
    let device = ctx.param_str("device")?;
    ctx.env.drivers.firewalls.get(device).map(|d| &**d).ok_or_else(|| StepError::invalid(format!("no firewall named {device:?} is configured")))
}

fn address(ctx: &ActionCtx<'_>) -> Result<IpAddr, StepError> {
    let text = ctx.param_str("address")?;
    text.parse().map_err(|_| StepError::invalid(format!("parameter address {text:?} is not an IP address")))
}

/// A list parameter's texts (a single text counts as a list of one).
fn texts<'a>(ctx: &'a ActionCtx<'a>, name: &str) -> Result<Vec<&'a str>, StepError> {
    match ctx.params.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().ok_or_else(|| StepError::invalid(format!("parameter {name} must be a list of texts")))).collect()
        }
        Some(_) => Err(StepError::invalid(format!("parameter {name} must be a list of texts"))),
    }
}

fn rules(ctx: &ActionCtx<'_>) -> Result<Vec<FirewallRule>, StepError> {
    let request = RequestTag::from(&ctx.request.id);
    let destination = address(ctx)?;
    let fatal = |e: crate::firewall::RuleError| StepError::invalid(e.to_string());
    let sources = texts(ctx, "sources")?.into_iter().map(parse_source).collect::<Result<Vec<_>, _>>().map_err(fatal)?;
    let mut services = texts(ctx, "services")?.into_iter().map(str::parse::<Service>).collect::<Result<Vec<_>, _>>().map_err(fatal)?;
    if services.is_empty() {
        return Err(StepError::invalid("parameter services is empty: name at least one, like tcp/443"));
    }
    services.sort();
    services.dedup();
    services.into_iter().map(|s| FirewallRule::new(request.clone(), destination, s, sources.clone()).map_err(fatal)).collect()
}

/// Whether `owner` still holds `address` by IPAM (then its firewall chain is not a leftover).
async fn holds(ctx: &ActionCtx<'_>, owner: &RequestTag, address: IpAddr) -> Result<bool, StepError> {
    let records = ctx.env.service.store.allocations(Some(owner.as_str()), None, 1000).await?;
    Ok(records.iter().any(|r| r.released_at.is_none() && r.address.parse::<IpAddr>().ok() == Some(address)))
}

/// The replaced leftover belonged to another request: that goes into the audit trail, not only
/// into this run's log.
async fn audit_take_over(ctx: &ActionCtx<'_>, device: &str, owner: &RequestTag, stale: &StaleMapping) -> Result<(), StepError> {
    let mut w = ctx.env.service.store.write().await?;
    w.audit(AuditEntry {
        actor: Actor::system(),
        request_id: Some(ctx.request.id.as_str().to_string()),
        action: "firewall.stale_mapping.replaced".into(),
        reason: Some(format!("request {owner} no longer holds {} by IPAM", stale.address)),
        before: Some(json!({"device": device, "address": stale.address.to_string(), "chain": stale.chain, "request": owner.as_str()})),
        after: Some(json!({"device": device, "address": stale.address.to_string(), "request": ctx.request.id.as_str()})),
    })
    .await
    ?;
    Ok(w.commit().await?)
}


impl Action for FirewallRules {
    fn name(&self) -> &'static str {
        "firewall_rules"
    }
    fn describe(&self) -> &'static str {
        "allow the request's services to its address on a firewall, and drop everything else to it"
    }
    fn params(&self) -> &'static [Param] {
        PARAMS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["device", "address", "rules"]
    }
    fn devices(&self, params: &Value) -> Vec<String> {
        params.get("device").and_then(Value::as_str).map(|d| vec![d.to_string()]).unwrap_or_default()
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        let services = texts(ctx, "services").map(|s| s.join(", ")).unwrap_or_else(|_| "?".into());
        let sources = texts(ctx, "sources").ok().filter(|s| !s.is_empty()).map(|s| s.join(", ")).unwrap_or_else(|| "anywhere".into());
        let what = format!(
            "on {} allow {services} to {} from {sources}, drop the rest to it",
            ctx.param_str("device").unwrap_or("?"),
            ctx.param_str("address").unwrap_or("?")
        );
        // With the firewall configured and the parameters known: the chains, rules and jump.
        match (firewall(ctx), rules(ctx)) {
            (Ok(driver), Ok(rules)) => format!("{what} — {}", driver.plan(&RequestTag::from(&ctx.request.id), &rules)),
            (Ok(driver), Err(_)) => match driver.plan(&RequestTag::from(&ctx.request.id), &[]) {
                jump if !jump.is_empty() => format!("{what} — the request's chain once the address is known; {jump}"),
                _ => what,
            },
            _ => what,
        }
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let driver = firewall(ctx)?;
            let rules = rules(ctx)?;
            let request = RequestTag::from(&ctx.request.id);
            let mut replaced = None;
            let allowed = match driver.allow(&request, &rules).await {
                Err(FirewallError::AddressTaken { mapping, owner: Some(owner), .. }) if !holds(ctx, &owner, mapping.address).await? => {
                    // IPAM gave this address to this request: the other request's chain for it
                    // is a leftover (an undo skipped, a step never unwound), not a neighbour.
                    tracing::warn!(request = %request, device = driver.device(), address = %mapping.address, stale_chain = %mapping.chain,
                        "replacing a firewall mapping left by request {owner}, which no longer holds the address");
                    let allowed = driver.take_over(&request, &rules, &mapping).await.map_err(StepError::from)?;
                    audit_take_over(ctx, driver.device(), &owner, &mapping).await?;
                    replaced = Some(mapping.chain);
                    allowed
                }
                other => other.map_err(StepError::from)?,
            };
            let output = FirewallStepOutput { device: driver.device().to_string(), address: address(ctx)?, rules: allowed.total, replaced_stale: replaced };
            Ok(Outcome::Done(serde_json::to_value(output).expect("serialisable")))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let driver = firewall(ctx)?;
            let request = RequestTag::from(&ctx.request.id);
            driver.remove(&request, Some(address(ctx)?)).await.map_err(StepError::from)?;
            Ok(())
        })
    }
}
