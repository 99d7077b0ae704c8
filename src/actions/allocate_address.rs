//! `allocate_address`: an address from a pool for (request, purpose); undo releases it.
//! Idempotent by construction: the allocation is keyed by (request, purpose) in the store.
//!
//! `optional: true` (the stock playbook's `address-v6`): where the data center has no such pool
//! (an IPv4-only site), the step is *not applicable*: it succeeds with `address: null` and a
//! `not_applicable` reason in its output, so later steps see no address (`dns_records` writes
//! no AAAA/PTR, documents print "-") and run status shows why.

use serde_json::Value;

use crate::engine::action::{optional, required};
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};
use crate::ipam::AddressOutput;
use crate::lifecycle::Actor;

pub struct AllocateAddress;

fn done(output: AddressOutput) -> Outcome {
    Outcome::Done(serde_json::to_value(output).expect("serialisable"))
}


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
                    let output = AddressOutput {
                        address: None,
                        prefix_len: None,
                        gateway: None,
                        vlan: None,
                        pool: pool.to_string(),
                        not_applicable: Some(not_applicable(pool)),
                    };
                    return Ok(done(output));
                }
            }
            let a = ctx.env.service.allocate_address(&Actor::system(), ctx.request.id.as_str(), pool, purpose(ctx)).await.map_err(StepError::from)?;
            let output = AddressOutput {
                address: Some(a.address),
                prefix_len: Some(a.prefix_len),
                gateway: a.gateway,
                vlan: Some(a.vlan.get()),
                pool: a.pool,
                not_applicable: None,
            };
            Ok(done(output))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            ctx.env.service.release_address(&Actor::system(), ctx.request.id.as_str(), purpose(ctx)).await.map_err(StepError::from)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SavedOutput;

    /// The keys the playbook checker allows references to are exactly the output's fields.
    #[test]
    fn declared_outputs_are_the_typed_outputs_fields() {
        let full = AddressOutput {
            address: Some("198.51.100.5".parse().unwrap()),
            prefix_len: Some(25),
            gateway: None,
            vlan: Some(120),
            pool: "dc-v4".into(),
            not_applicable: Some("x".into()),
        };
        let value = serde_json::to_value(&full).unwrap();
        let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        let mut declared = AllocateAddress.outputs().to_vec();
        keys.sort();
        declared.sort();
        assert_eq!(keys, declared);
        assert_eq!(AddressOutput::read(&value), Some(full.clone()));
        assert_eq!(full.with_prefix().as_deref(), Some("198.51.100.5/25"));
    }
}
