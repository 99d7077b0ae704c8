//! `undo_provisioning`: decommissioning's building block. Undoes one step of the request's
//! provisioning run — **every attempt** of it that started, newest first, each with the
//! parameters and output that attempt saved — holding the step's devices as its forward action
//! did, and releasing them explicitly. Its own undo re-does the provisioning step's latest
//! attempt (both are idempotent), under the same locks.

use serde_json::{Value, json};

use crate::engine::action::required;
use crate::engine::run_log::{AttemptView, derive};
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};
use crate::service::Service;

pub struct UndoProvisioning;

const PARAMS: &[Param] = &[required("step", ParamKind::Text)];

/// The provisioning step's action and its attempts still to undo (newest first).
async fn provisioned(ctx: &ActionCtx<'_>) -> Result<Option<(String, Vec<AttemptView>)>, StepError> {
    let store = &ctx.env.service.store;
    let run_id = crate::domain::RunId::new(&ctx.request.id, Service::provisioning_playbook(ctx.request.form.kind)).to_string();
    let run = match store.run(&run_id).await {
        Ok(r) => r,
        Err(crate::store::StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let pb: crate::engine::Playbook = serde_json::from_str(&run.definition_json).map_err(|e| StepError::new(crate::engine::Cause::Internal, format!("run {run_id}: {e}")))?;
    let events = store.run_events(&run_id).await?;
    let view = derive(&pb, &events);
    let name = ctx.param_str("step")?;
    // One decommission playbook serves every kind: a step the request's playbook does not have
    // (hosting has no IPv6 address, say) has nothing to undo.
    let Some(step) = view.steps.iter().find(|s| s.name == name) else { return Ok(None) };
    let mut attempts: Vec<AttemptView> = step.attempts_to_undo().cloned().collect();
    attempts.sort_by_key(|a| std::cmp::Reverse(a.started_seq));
    Ok(Some((step.action.clone(), attempts)))
}

fn action_of<'a>(ctx: &'a ActionCtx<'a>, name: &str) -> Result<&'a std::sync::Arc<dyn Action>, StepError> {
    ctx.env.registry.get(name).ok_or_else(|| StepError::invalid(format!("unknown action {name}")))
}

impl Action for UndoProvisioning {
    fn name(&self) -> &'static str {
        "undo_provisioning"
    }
    fn describe(&self) -> &'static str {
        "undo a step of the provisioning run"
    }
    fn params(&self) -> &'static [Param] {
        PARAMS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["undone", "action", "attempts"]
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        format!("undo provisioning step {} (every attempt that started)", ctx.param_str("step").unwrap_or("?"))
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let Some((action_name, attempts)) = provisioned(ctx).await? else {
                return Ok(Outcome::Done(json!({ "undone": false, "action": Value::Null, "attempts": [] })));
            };
            let action = action_of(ctx, &action_name)?;
            let step = ctx.param_str("step")?;
            let mut undone = Vec::new();
            for a in &attempts {
                let inner = ActionCtx { run_id: ctx.run_id, step, request: ctx.request, params: &a.params, env: ctx.env };
                let guards = ctx.env.locks.acquire(&ctx.env.service.store, &action.devices(&a.params)).await?;
                let result = action.undo(&inner, a.output.as_ref()).await;
                guards.release().await;
                result.map_err(|e| e.context(format!("undo of {step} attempt {}", a.attempt)))?;
                undone.push(a.attempt);
            }
            Ok(Outcome::Done(json!({ "undone": !undone.is_empty(), "action": action_name, "attempts": undone })))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let Some((action_name, attempts)) = provisioned(ctx).await? else { return Ok(()) };
            let Some(latest) = attempts.first() else { return Ok(()) };
            let action = action_of(ctx, &action_name)?;
            let inner = ActionCtx { run_id: ctx.run_id, step: ctx.param_str("step")?, request: ctx.request, params: &latest.params, env: ctx.env };
            let guards = ctx.env.locks.acquire(&ctx.env.service.store, &action.devices(&latest.params)).await?;
            let result = action.run(&inner).await.map(|_| ());
            guards.release().await;
            result
        })
    }
}
