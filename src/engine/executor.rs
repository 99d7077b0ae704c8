//! Drives one run to its next resting point (succeeded, waiting at a gate, failed, unwound,
//! stuck), writing the run log before and after every side effect so that a crash anywhere
//! resumes to the same end state.

use std::time::Instant;

use serde_json::{Value, json};

use super::action::{ActionCtx, Outcome};
use super::playbook::{Playbook, resolve};
use super::run_log::{RunStatus, RunView, StepStatus, UndoItem, derive, undo_event};
use super::{Engine, EngineError};
use crate::lifecycle::{Actor, EventKind, next_state};
use crate::service::Command;
use crate::store::{NewRunEvent, RequestRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressPhase {
    Started,
    Retrying,
    Succeeded,
    Waiting,
    Failed,
    Undoing,
    Undone,
    UndoFailed,
}

/// What the executor reports as it goes (progress bars, `--json` event streams, metrics).
#[derive(Debug, Clone)]
pub struct Progress {
    pub run_id: String,
    pub step: String,
    pub index: usize,
    pub total: usize,
    pub phase: ProgressPhase,
    pub detail: String,
    pub elapsed_ms: u128,
}

pub type Observer<'a> = &'a (dyn Fn(&Progress) + Send + Sync);

/// Test hook for the shutdown tests: `KOLOKASI_TEST_SLOW_STEP=step:millis` makes that step take
/// so much longer, as a slow device would. Only in builds with the `test-hooks` feature.
#[cfg(feature = "test-hooks")]
async fn slow_hook(step: &str) {
    if let Ok(v) = std::env::var("KOLOKASI_TEST_SLOW_STEP")
        && let Some((name, ms)) = v.split_once(':')
            && name == step {
                tokio::time::sleep(std::time::Duration::from_millis(ms.parse().unwrap_or(0))).await;
            }
}

#[cfg(not(feature = "test-hooks"))]
async fn slow_hook(_step: &str) {}

/// Test hook for the crash tests: `KOLOKASI_TEST_CRASH_AT=step:phase` aborts the process at
/// that point, as a SIGKILL would. Only in builds with the `test-hooks` feature.
#[cfg(not(feature = "test-hooks"))]
fn crash_hook(_step: &str, _phase: &str) {}

#[cfg(feature = "test-hooks")]
fn crash_hook(step: &str, phase: &str) {
    if let Ok(at) = std::env::var("KOLOKASI_TEST_CRASH_AT")
        && at == format!("{step}:{phase}") {
            eprintln!("kolokasi: test crash at {at}");
            std::process::abort();
        }
}

impl Engine {
    pub(crate) fn definition(&self, json: &str) -> Result<Playbook, EngineError> {
        serde_json::from_str(json).map_err(|e| EngineError::Corrupt(e.to_string()))
    }

    /// The run's current view, from its log.
    pub async fn view(&self, run_id: &str) -> Result<(Playbook, RunView), EngineError> {
        let run = self.service().store.run(run_id).await?;
        let pb = self.definition(&run.definition_json)?;
        let events = self.service().store.run_events(run_id).await?;
        Ok((pb.clone(), derive(&pb, &events)))
    }

    /// Drives the run until it rests; holds the run's lease while doing so.
    pub async fn drive(&self, run_id: &str, observer: Observer<'_>) -> Result<RunView, EngineError> {
        let store = &self.service().store;
        if !store.take_lease(run_id, &self.owner, self.lease).await? {
            return Err(EngineError::Leased(run_id.to_string()));
        }
        let result = self.drive_leased(run_id, observer).await;
        store.release_lease(run_id, &self.owner).await?;
        result
    }

    pub(crate) async fn drive_leased(&self, run_id: &str, observer: Observer<'_>) -> Result<RunView, EngineError> {
        self.drive_until(run_id, observer, None).await
    }

    /// Drives the run; with `stop`, rests at the next step boundary once it is set.
    pub(crate) async fn drive_until(
        &self,
        run_id: &str,
        observer: Observer<'_>,
        stop: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<RunView, EngineError> {
        let store = &self.service().store;
        // The sessions the steps will need open meanwhile, all at once (best effort).
        self.open_sessions_early(run_id);
        // A run driven while it waits at a gate checks the gate once (the person may have
        // recorded what it waits for); if it still waits, the run rests again.
        let mut gate_checked = false;
        loop {
            let (pb, view) = self.view(run_id).await?;
            // An outcome is followed by the request's lifecycle before the run's status says so:
            // a crash in between leaves the run runnable, and the next worker applies it again.
            if view.status.is_outcome() {
                if view.status == RunStatus::Succeeded {
                    // The devices as the run left them, kept before the request moves on.
                    crate::drift::readback::keep(self, run_id, &pb).await?;
                }
                let run = store.run(run_id).await?;
                self.apply_outcome(&run.request_id, &pb, run_id, view.status).await?;
            }
            if self.cache_status(run_id, &pb).await? != view.status {
                continue; // an operator's control landed meanwhile: look again
            }
            if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
                return Ok(view);
            }
            match view.status {
                RunStatus::Waiting if !gate_checked => {
                    gate_checked = true;
                    let index = view.current().expect("a waiting run has a current step").index;
                    if self.run_step(run_id, &pb, &view, index, observer).await? {
                        let (_, view) = self.view(run_id).await?;
                        self.cache_status(run_id, &pb).await?;
                        return Ok(view);
                    }
                }
                RunStatus::Succeeded | RunStatus::Unwound | RunStatus::Failed | RunStatus::Waiting | RunStatus::Stuck => return Ok(view),
                RunStatus::Unwinding => {
                    let item = view.undo_queue().into_iter().next().expect("an unwinding run has an attempt to undo");
                    if !store.renew_lease(run_id, &self.owner, self.lease).await? {
                        return Err(EngineError::Leased(run_id.to_string()));
                    }
                    self.renewing_lease(run_id, self.undo_step(run_id, &pb, &view, &item, observer)).await?;
                }
                RunStatus::Pending | RunStatus::Running => {
                    if !store.renew_lease(run_id, &self.owner, self.lease).await? {
                        return Err(EngineError::Leased(run_id.to_string()));
                    }
                    let waiting = self.renewing_lease(run_id, self.run_ready(run_id, observer, stop)).await?;
                    gate_checked |= waiting;
                    if waiting && self.view(run_id).await?.1.status == RunStatus::Waiting {
                        let (_, view) = self.view(run_id).await?;
                        self.cache_status(run_id, &pb).await?;
                        return Ok(view);
                    }
                }
            }
        }
    }

    /// Writes the run's status, derived from its log, into the `runs` row that workers claim
    /// from — under the audit lock, like every control, so that a control that lands between
    /// deriving and writing (an unwind just after the last step) is never overwritten by a
    /// stale "succeeded" that no worker would pick up again. Returns the status written.
    async fn cache_status(&self, run_id: &str, pb: &Playbook) -> Result<RunStatus, EngineError> {
        // A runnable status written from a stale view only makes a worker look again; only a
        // resting one could lose the run, so only that one takes the lock (off the hot path).
        let (_, view) = self.view(run_id).await?;
        if view.status.is_runnable() {
            self.service().store.set_run_status(run_id, view.status.as_str()).await?;
            return Ok(view.status);
        }
        let mut w = self.service().store.write().await?;
        let status = derive(pb, &w.run_events(run_id).await?).status;
        w.set_run_status(run_id, status.as_str()).await?;
        w.commit().await?;
        Ok(status)
    }

    /// Runs `work` (one step) while renewing the run's lease every third of its length, so a
    /// step that takes longer than the lease is not taken over by another worker meanwhile.
    ///
    /// The renewal is polled alongside the work, never instead of it: a renewal awaiting a
    /// database connection while `work` sat unpolled would deadlock the pool, whose fair queue
    /// may have handed the connection to a query inside `work` (see `poll_while`).
    async fn renewing_lease<T>(&self, run_id: &str, work: impl std::future::Future<Output = T>) -> T {
        let every = std::time::Duration::try_from(self.lease / 3).unwrap_or(std::time::Duration::from_secs(1)).max(std::time::Duration::from_millis(100));
        let renew = async {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match self.service().store.renew_lease(run_id, &self.owner, self.lease).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(run = %run_id, "the run's lease was lost while a step ran"),
                    Err(e) => tracing::warn!(run = %run_id, error = %e, "cannot renew the run's lease"),
                }
            }
        };
        tokio::pin!(work, renew);
        tokio::select! {
            biased;
            out = &mut work => out,
            _ = &mut renew => unreachable!("the renewal loop never ends"),
        }
    }

    /// The values references may name.
    pub(crate) fn scope(&self, request: &RequestRow, view: &RunView) -> Value {
        let form = &request.form;
        let steps: serde_json::Map<String, Value> =
            view.steps.iter().filter_map(|s| s.output.as_ref().map(|o| (s.name.clone(), o.clone()))).collect();
        // The devices serving the placement come from the inventory: the rack's access switch
        // and the site's firewall.
        let placement = request.capacity.as_ref().and_then(|c| c.placements.first()).map(|p| {
            let site = self.service().inventory.site(&p.noc);
            let switch = site.and_then(|s| s.racks.iter().find(|r| r.name == p.rack)).and_then(|r| r.switch.clone());
            let firewall = site.and_then(|s| s.firewall.clone());
            json!({ "noc": p.noc, "rack": p.rack, "from_u": p.from_u, "to_u": p.to_u, "location": p.location(), "switch": switch, "firewall": firewall })
        });
        json!({
            "request": {
                "id": request.id,
                "kind": form.kind,
                "domain": form.domain,
                "unit": form.unit.name,
                "official": form.official.name,
                "contact": form.contact,
                "email": form.email,
                "server": form.servers.first(),
                "servers": form.servers,
            },
            "steps": steps,
            "hardware": request.hardware,
            "placement": placement,
        })
    }

    /// The step's action and the request as it is now (a step reads nothing else).
    async fn step_inputs(&self, run_id: &str, action: &str) -> Result<(std::sync::Arc<dyn super::Action>, RequestRow), EngineError> {
        let store = &self.service().store;
        let action = self.env.registry.get(action).ok_or_else(|| EngineError::Invalid(format!("unknown action {action}")))?.clone();
        let run = store.run(run_id).await?;
        let request_id = crate::domain::RequestId::parse(&run.request_id).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        Ok((action, store.request(&request_id).await?))
    }

    /// Runs every step that is ready, starting each newly ready one as soon as the steps it
    /// waits for have finished, until none can start: a failure (or an unwind) starts nothing
    /// new but lets the steps under way finish. Each step writes its own events, so the log
    /// keeps every attempt exactly. Once `stop` is set (a worker shutting down) nothing new
    /// starts either: the steps in hand finish and the run rests at that boundary. Returns true
    /// if a step rests at a gate.
    async fn run_ready(&self, run_id: &str, observer: Observer<'_>, stop: Option<&std::sync::atomic::AtomicBool>) -> Result<bool, EngineError> {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let mut in_flight = FuturesUnordered::new();
        let mut launched = std::collections::BTreeSet::new();
        let mut finished = Vec::new();
        let (mut waiting, mut first_error) = (false, None);
        loop {
            let stopping = stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
            if first_error.is_none() && !stopping {
                let (pb, view) = poll_while(self.view(run_id), &mut in_flight, &mut finished).await?;
                let stopped = view.unwind_requested || view.steps.iter().any(|s| matches!(s.status, StepStatus::Failed { .. }));
                let fresh: Vec<usize> = if stopped { Vec::new() } else { view.ready().into_iter().filter(|i| !launched.contains(i)).collect() };
                let shared = std::sync::Arc::new((pb, view));
                for index in fresh {
                    launched.insert(index);
                    let shared = shared.clone();
                    in_flight.push(async move {
                        let _slot = self.step_slots.clone().acquire_owned().await.expect("the step semaphore is never closed");
                        self.run_step(run_id, &shared.0, &shared.1, index, observer).await
                    });
                }
            }
            let next = match finished.pop() {
                Some(done) => Some(done),
                None => in_flight.next().await,
            };
            match next {
                None => break,
                Some(Ok(w)) => waiting |= w,
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if launched.is_empty() && !stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
            return Err(EngineError::Corrupt(format!("run {run_id} is running but no step can start")));
        }
        Ok(waiting)
    }

    /// Runs step `index` once (with in-step retries). Returns true if it waits at a gate.
    async fn run_step(&self, run_id: &str, pb: &Playbook, view: &RunView, index: usize, observer: Observer<'_>) -> Result<bool, EngineError> {
        let store = &self.service().store;
        let step = &pb.steps[index];
        let sv = &view.steps[index];
        let (action, request) = self.step_inputs(run_id, &step.action).await?;
        let started = Instant::now();
        let report = reporter(observer, run_id, pb, index, started);
        let attempt = sv.attempt;
        let actor = self.owner.as_str();

        // Parameters: those saved when the step first started (a resumed step sees the same).
        let params = match &sv.params {
            Some(p) => p.clone(),
            None => match resolve(&Value::Object(step.with.clone()), &self.scope(&request, view)) {
                Ok(p) => p,
                Err(e) => {
                    let error = format!("cannot resolve parameters: {e}");
                    store.append_run_event(run_id, &ev(index, attempt, "failed", actor).error(&error)).await?;
                    report(super::ProgressPhase::Failed, error);
                    return Ok(false);
                }
            },
        };
        store.append_run_event(run_id, &ev(index, attempt, "started", actor).output(&params)).await?;
        report(ProgressPhase::Started, action.describe().into());
        crash_hook(&step.name, "before");

        let ctx = ActionCtx { run_id, step: &step.name, request: &request, params: &params, env: &self.env };
        let devices = action.devices(&params);
        let guards = self.env.locks.acquire(&self.service().store, &devices).await?;
        slow_hook(&step.name).await;
        let mut tries = 0;
        let outcome = loop {
            tries += 1;
            match action.run(&ctx).await {
                Err(e) if e.is_retryable() && tries < self.retry.attempts => {
                    report(ProgressPhase::Retrying, format!("try {tries} failed: {e}"));
                    tokio::time::sleep(self.retry.delay(tries)).await;
                }
                other => break other,
            }
        };
        // The devices are done with: the next run may use them while this one records the
        // outcome (a crash before the record re-runs this idempotent step on resume).
        guards.release().await;
        crash_hook(&step.name, "after");
        let result = match &outcome {
            Ok(Outcome::Done(_)) => crate::metrics::StepResult::Succeeded,
            Ok(Outcome::Wait(_)) => crate::metrics::StepResult::Waiting,
            Err(_) => crate::metrics::StepResult::Failed,
        };
        let driver = crate::metrics::driver_of(&self.env.drivers, &devices);
        crate::metrics::steps().record(action.name(), &driver, started.elapsed(), result);
        tracing::info!(run = %run_id, step = %step.name, action = action.name(), driver = %driver, tries, elapsed_ms = started.elapsed().as_millis() as u64, result = ?result, "step attempt ended");
        match outcome {
            Ok(Outcome::Done(output)) => {
                store.append_run_event(run_id, &ev(index, attempt, "succeeded", actor).output(&output)).await?;
                report(ProgressPhase::Succeeded, summarize(&output));
                Ok(false)
            }
            Ok(Outcome::Wait(reason)) => {
                store.append_run_event(run_id, &ev(index, attempt, "waiting", actor).reason(&reason)).await?;
                report(ProgressPhase::Waiting, reason);
                Ok(true)
            }
            Err(e) => {
                let error = if e.is_retryable() { format!("{} (gave up after {tries} tries)", e.chain()) } else { e.chain() };
                let cause = json!({ "cause": e.cause() });
                store.append_run_event(run_id, &ev(index, attempt, "failed", actor).error(&error).output(&cause)).await?;
                report(ProgressPhase::Failed, error);
                Ok(false)
            }
        }
    }

    /// Undoes one attempt of a step (try `item.try_no`) with that attempt's own parameters and
    /// output, holding the step's devices as its forward action did.
    async fn undo_step(&self, run_id: &str, pb: &Playbook, view: &RunView, item: &UndoItem, observer: Observer<'_>) -> Result<(), EngineError> {
        let store = &self.service().store;
        let step = &pb.steps[item.index];
        let attempt = view.attempt(item.index, item.attempt).expect("the undo queue names started attempts");
        let (action, request) = self.step_inputs(run_id, &step.action).await?;
        let report = reporter(observer, run_id, pb, item.index, Instant::now());
        let actor = self.owner.as_str();
        let (started, undone, failed) = (undo_event("undo_started", item.try_no), "undone", undo_event("undo_failed", item.try_no));
        store.append_run_event(run_id, &ev(item.index, item.attempt, &started, actor)).await?;
        report(ProgressPhase::Undoing, format!("undo {} (attempt {})", action.describe(), item.attempt));
        crash_hook(&step.name, "undo");
        let ctx = ActionCtx { run_id, step: &step.name, request: &request, params: &attempt.params, env: &self.env };
        let guards = self.env.locks.acquire(store, &action.devices(&attempt.params)).await?;
        let mut tries = 0;
        let result = loop {
            tries += 1;
            match action.undo(&ctx, attempt.output.as_ref()).await {
                Err(e) if e.is_retryable() && tries < self.retry.attempts => tokio::time::sleep(self.retry.delay(tries)).await,
                other => break other,
            }
        };
        guards.release().await;
        match result {
            Ok(()) => {
                store.append_run_event(run_id, &ev(item.index, item.attempt, undone, actor)).await?;
                report(ProgressPhase::Undone, String::new());
            }
            Err(e) => {
                // An undo that fails leaves the run stuck, visibly, for an operator.
                let cause = json!({ "cause": e.cause() });
                store.append_run_event(run_id, &ev(item.index, item.attempt, &failed, actor).error(&e.chain()).output(&cause)).await?;
                report(ProgressPhase::UndoFailed, e.chain());
            }
        }
        Ok(())
    }

    /// Moves the request as the run's outcome says: the playbook's `on_success` events after
    /// success; after an unwind, the end of a withdrawal or the way back to *approved*. Events
    /// already applied are skipped, so this is safe to repeat.
    async fn apply_outcome(&self, request_id: &str, pb: &Playbook, run_id: &str, status: RunStatus) -> Result<(), EngineError> {
        let id = crate::domain::RequestId::parse(request_id).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        // Checked again inside each lifecycle transaction: an operator's control that came in
        // meanwhile (an unwind of a run that just succeeded) wins, and the outcome is not applied.
        let still = |events: &[crate::store::RunEvent]| derive(pb, events).status == status;
        if status == RunStatus::Unwound {
            self.service().run_unwound(&id, &pb.name, run_id, &still).await?;
            return Ok(());
        }
        for event in &pb.on_success {
            let row = self.service().store.request(&id).await?;
            let role = event.allowed_roles()[0];
            if next_state(row.state, *event, row.form.kind, role).is_err() {
                continue;
            }
            let reason = Some(format!("run {run_id} succeeded"));
            let command = match event {
                EventKind::HandOver => Command::HandOver { reason },
                EventKind::ReportLive => Command::ReportLive { reason },
                EventKind::Decommissioned => Command::Decommissioned { reason },
                other => return Err(EngineError::Invalid(format!("on_success cannot apply {other}"))),
            };
            let actor = Actor::system_as(role);
            if self.service().apply_run_outcome(&actor, &id, command, run_id, &still).await?.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Reports one step's progress to the observer, timed from `started`.
/// Awaits `fut` while still polling the steps in flight, keeping those that finish meanwhile.
/// Awaiting a query with those steps unpolled could deadlock the database pool: its fair queue
/// hands a released connection to the longest waiter, and when that waiter is a step's query
/// inside `in_flight`, nothing polls it while `fut` waits for that very connection.
async fn poll_while<F, S>(fut: F, in_flight: &mut S, finished: &mut Vec<S::Item>) -> F::Output
where
    F: std::future::Future,
    S: futures_util::Stream + Unpin,
{
    use futures_util::StreamExt;
    tokio::pin!(fut);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return out,
            Some(done) = in_flight.next() => finished.push(done),
        }
    }
}

fn reporter<'a>(observer: Observer<'a>, run_id: &'a str, pb: &'a Playbook, index: usize, started: Instant) -> impl Fn(ProgressPhase, String) + 'a {
    move |phase, detail| {
        observer(&Progress {
            run_id: run_id.into(),
            step: pb.steps[index].name.clone(),
            index,
            total: pb.steps.len(),
            phase,
            detail,
            elapsed_ms: started.elapsed().as_millis(),
        })
    }
}

/// A short, secret-free summary of a step output for progress lines.
fn summarize(output: &Value) -> String {
    match output {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| v.is_string() || v.is_number())
            .take(3)
            .map(|(k, v)| format!("{k}={}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

pub(crate) fn ev<'a>(step_index: usize, attempt: i64, event: &'a str, actor: &'a str) -> NewRunEvent<'a> {
    NewRunEvent { step_index: step_index as i64, attempt, event, actor, output: None, error: None, reason: None }
}

impl<'a> NewRunEvent<'a> {
    pub fn output(mut self, v: &'a Value) -> Self {
        self.output = Some(v);
        self
    }
    pub fn error(mut self, e: &'a str) -> Self {
        self.error = Some(e);
        self
    }
    pub fn reason(mut self, r: &'a str) -> Self {
        self.reason = Some(r);
        self
    }
}

/// True if the step's latest attempt may be retried by an operator.
pub fn retryable_status(s: &StepStatus) -> bool {
    matches!(s, StepStatus::Failed { .. } | StepStatus::Succeeded | StepStatus::Skipped { .. } | StepStatus::Waiting { .. })
}

impl Engine {
    /// What each step would do, without changing anything. References to outputs of steps
    /// that have not run yet are shown as written.
    pub async fn plan(&self, request_id: &crate::domain::RequestId, run_id: &str) -> Result<Vec<(String, String)>, EngineError> {
        let request = self.service().store.request(request_id).await?;
        let (pb, view) = self.planned(run_id).await?;
        let scope = self.scope(&request, &view);
        let mut out = Vec::new();
        for (step, sv) in pb.steps.iter().zip(&view.steps) {
            let params = resolve_partial(&Value::Object(step.with.clone()), &scope);
            let action = self.env.registry.get(&step.action).ok_or_else(|| EngineError::Invalid(format!("unknown action {}", step.action)))?;
            let ctx = ActionCtx { run_id, step: &step.name, request: &request, params: &params, env: &self.env };
            let done = match &sv.status {
                StepStatus::Succeeded => " [done]",
                StepStatus::Skipped { .. } => " [skipped]",
                _ => "",
            };
            out.push((step.name.clone(), format!("{}{done}", action.plan(&ctx))));
        }
        Ok(out)
    }
}

impl Engine {
    /// The run's playbook and view, or — before the run exists — its playbook's, fresh.
    pub async fn planned(&self, run_id: &str) -> Result<(Playbook, RunView), EngineError> {
        match self.service().store.run(run_id).await {
            Ok(run) => {
                let pb = self.definition(&run.definition_json)?;
                let events = self.service().store.run_events(run_id).await?;
                let view = derive(&pb, &events);
                Ok((pb, view))
            }
            Err(crate::store::StoreError::NotFound(_)) => {
                let name = run_id.rsplit('/').next().unwrap_or_default();
                let pb = self.playbooks.get(name).cloned().ok_or_else(|| EngineError::Invalid(format!("no playbook {name}")))?;
                let view = derive(&pb, &[]);
                Ok((pb, view))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Resolves what can be resolved; leaves `${…}` that has no value yet as written.
pub(crate) fn resolve_partial(value: &Value, scope: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve_partial(v, scope))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve_partial(v, scope)).collect()),
        other => resolve(other, scope).unwrap_or_else(|_| other.clone()),
    }
}
