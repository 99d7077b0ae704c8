//! `allocate_address`: an address from a pool for (request, purpose); undo releases it.
//! Idempotent by construction: the allocation is keyed by (request, purpose) in the store.
//!
//! `optional: true` (the stock playbook's `address-v6`): where the data center has no such pool
//! (an IPv4-only site), the step is *not applicable*: it succeeds with `address: null` and a
//! `not_applicable` reason in its output, so later steps see no address (`dns_records` writes
//! no AAAA/PTR, documents print "-") and run status shows why.

use serde_json::{Value, json};

use crate::engine::action::{optional, required};
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};
use crate::lifecycle::Actor;

pub struct AllocateAddress;

const PARAMS: &[Param] = &[required("pool", ParamKind::Text), optional("purpose", ParamKind::Text), optional("optional", ParamKind::Bool)];

fn is_optional(ctx: &ActionCtx<'_>) -> bool {
    ctx.params.get("optional").and_then(Value::as_bool).unwrap_or(false)
}

fn not_applicable(pool: &str) -> String {
    format!("not applicable: this data center has no IP pool {pool} (e.g. an IPv4-only site), so no address is allocated")
}

fn purpose<'a>(ctx: &'a ActionCtx<'a>) -> &'a str {
    ctx.param_opt_str("purpose").unwrap_or(ctx.step)
}


impl Action for AllocateAddress {
    fn name(&self) -> &'static str {
        "allocate_address"
    }
    fn describe(&self) -> &'static str {
        "allocate an IP address from the pool"
    }
    fn params(&self) -> &'static [Param] {
        PARAMS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["address", "prefix_len", "gateway", "vlan", "pool", "not_applicable"]
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        let pool = ctx.param_str("pool").unwrap_or("?");
        // The inventory's pools are what a new store is seeded with; the run itself asks the store.
        if is_optional(ctx) && !ctx.env.service.inventory.ip_pools.iter().any(|p| p.name == pool) {
            return format!("{} (pool {pool} is not in the inventory)", not_applicable(pool));
        }
        format!("allocate the lowest free address of pool {} to {} ({})", ctx.param_str("pool").unwrap_or("?"), ctx.request.id, purpose(ctx))
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let pool = ctx.param_str("pool")?;
            if is_optional(ctx) {
                let pools = ctx.env.service.store.pools().await?;
                if !pools.iter().any(|p| p.spec.name == pool) {
                    return Ok(Outcome::Done(json!({
                        "address": null, "prefix_len": null, "gateway": null, "vlan": null, "pool": pool,
                        "not_applicable": not_applicable(pool),
                    })));
                }
            }
            let a = ctx.env.service.allocate_address(&Actor::system(), ctx.request.id.as_str(), pool, purpose(ctx)).await.map_err(StepError::from)?;
            Ok(Outcome::Done(json!({
                "address": a.address.to_string(),
                "prefix_len": a.prefix_len,
                "gateway": a.gateway.map(|g| g.to_string()),
                "vlan": a.vlan.get(),
                "pool": a.pool,
            })))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            ctx.env.service.release_address(&Actor::system(), ctx.request.id.as_str(), purpose(ctx)).await.map_err(StepError::from)?;
            Ok(())
        })
    }
}
