//! `undo_provisioning`: decommissioning's building block. Undoes one step of the request's
//! provisioning run with the parameters and output that run saved; its own undo re-does that
//! step's forward action (both are idempotent).

use serde_json::{Value, json};

use crate::engine::action::required;
use crate::engine::run_log::derive;
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError, StepStatus};
use crate::service::Service;

pub struct UndoProvisioning;

const PARAMS: &[Param] = &[required("step", ParamKind::Text)];

/// The provisioning step's action, saved parameters and output.
async fn provisioned(ctx: &ActionCtx<'_>) -> Result<Option<(String, Value, Option<Value>)>, StepError> {
    let store = &ctx.env.service.store;
    let run_id = format!("{}/{}", ctx.request.id, Service::provisioning_playbook(ctx.request.form.kind));
    let run = match store.run(&run_id).await {
        Ok(r) => r,
        Err(crate::store::StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(StepError::Retryable(e.to_string())),
    };
    let pb: crate::engine::Playbook = serde_json::from_str(&run.definition_json).map_err(|e| StepError::Fatal(e.to_string()))?;
    let events = store.run_events(&run_id).await.map_err(|e| StepError::Retryable(e.to_string()))?;
    let view = derive(&pb, &events);
    let name = ctx.param_str("step")?;
    // One decommission playbook serves every kind: a step the request's playbook does not have
    // (hosting has no IPv6 address, say) has nothing to undo.
    let Some(step) = view.steps.iter().find(|s| s.name == name) else { return Ok(None) };
    if matches!(step.status, StepStatus::Pending | StepStatus::Undone) || step.params.is_none() {
        return Ok(None); // never ran, or already undone by an unwind
    }
    Ok(Some((step.action.clone(), step.params.clone().unwrap_or(Value::Null), step.output.clone())))
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
        &["undone", "action"]
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        format!("undo provisioning step {}", ctx.param_str("step").unwrap_or("?"))
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let Some((action_name, params, output)) = provisioned(ctx).await? else {
                return Ok(Outcome::Done(json!({ "undone": false, "action": Value::Null })));
            };
            let action = ctx.env.registry.get(&action_name).ok_or_else(|| StepError::Fatal(format!("unknown action {action_name}")))?;
            let inner = ActionCtx { run_id: ctx.run_id, step: ctx.param_str("step")?, request: ctx.request, params: &params, env: ctx.env };
            let _guards = ctx.env.locks.acquire(&ctx.env.service.store, &action.devices(&params)).await.map_err(|e| StepError::Retryable(e.to_string()))?;
            action.undo(&inner, output.as_ref()).await?;
            Ok(Outcome::Done(json!({ "undone": true, "action": action_name })))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, _output: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let Some((action_name, params, _)) = provisioned(ctx).await? else { return Ok(()) };
            let action = ctx.env.registry.get(&action_name).ok_or_else(|| StepError::Fatal(format!("unknown action {action_name}")))?;
            let inner = ActionCtx { run_id: ctx.run_id, step: ctx.param_str("step")?, request: ctx.request, params: &params, env: ctx.env };
            action.run(&inner).await.map(|_| ())
        })
    }
}
