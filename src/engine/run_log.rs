//! Status derived from the run log. The log is the truth; nothing else is kept in memory.
//!
//! ```text
//! step:  Pending ─started─▶ Running ─succeeded─▶ Succeeded ──┐
//!                              │  ├─waiting─▶ Waiting (gate)   │ unwind
//!                              │  └─failed──▶ Failed ─retry─▶ (next attempt: Pending)
//!                              │              └─skipped─▶ Skipped
//!                              └──────────── unwind ─▶ Undoing ─undone─▶ Undone
//!                                                         └─undo_failed─▶ UndoFailed
//! run:   Pending → Running → (Waiting ⇄ Running) → Succeeded
//!                        └─▶ Failed ─retry/skip─▶ Running
//!                        └─▶ (unwind) Unwinding → Unwound | Stuck
//! ```

use serde::Serialize;
use serde_json::Value;

use super::playbook::Playbook;
use crate::store::RunEvent;

pub const RUN_LEVEL: i64 = -1;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Waiting { reason: String },
    Succeeded,
    Failed { error: String },
    Skipped { reason: String },
    Undoing,
    Undone,
    UndoFailed { error: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Pending,
    Running,
    Waiting,
    Failed,
    Succeeded,
    Unwinding,
    Unwound,
    Stuck,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Failed => "failed",
            Self::Succeeded => "succeeded",
            Self::Unwinding => "unwinding",
            Self::Unwound => "unwound",
            Self::Stuck => "stuck",
        }
    }

    /// Whether a worker should pick the run up.
    pub fn is_runnable(self) -> bool {
        matches!(self, Self::Pending | Self::Running | Self::Unwinding)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub index: usize,
    pub name: String,
    pub action: String,
    pub attempt: i64,
    #[serde(flatten)]
    pub status: StepStatus,
    /// Parameters as resolved when the step started.
    pub params: Option<Value>,
    pub output: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub status: RunStatus,
    pub unwind_requested: bool,
    pub steps: Vec<StepView>,
}

impl RunView {
    /// The step the run is at (first not finished), if any.
    pub fn current(&self) -> Option<&StepView> {
        self.steps.iter().find(|s| !matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped { .. }))
    }

    pub fn output_of(&self, step: &str) -> Option<&Value> {
        self.steps.iter().find(|s| s.name == step).and_then(|s| s.output.as_ref())
    }
}

/// Derives every step's status and the run's from the events.
pub fn derive(playbook: &Playbook, events: &[RunEvent]) -> RunView {
    let unwind_requested = events.iter().any(|e| e.step_index == RUN_LEVEL && e.event == "unwind");
    let steps: Vec<StepView> = playbook
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let mine: Vec<&RunEvent> = events.iter().filter(|e| e.step_index == i as i64).collect();
            let attempt = mine.iter().map(|e| e.attempt).max().unwrap_or(1);
            let cur: Vec<&&RunEvent> = mine.iter().filter(|e| e.attempt == attempt).collect();
            let find = |name: &str| cur.iter().find(|e| e.event == name).copied();
            let status = if let Some(e) = find("undo_failed") {
                StepStatus::UndoFailed { error: e.error.clone().unwrap_or_default() }
            } else if find("undone").is_some() {
                StepStatus::Undone
            } else if find("undo_started").is_some() {
                StepStatus::Undoing
            } else if let Some(e) = find("skipped") {
                StepStatus::Skipped { reason: e.reason.clone().unwrap_or_default() }
            } else if find("succeeded").is_some() {
                StepStatus::Succeeded
            } else if let Some(e) = find("failed") {
                StepStatus::Failed { error: e.error.clone().unwrap_or_default() }
            } else if let Some(e) = find("waiting") {
                StepStatus::Waiting { reason: e.reason.clone().unwrap_or_default() }
            } else if find("started").is_some() {
                StepStatus::Running
            } else {
                StepStatus::Pending
            };
            StepView {
                index: i,
                name: step.name.clone(),
                action: step.action.clone(),
                attempt,
                status,
                params: find("started").and_then(|e| e.output.clone()),
                output: find("succeeded").and_then(|e| e.output.clone()),
            }
        })
        .collect();

    let status = if unwind_requested {
        if steps.iter().any(|s| matches!(s.status, StepStatus::UndoFailed { .. })) {
            RunStatus::Stuck
        } else if steps.iter().any(needs_undo) {
            RunStatus::Unwinding
        } else {
            RunStatus::Unwound
        }
    } else {
        match steps.iter().find(|s| !matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped { .. })) {
            None => RunStatus::Succeeded,
            Some(s) => match s.status {
                StepStatus::Failed { .. } => RunStatus::Failed,
                StepStatus::Waiting { .. } => RunStatus::Waiting,
                _ if events.iter().any(|e| e.step_index >= 0) => RunStatus::Running,
                _ => RunStatus::Pending,
            },
        }
    };
    RunView { status, unwind_requested, steps }
}

/// A step has done (or may have done) work that unwinding must undo.
pub fn needs_undo(s: &StepView) -> bool {
    s.params.is_some()
        && matches!(
            s.status,
            StepStatus::Running | StepStatus::Waiting { .. } | StepStatus::Succeeded | StepStatus::Failed { .. } | StepStatus::Skipped { .. } | StepStatus::Undoing
        )
}
