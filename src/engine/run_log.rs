//! Status derived from the run log. The log is the truth; nothing else is kept in memory.
//!
//! ```text
//! step:  Pending ─started─▶ Running ─succeeded─▶ Succeeded ──┐
//!                              │  ├─waiting─▶ Waiting (gate)   │ unwind
//!                              │  └─failed──▶ Failed ─retry─▶ (next attempt: Pending)
//!                              │              └─skipped─▶ Skipped
//!                              └──────────── unwind ─▶ Undoing ─undone─▶ Undone
//!                                                         └─undo_failed─▶ UndoFailed
//!                                            UndoFailed ─undo_retry─▶ Undoing (next try)
//!                                            UndoFailed ─undo_resolved (by hand)─▶ Undone
//! run:   Pending → Running → (Waiting ⇄ Running) → Succeeded
//!                        └─▶ Failed ─retry/skip─▶ Running
//!                        └─▶ (unwind) Unwinding → Unwound ─restart─▶ Pending (next generation)
//!                                         └─▶ Stuck ─retry undo / resolve─▶ Unwinding
//! ```
//!
//! Every **attempt** of a step that started may have changed a device, so unwinding undoes
//! every such attempt, newest first (by when it started), each once: a retried step's failed
//! first attempt is undone with its own parameters after the later attempt. Undo tries of one
//! attempt are numbered in the event name (`undo_started`, then `undo_started#2` after the
//! operator's `undo_retry#2`), so the log stays keyed (run, step, attempt, event).
//! A `restart` (run level, attempt = generation) starts the run again after it was unwound;
//! forward status reads only the events after it.

use std::collections::BTreeMap;

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

    /// Whether the run has reached an end that the request's lifecycle must follow.
    pub fn is_outcome(self) -> bool {
        matches!(self, Self::Succeeded | Self::Unwound)
    }
}

/// Where the undo of one attempt stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "undo", rename_all = "snake_case")]
pub enum UndoState {
    /// Not undone yet.
    Todo,
    /// Try `try_no` started and has not finished (a crash re-runs it).
    Running { try_no: i64 },
    /// Try `try_no` failed; the run is stuck until an operator retries or resolves it.
    Failed { try_no: i64, error: String },
    /// The operator asked for try `try_no`.
    Retry { try_no: i64 },
    Done,
    /// Marked resolved by hand (the operator fixed the device), with the reason.
    Resolved { reason: String },
}

impl UndoState {
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::Done | Self::Resolved { .. })
    }

    /// The number of the undo try to run next (or to resume).
    pub fn next_try(&self) -> i64 {
        match self {
            Self::Todo => 1,
            Self::Running { try_no } | Self::Retry { try_no } => *try_no,
            Self::Failed { try_no, .. } => try_no + 1,
            Self::Done | Self::Resolved { .. } => 0,
        }
    }
}

/// One attempt of a step that started, and so may have changed something.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    pub attempt: i64,
    /// When it started (run-log sequence): unwinding goes newest first.
    pub started_seq: i64,
    pub params: Value,
    pub output: Option<Value>,
    #[serde(flatten)]
    pub undo: UndoState,
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
    /// Every attempt that started, oldest first, with its undo state.
    pub attempts: Vec<AttemptView>,
    /// What caused the current attempt's failure (or its undo's), when it failed.
    pub cause: Option<super::Cause>,
    /// The steps this one waits for (the playbook's `after`, or the step before it).
    pub after: Vec<String>,
    #[serde(skip)]
    deps: Vec<usize>,
}

impl StepView {
    fn is_finished(&self) -> bool {
        matches!(self.status, StepStatus::Succeeded | StepStatus::Skipped { .. })
    }

    /// Attempts whose work is not undone yet.
    pub fn attempts_to_undo(&self) -> impl Iterator<Item = &AttemptView> {
        self.attempts.iter().filter(|a| !a.undo.is_finished())
    }
}

/// The next undo the executor must do: step `index`, its attempt, and the try number.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoItem {
    pub index: usize,
    pub attempt: i64,
    pub try_no: i64,
    pub state: UndoState,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub status: RunStatus,
    pub unwind_requested: bool,
    /// 1, then one more for each restart after an unwind.
    pub generation: i64,
    pub steps: Vec<StepView>,
}

impl RunView {
    /// The step the run is at, if any: the first that failed, else the first waiting at a
    /// gate, else the first not finished (in a plain list, the one step under way).
    pub fn current(&self) -> Option<&StepView> {
        let first = |f: fn(&StepStatus) -> bool| self.steps.iter().find(|s| f(&s.status));
        first(|s| matches!(s, StepStatus::Failed { .. }))
            .or_else(|| first(|s| matches!(s, StepStatus::Waiting { .. })))
            .or_else(|| self.steps.iter().find(|s| !s.is_finished()))
    }

    /// Steps that may run now: not finished, not failed, not waiting at a gate, and every step
    /// they wait for finished. A step found started but not finished (a crash) is among them.
    pub fn ready(&self) -> Vec<usize> {
        self.steps
            .iter()
            .filter(|s| !s.is_finished() && !matches!(s.status, StepStatus::Failed { .. } | StepStatus::Waiting { .. }))
            .filter(|s| s.deps.iter().all(|&d| self.steps[d].is_finished()))
            .map(|s| s.index)
            .collect()
    }

    pub fn output_of(&self, step: &str) -> Option<&Value> {
        self.steps.iter().find(|s| s.name == step).and_then(|s| s.output.as_ref())
    }

    /// Every attempt still to undo, newest first.
    pub fn undo_queue(&self) -> Vec<UndoItem> {
        let mut items: Vec<(i64, UndoItem)> = self
            .steps
            .iter()
            .flat_map(|s| {
                s.attempts_to_undo().map(move |a| {
                    (a.started_seq, UndoItem { index: s.index, attempt: a.attempt, try_no: a.undo.next_try(), state: a.undo.clone() })
                })
            })
            .collect();
        items.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        items.into_iter().map(|(_, i)| i).collect()
    }

    /// The attempt the unwind is blocked on, if it is stuck.
    pub fn stuck_on(&self) -> Option<UndoItem> {
        self.undo_queue().into_iter().next().filter(|i| matches!(i.state, UndoState::Failed { .. }))
    }

    pub fn attempt(&self, index: usize, attempt: i64) -> Option<&AttemptView> {
        self.steps.get(index)?.attempts.iter().find(|a| a.attempt == attempt)
    }
}

/// The name of undo event `base` for try `try_no` (`undo_started`, `undo_started#2`, …).
pub fn undo_event(base: &str, try_no: i64) -> String {
    if try_no <= 1 { base.to_string() } else { format!("{base}#{try_no}") }
}

/// Splits `undo_started#2` into ("undo_started", 2).
fn split_try(event: &str) -> (&str, i64) {
    match event.split_once('#') {
        Some((base, n)) => (base, n.parse().unwrap_or(1)),
        None => (event, 1),
    }
}

/// The undo state of one attempt from its events (in log order).
fn undo_state(events: &[&RunEvent]) -> UndoState {
    let mut state = UndoState::Todo;
    for e in events {
        let (base, try_no) = split_try(&e.event);
        state = match base {
            "undo_started" => UndoState::Running { try_no },
            "undo_failed" => UndoState::Failed { try_no, error: e.error.clone().unwrap_or_default() },
            "undo_retry" => UndoState::Retry { try_no },
            "undone" => UndoState::Done,
            "undo_resolved" => UndoState::Resolved { reason: e.reason.clone().unwrap_or_default() },
            _ => continue,
        };
        if state.is_finished() {
            break;
        }
    }
    state
}

fn forward_status<'e>(find: impl Fn(&str) -> Option<&'e RunEvent>, undo: Option<&UndoState>) -> StepStatus {
    match undo {
        Some(UndoState::Failed { error, .. }) => return StepStatus::UndoFailed { error: error.clone() },
        Some(UndoState::Done | UndoState::Resolved { .. }) => return StepStatus::Undone,
        Some(UndoState::Running { .. } | UndoState::Retry { .. }) => return StepStatus::Undoing,
        Some(UndoState::Todo) | None => {}
    }
    if let Some(e) = find("skipped") {
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
    }
}

fn step_view<'e>(playbook: &Playbook, index: usize, mine: &[&'e RunEvent], restart_seq: i64) -> StepView {
    let (name, action) = (&playbook.steps[index].name, &playbook.steps[index].action);
    let mut by_attempt: BTreeMap<i64, Vec<&'e RunEvent>> = BTreeMap::new();
    for e in mine {
        by_attempt.entry(e.attempt).or_default().push(e);
    }
    let attempts: Vec<AttemptView> = by_attempt
        .iter()
        .filter_map(|(n, evs)| {
            let started = evs.iter().find(|e| e.event == "started")?;
            Some(AttemptView {
                attempt: *n,
                started_seq: started.seq,
                params: started.output.clone().unwrap_or(Value::Null),
                output: evs.iter().find(|e| e.event == "succeeded").and_then(|e| e.output.clone()),
                undo: undo_state(evs),
            })
        })
        .collect();
    // The current attempt: the newest one with events after the last restart, else the next.
    let current = mine.iter().filter(|e| e.seq > restart_seq).map(|e| e.attempt).max();
    let (attempt, cur): (i64, Vec<&'e RunEvent>) = match current {
        Some(a) => (a, by_attempt.get(&a).cloned().unwrap_or_default()),
        None => (by_attempt.keys().max().map_or(1, |m| m + 1), Vec::new()),
    };
    let find = |name: &str| -> Option<&'e RunEvent> { cur.iter().find(|e| e.event == name).copied() };
    let undo = attempts.iter().find(|a| a.attempt == attempt).map(|a| &a.undo);
    let cause = cur
        .iter()
        .rev()
        .filter(|e| e.event == "failed" || e.event.starts_with("undo_failed"))
        .find_map(|e| e.output.as_ref()?.get("cause")?.as_str().and_then(super::Cause::parse));
    StepView {
        index,
        name: name.to_string(),
        action: action.to_string(),
        attempt,
        status: forward_status(find, undo),
        params: find("started").and_then(|e| e.output.clone()),
        output: find("succeeded").and_then(|e| e.output.clone()),
        attempts,
        cause,
        after: playbook.after_names(index),
        deps: playbook.deps(index),
    }
}

/// Derives every step's status and the run's from the events.
pub fn derive(playbook: &Playbook, events: &[RunEvent]) -> RunView {
    let run_level = || events.iter().filter(|e| e.step_index == RUN_LEVEL);
    let restart = run_level().filter(|e| e.event == "restart").max_by_key(|e| e.attempt);
    let generation = restart.map_or(1, |e| e.attempt);
    let restart_seq = restart.map_or(0, |e| e.seq);
    let unwind_requested = run_level().any(|e| e.event == "unwind" && e.attempt == generation);
    let steps: Vec<StepView> = playbook
        .steps
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let mine: Vec<&RunEvent> = events.iter().filter(|e| e.step_index == i as i64).collect();
            step_view(playbook, i, &mine, restart_seq)
        })
        .collect();
    let mut view = RunView { status: RunStatus::Pending, unwind_requested, generation, steps };
    view.status = if unwind_requested {
        let queue = view.undo_queue();
        match queue.first() {
            Some(UndoItem { state: UndoState::Failed { .. }, .. }) => RunStatus::Stuck,
            Some(_) => RunStatus::Unwinding,
            None => RunStatus::Unwound,
        }
    } else {
        // A failure stops the run (siblings under way finish, no new step starts); a gate
        // rests it only once nothing else can run.
        match view.current().map(|s| &s.status) {
            None => RunStatus::Succeeded,
            Some(StepStatus::Failed { .. }) => RunStatus::Failed,
            Some(StepStatus::Waiting { .. }) if view.ready().is_empty() => RunStatus::Waiting,
            _ if events.iter().any(|e| e.step_index >= 0 && e.seq > restart_seq) => RunStatus::Running,
            _ => RunStatus::Pending,
        }
    };
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn playbook(steps: &[&str]) -> Playbook {
        let yaml = format!(
            "name: t\ndescription: t\nsteps:\n{}",
            steps.iter().map(|s| format!("  - name: {s}\n    action: gate\n    with: {{ gate: g }}\n")).collect::<String>()
        );
        serde_yaml_ng::from_str(&yaml).expect("playbook")
    }

    struct Log(Vec<RunEvent>);

    impl Log {
        fn push(&mut self, step: i64, attempt: i64, event: &str) -> &mut Self {
            let seq = self.0.len() as i64 + 1;
            let output = (event == "started").then(|| serde_json::json!({ "attempt": attempt }));
            self.0.push(RunEvent {
                step_index: step,
                attempt,
                event: event.into(),
                seq,
                at: OffsetDateTime::UNIX_EPOCH,
                actor: "t".into(),
                output,
                error: event.starts_with("undo_failed").then(|| "boom".into()),
                reason: None,
            });
            self
        }
    }

    #[test]
    fn unwinding_undoes_every_attempt_newest_first() {
        let pb = playbook(&["a", "b"]);
        let mut log = Log(Vec::new());
        log.push(0, 1, "started").push(0, 1, "succeeded");
        log.push(1, 1, "started").push(1, 1, "failed");
        log.push(1, 2, "started").push(1, 2, "succeeded");
        log.push(RUN_LEVEL, 1, "unwind");
        let v = derive(&pb, &log.0);
        assert_eq!(v.status, RunStatus::Unwinding);
        let q: Vec<(usize, i64)> = v.undo_queue().iter().map(|i| (i.index, i.attempt)).collect();
        assert_eq!(q, vec![(1, 2), (1, 1), (0, 1)]);
        log.push(1, 2, "undo_started").push(1, 2, "undone").push(1, 1, "undo_started").push(1, 1, "undone");
        assert_eq!(derive(&pb, &log.0).undo_queue().len(), 1);
        log.push(0, 1, "undo_started").push(0, 1, "undone");
        assert_eq!(derive(&pb, &log.0).status, RunStatus::Unwound);
    }

    #[test]
    fn a_failed_undo_is_stuck_until_retried_or_resolved() {
        let pb = playbook(&["a", "b"]);
        let mut log = Log(Vec::new());
        log.push(0, 1, "started").push(0, 1, "succeeded").push(1, 1, "started").push(1, 1, "succeeded");
        log.push(RUN_LEVEL, 1, "unwind").push(1, 1, "undo_started").push(1, 1, "undo_failed");
        let v = derive(&pb, &log.0);
        assert_eq!(v.status, RunStatus::Stuck);
        assert_eq!(v.stuck_on().map(|i| (i.index, i.attempt, i.try_no)), Some((1, 1, 2)));
        log.push(1, 1, &undo_event("undo_retry", 2));
        let v = derive(&pb, &log.0);
        assert_eq!(v.status, RunStatus::Unwinding);
        assert_eq!(v.undo_queue()[0].try_no, 2);
        log.push(1, 1, &undo_event("undo_started", 2)).push(1, 1, &undo_event("undo_failed", 2));
        assert_eq!(derive(&pb, &log.0).status, RunStatus::Stuck);
        log.push(1, 1, "undo_resolved");
        let v = derive(&pb, &log.0);
        assert_eq!(v.status, RunStatus::Unwinding);
        assert_eq!(v.steps[1].status, StepStatus::Undone);
        assert_eq!(v.undo_queue()[0].index, 0);
    }

    #[test]
    fn a_restart_after_an_unwind_starts_a_new_generation() {
        let pb = playbook(&["a"]);
        let mut log = Log(Vec::new());
        log.push(0, 1, "started").push(0, 1, "succeeded").push(RUN_LEVEL, 1, "unwind");
        log.push(0, 1, "undo_started").push(0, 1, "undone");
        assert_eq!(derive(&pb, &log.0).status, RunStatus::Unwound);
        log.push(RUN_LEVEL, 2, "restart");
        let v = derive(&pb, &log.0);
        assert_eq!((v.status, v.generation, v.steps[0].attempt), (RunStatus::Pending, 2, 2));
        assert_eq!(v.steps[0].status, StepStatus::Pending);
        log.push(0, 2, "started").push(0, 2, "succeeded");
        assert_eq!(derive(&pb, &log.0).status, RunStatus::Succeeded);
        log.push(RUN_LEVEL, 2, "unwind");
        let v = derive(&pb, &log.0);
        assert_eq!(v.undo_queue().iter().map(|i| i.attempt).collect::<Vec<_>>(), vec![2]);
    }

    /// a → {b, c} → d: b and c are ready together once a is done.
    fn diamond() -> Playbook {
        let yaml = "name: t\ndescription: t\nsteps:\n  - name: a\n    action: gate\n  - name: b\n    action: gate\n    after: [a]\n  - name: c\n    action: gate\n    after: [a]\n  - name: d\n    action: gate\n    after: [b, c]\n";
        serde_yaml_ng::from_str(yaml).expect("playbook")
    }

    #[test]
    fn independent_steps_are_ready_together_and_a_failure_stops_new_ones() {
        let pb = diamond();
        let mut log = Log(Vec::new());
        assert_eq!(derive(&pb, &log.0).ready(), vec![0]);
        log.push(0, 1, "started").push(0, 1, "succeeded");
        assert_eq!(derive(&pb, &log.0).ready(), vec![1, 2]);
        log.push(1, 1, "started").push(2, 1, "started").push(2, 1, "succeeded");
        let v = derive(&pb, &log.0);
        // b was found started and not finished (a crash): it is run again; d still waits for it.
        assert_eq!((v.status, v.ready()), (RunStatus::Running, vec![1]));
        assert_eq!(v.steps[3].after, vec!["b".to_string(), "c".into()]);
        log.push(1, 1, "failed");
        let v = derive(&pb, &log.0);
        assert_eq!((v.status, v.current().map(|s| s.index)), (RunStatus::Failed, Some(1)));
        // Unwinding undoes the siblings and then what they waited for, newest start first.
        log.push(RUN_LEVEL, 1, "unwind");
        let q: Vec<usize> = derive(&pb, &log.0).undo_queue().iter().map(|i| i.index).collect();
        assert_eq!(q, vec![2, 1, 0]);
    }

    #[test]
    fn a_gate_rests_the_run_only_once_nothing_else_can_run() {
        let pb = diamond();
        let mut log = Log(Vec::new());
        log.push(0, 1, "started").push(0, 1, "succeeded").push(1, 1, "started").push(1, 1, "waiting");
        let v = derive(&pb, &log.0);
        assert_eq!((v.status, v.ready()), (RunStatus::Running, vec![2]));
        log.push(2, 1, "started").push(2, 1, "succeeded");
        let v = derive(&pb, &log.0);
        assert_eq!((v.status, v.current().map(|s| s.index)), (RunStatus::Waiting, Some(1)));
    }

    #[test]
    fn an_attempt_that_never_started_has_nothing_to_undo() {
        let pb = playbook(&["a", "b"]);
        let mut log = Log(Vec::new());
        log.push(0, 1, "started").push(0, 1, "succeeded").push(1, 1, "failed").push(RUN_LEVEL, 1, "unwind");
        let v = derive(&pb, &log.0);
        assert_eq!(v.undo_queue().iter().map(|i| i.index).collect::<Vec<_>>(), vec![0]);
    }
}
