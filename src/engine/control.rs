//! What an operator does to a run: re-run a step, skip it (with a reason), or unwind the run.
//! Each writes its run-log event and its audit row in one transaction; the executor then acts.

use serde_json::json;

use super::executor::{ev, retryable_status, run_ev};
use super::run_log::{RunStatus, StepStatus};
use super::{Engine, EngineError};
use crate::lifecycle::{Actor, Role};
use crate::store::AuditEntry;

fn may_operate(actor: &Actor) -> Result<(), EngineError> {
    if matches!(actor.role, Role::Operator | Role::Admin | Role::Inspector) {
        Ok(())
    } else {
        Err(EngineError::Service(crate::service::ServiceError::Forbidden(format!(
            "operating runs needs the role operator, inspector or admin; {} may not",
            actor.role
        ))))
    }
}

impl Engine {
    /// The run of (request, playbook).
    pub fn run_id(request_id: &str, playbook: &str) -> String {
        format!("{request_id}/{playbook}")
    }

    /// Re-runs `step` (default: the failed one) as a new attempt.
    pub async fn retry(&self, actor: &Actor, run_id: &str, step: Option<&str>, reason: &str) -> Result<String, EngineError> {
        may_operate(actor)?;
        let (pb, view) = self.view(run_id).await?;
        if view.unwind_requested {
            return Err(EngineError::Invalid("the run is being unwound; it cannot be retried".into()));
        }
        let s = match step {
            Some(name) => view.steps.iter().find(|s| s.name == name).ok_or_else(|| EngineError::Invalid(format!("playbook {} has no step {name:?}", pb.name)))?,
            None => view.current().filter(|s| matches!(s.status, StepStatus::Failed { .. })).ok_or_else(|| EngineError::Invalid("no step has failed; name one with --step".into()))?,
        };
        if !retryable_status(&s.status) {
            return Err(EngineError::Invalid(format!("step {} is {:?}; only failed, waiting, skipped or finished steps can be re-run", s.name, s.status)));
        }
        let attempt = s.attempt + 1;
        self.control_event(actor, run_id, s.index, attempt, "retry", reason, "run.retry", &s.name).await?;
        Ok(s.name.clone())
    }

    /// Marks the failed (or named) step skipped; the run goes on with the next one.
    pub async fn skip(&self, actor: &Actor, run_id: &str, step: Option<&str>, reason: &str) -> Result<String, EngineError> {
        may_operate(actor)?;
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("skipping a step needs a reason".into()));
        }
        let (_, view) = self.view(run_id).await?;
        let s = match step {
            Some(name) => view.steps.iter().find(|s| s.name == name),
            None => view.current(),
        }
        .ok_or_else(|| EngineError::Invalid("no such step to skip".into()))?;
        if matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped { .. }) {
            return Err(EngineError::Invalid(format!("step {} is already finished", s.name)));
        }
        self.control_event(actor, run_id, s.index, s.attempt, "skipped", reason, "run.skip", &s.name).await?;
        Ok(s.name.clone())
    }

    /// Undoes every step that did work, last first.
    pub async fn unwind(&self, actor: &Actor, run_id: &str, reason: &str) -> Result<(), EngineError> {
        may_operate(actor)?;
        let (_, view) = self.view(run_id).await?;
        if matches!(view.status, RunStatus::Unwound) {
            return Ok(());
        }
        let mut w = self.service().store.write().await?;
        w.append_run_event(run_id, &run_ev(1, "unwind", &actor.name).reason(reason)).await?;
        w.set_run_status(run_id, "unwinding").await?;
        let request_id = run_id.split('/').next().map(str::to_string);
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id,
            action: "run.unwind".into(),
            reason: Some(reason.into()),
            before: Some(json!({ "run": run_id, "status": view.status })),
            after: Some(json!({ "run": run_id, "status": "unwinding" })),
        })
        .await?;
        w.commit().await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn control_event(&self, actor: &Actor, run_id: &str, index: usize, attempt: i64, event: &str, reason: &str, action: &str, step: &str) -> Result<(), EngineError> {
        let mut w = self.service().store.write().await?;
        w.append_run_event(run_id, &ev(index, attempt, event, &actor.name).reason(reason)).await?;
        w.set_run_status(run_id, "pending").await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: run_id.split('/').next().map(str::to_string),
            action: action.into(),
            reason: Some(reason.into()),
            before: None,
            after: Some(json!({ "run": run_id, "step": step, "attempt": attempt })),
        })
        .await?;
        w.commit().await?;
        Ok(())
    }
}
