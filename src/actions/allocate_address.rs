//! `allocate_address`: an address from a pool for (request, purpose); undo releases it.
//! Idempotent by construction: the allocation is keyed by (request, purpose) in the store.

use serde_json::{Value, json};

use crate::engine::action::{optional, required};
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};
use crate::lifecycle::Actor;

pub struct AllocateAddress;

const PARAMS: &[Param] = &[required("pool", ParamKind::Text), optional("purpose", ParamKind::Text)];

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
        &["address", "prefix_len", "gateway", "vlan", "pool"]
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        format!("allocate the lowest free address of pool {} to {} ({})", ctx.param_str("pool").unwrap_or("?"), ctx.request.id, purpose(ctx))
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let pool = ctx.param_str("pool")?;
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
