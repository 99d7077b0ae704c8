//! What an operator does to a run: re-run a step, skip it (with a reason), unwind the run, and
//! for a run stuck on a failed undo, retry that undo or mark it resolved by hand. Each writes
//! its run-log event and its audit row in one transaction; the workers then act.
//!
//! Which of these a run allows depends on the run *and* its request ([`allowed_actions`]): a
//! request in a final state has closed runs; a decommissioning run is never unwound (that would
//! provision the server again); a withdrawal's unwind is only helped along, never stopped.

use serde::Serialize;
use serde_json::json;

use super::executor::{ev, retryable_status};
use super::run_log::{RunStatus, RunView, StepStatus, UndoState, undo_event};
use super::{Engine, EngineError};
use crate::domain::RequestId;
use crate::lifecycle::{Actor, Role, State};
use crate::store::{AuditEntry, Write};

/// What may be done to a run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunAction {
    /// A worker (or `run start|resume`) drives it on.
    Resume,
    /// Re-run the failed step (or a named one) as a new attempt.
    Retry,
    /// Mark the failed step skipped, with a reason.
    Skip,
    /// Undo every attempt that did work, newest first.
    Unwind,
    /// Try the failed undo again (after the device was fixed).
    RetryUndo,
    /// Mark the failed undo resolved by hand, with a reason (the saved state stays as evidence).
    Resolve,
}

impl RunAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resume => "resume",
            Self::Retry => "retry",
            Self::Skip => "skip",
            Self::Unwind => "unwind",
            Self::RetryUndo => "retry_undo",
            Self::Resolve => "resolve",
        }
    }
}

/// The request states in which its provisioning run may still be driven, retried or unwound.
fn provisioning_phase(state: State) -> bool {
    matches!(state, State::AwaitingHardware | State::Provisioning | State::HandedOver)
}

/// What a run does for its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// The request's provisioning playbook (colocation, hosting).
    Provisioning,
    /// Decommissioning after a Form Pencabutan: driven and retried, never unwound.
    Decommission,
    /// Any other playbook an operator runs for a request: bound only by the request being open.
    Other,
}

impl RunKind {
    pub fn of(playbook: &str, kind: crate::domain::RequestKind) -> Self {
        if playbook == crate::service::Service::provisioning_playbook(kind) {
            Self::Provisioning
        } else if playbook == "decommission" {
            Self::Decommission
        } else {
            Self::Other
        }
    }
}

/// What may be done to a run of kind `run` whose request is in `state`.
pub fn allowed_actions(state: State, run: RunKind, view: &RunView) -> Vec<RunAction> {
    use RunAction as A;
    if state.is_final() {
        return Vec::new();
    }
    let provisioning = run != RunKind::Decommission;
    let (forward_phase, unwind_phase) = match run {
        RunKind::Provisioning => (provisioning_phase(state), provisioning_phase(state) || state == State::Withdrawing),
        RunKind::Decommission => (state == State::Decommissioning, false),
        RunKind::Other => (true, true),
    };
    match view.status {
        RunStatus::Pending | RunStatus::Running if forward_phase => {
            if provisioning { vec![A::Resume, A::Unwind] } else { vec![A::Resume] }
        }
        RunStatus::Waiting if forward_phase => {
            if provisioning { vec![A::Retry, A::Unwind] } else { vec![A::Retry] }
        }
        RunStatus::Failed if forward_phase => {
            if provisioning { vec![A::Retry, A::Skip, A::Unwind] } else { vec![A::Retry, A::Skip] }
        }
        // A withdrawal arrived before the worker saw it: the unwind is on its way.
        RunStatus::Pending | RunStatus::Running | RunStatus::Waiting | RunStatus::Failed if state == State::Withdrawing => vec![A::Resume],
        RunStatus::Unwinding if unwind_phase => vec![A::Resume],
        RunStatus::Stuck if unwind_phase => vec![A::RetryUndo, A::Resolve],
        RunStatus::Succeeded if run == RunKind::Other => vec![A::Retry, A::Unwind],
        // A live service's provisioning steps may be re-run one by one (they are idempotent:
        // a repair puts back what the step wrote).
        RunStatus::Succeeded if run == RunKind::Provisioning && state == State::Active => vec![A::Retry],
        // Succeeded or unwound: the request's lifecycle follows (resume applies it if a crash
        // came in between).
        RunStatus::Succeeded | RunStatus::Unwound if forward_phase || state == State::Withdrawing => vec![A::Resume],
        _ => Vec::new(),
    }
}

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

/// The refusal when `wanted` is not among `allowed`, saying what is.
/// A control's reason is free text from a person: visible characters only (no bidi overrides,
/// zero-width or control characters), at most 500.
fn checked_reason(reason: &str) -> Result<(), EngineError> {
    crate::service::checked_reason(reason).map(|_| ()).map_err(EngineError::Service)
}

fn refuse(run_id: &str, state: State, view: &RunView, wanted: RunAction, allowed: &[RunAction]) -> EngineError {
    let now = if allowed.is_empty() {
        if state.is_final() { format!("the request is {state}, so its runs are closed") } else { "nothing can be done to it now".to_string() }
    } else {
        format!("allowed now: {}", allowed.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "))
    };
    EngineError::Invalid(format!("cannot {} run {run_id}: it is {} and its request is {state}; {now}", wanted.as_str(), view.status.as_str()))
}

impl Engine {
    /// The run of (request, playbook).
    pub fn run_id(request_id: &str, playbook: &str) -> String {
        match RequestId::parse(request_id) {
            Ok(id) => crate::domain::RunId::new(&id, playbook).to_string(),
            Err(_) => format!("{request_id}/{playbook}"), // a name that is no request: no run will match it
        }
    }

    /// The run's view, its request's state, and what may be done to it now.
    pub async fn allowed(&self, run_id: &str) -> Result<(RunView, State, Vec<RunAction>), EngineError> {
        let run = self.service().store.run(run_id).await?;
        let (_, view) = self.view(run_id).await?;
        let request_id = RequestId::parse(&run.request_id).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        let request = self.service().store.request(&request_id).await?;
        let actions = allowed_actions(request.state, RunKind::of(&run.playbook, request.form.kind), &view);
        Ok((view, request.state, actions))
    }

    /// [`Engine::allowed`] inside an audited write: the run log and the request as they are
    /// while this transaction holds the audit lock, so that no worker applies an outcome and no
    /// other control lands between the check and the control's own event.
    async fn allowed_in(&self, w: &mut Write, run: &crate::store::RunRow) -> Result<(RunView, State, Vec<RunAction>), EngineError> {
        let run_id = run.id.as_str();
        let pb = self.definition(&run.definition_json)?;
        let view = super::run_log::derive(&pb, &w.run_events(run_id).await?);
        let request_id = RequestId::parse(&run.request_id).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        let request = w.load_request(&request_id).await?;
        let actions = allowed_actions(request.state, RunKind::of(&run.playbook, request.form.kind), &view);
        Ok((view, request.state, actions))
    }

    async fn checked(&self, actor: &Actor, run_id: &str, wanted: RunAction) -> Result<(Write, RunView), EngineError> {
        may_operate(actor)?;
        // The run's row (its playbook never changes) is read before the write holds a connection.
        let run = self.service().store.run(run_id).await?;
        let mut w = self.service().store.write().await?;
        let (view, state, allowed) = self.allowed_in(&mut w, &run).await?;
        if !allowed.contains(&wanted) {
            return Err(refuse(run_id, state, &view, wanted, &allowed));
        }
        Ok((w, view))
    }

    /// Re-runs `step` (default: the failed one) as a new attempt.
    pub async fn retry(&self, actor: &Actor, run_id: &str, step: Option<&str>, reason: &str) -> Result<String, EngineError> {
        checked_reason(reason)?;
        let (w, view) = self.checked(actor, run_id, RunAction::Retry).await?;
        let s = match step {
            Some(name) => view.steps.iter().find(|s| s.name == name).ok_or_else(|| EngineError::Invalid(format!("run {run_id} has no step {name:?}")))?,
            None => view
                .current()
                .filter(|s| matches!(s.status, StepStatus::Failed { .. } | StepStatus::Waiting { .. }))
                .ok_or_else(|| EngineError::Invalid("no step has failed; name one with --step".into()))?,
        };
        if !retryable_status(&s.status) {
            return Err(EngineError::Invalid(format!("step {} is {:?}; only failed, waiting, skipped or finished steps can be re-run", s.name, s.status)));
        }
        let attempt = s.attempt + 1;
        self.control_event(w, actor, run_id, s.index, attempt, "retry", reason, "run.retry", json!({ "step": s.name, "attempt": attempt })).await?;
        Ok(s.name.clone())
    }

    /// Marks the failed (or named, unfinished) step skipped; the run goes on with the next one.
    pub async fn skip(&self, actor: &Actor, run_id: &str, step: Option<&str>, reason: &str) -> Result<String, EngineError> {
        checked_reason(reason)?;
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("skipping a step needs a reason".into()));
        }
        let (w, view) = self.checked(actor, run_id, RunAction::Skip).await?;
        let s = match step {
            Some(name) => view.steps.iter().find(|s| s.name == name),
            None => view.current(),
        }
        .ok_or_else(|| EngineError::Invalid("no such step to skip".into()))?;
        if matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped { .. }) {
            return Err(EngineError::Invalid(format!("step {} is already finished", s.name)));
        }
        self.control_event(w, actor, run_id, s.index, s.attempt, "skipped", reason, "run.skip", json!({ "step": s.name, "attempt": s.attempt })).await?;
        Ok(s.name.clone())
    }

    /// Undoes every attempt that did work, newest first. Asking again changes nothing.
    pub async fn unwind(&self, actor: &Actor, run_id: &str, reason: &str) -> Result<(), EngineError> {
        checked_reason(reason)?;
        may_operate(actor)?;
        let run = self.service().store.run(run_id).await?;
        let mut w = self.service().store.write().await?;
        let (view, state, allowed) = self.allowed_in(&mut w, &run).await?;
        if view.unwind_requested && !matches!(view.status, RunStatus::Stuck) {
            return Ok(());
        }
        if !allowed.contains(&RunAction::Unwind) {
            return Err(refuse(run_id, state, &view, RunAction::Unwind, &allowed));
        }
        w.request_unwind(run_id, &actor.name, reason).await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: crate::domain::RunId::parse(run_id).ok().map(|r| r.request().to_string()),
            action: "run.unwind".into(),
            reason: Some(reason.into()),
            before: Some(json!({ "run": run_id, "status": view.status })),
            after: Some(json!({ "run": run_id, "status": "unwinding" })),
        })
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Tries the undo the run is stuck on again (the operator fixed the device).
    pub async fn retry_undo(&self, actor: &Actor, run_id: &str, reason: &str) -> Result<String, EngineError> {
        checked_reason(reason)?;
        let (w, view) = self.checked(actor, run_id, RunAction::RetryUndo).await?;
        let item = view.stuck_on().expect("a stuck run is stuck on an undo");
        let step = view.steps[item.index].name.clone();
        let event = undo_event("undo_retry", item.try_no);
        let detail = json!({ "step": step, "attempt": item.attempt, "undo_try": item.try_no });
        self.control_event(w, actor, run_id, item.index, item.attempt, &event, reason, "run.retry_undo", detail).await?;
        Ok(step)
    }

    /// Marks the undo the run is stuck on resolved by hand: the operator undid it on the device.
    /// Needs a reason; the audit row keeps the attempt's saved parameters and output.
    pub async fn resolve(&self, actor: &Actor, run_id: &str, reason: &str) -> Result<String, EngineError> {
        checked_reason(reason)?;
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("resolving a failed undo by hand needs a reason".into()));
        }
        let (w, view) = self.checked(actor, run_id, RunAction::Resolve).await?;
        let item = view.stuck_on().expect("a stuck run is stuck on an undo");
        let step = view.steps[item.index].name.clone();
        let attempt = view.attempt(item.index, item.attempt).expect("the undo queue names started attempts");
        let error = match &item.state {
            UndoState::Failed { error, .. } => error.clone(),
            _ => String::new(),
        };
        let detail = json!({ "step": step, "attempt": item.attempt, "params": attempt.params, "output": attempt.output, "undo_error": error });
        self.control_event(w, actor, run_id, item.index, item.attempt, "undo_resolved", reason, "run.resolve", detail).await?;
        Ok(step)
    }

    #[allow(clippy::too_many_arguments)]
    async fn control_event(&self, mut w: Write, actor: &Actor, run_id: &str, index: usize, attempt: i64, event: &str, reason: &str, action: &str, detail: serde_json::Value) -> Result<(), EngineError> {
        w.append_run_event(run_id, &ev(index, attempt, event, &actor.name).reason(reason)).await?;
        // The cached status only tells workers to look; the log decides what they do.
        w.set_run_status(run_id, "pending").await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: crate::domain::RunId::parse(run_id).ok().map(|r| r.request().to_string()),
            action: action.into(),
            reason: Some(reason.into()),
            before: None,
            after: Some(json!({ "run": run_id, "detail": detail })),
        })
        .await?;
        w.commit().await?;
        Ok(())
    }
}
