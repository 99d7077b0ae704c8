//! Every attempt of a step is undone, not only the latest: a step retried by the operator with
//! other parameters leaves work of its earlier attempts on the "device", and both the unwind and
//! the decommissioning remove all of it, newest first, each once. On SQLite and PostgreSQL.
//!
//! The device here is a folder: the test action `touch` creates the file its parameters name
//! (and fails after doing so while told to), and its undo removes that file.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use kolokasi::domain::{HardwareReceipt, RequestId, Revocation};
use kolokasi::engine::action::required;
use kolokasi::engine::{Action, ActionCtx, BoxFuture, Cause, Engine, Outcome, Param, ParamKind, RunStatus, StepError};
use kolokasi::lifecycle::State;
use kolokasi::service::Command;
use serde_json::{Value, json};

on_both_databases!(unwinding_undoes_every_attempt_newest_first, decommissioning_undoes_every_attempt_of_each_step);

/// Counts its runs; its output `n` names the attempt for the next step's parameters.
struct Counter(Arc<AtomicU32>);

impl Action for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }
    fn describe(&self) -> &'static str {
        "count"
    }
    fn params(&self) -> &'static [Param] {
        &[]
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["n"]
    }
    fn plan(&self, _: &ActionCtx<'_>) -> String {
        "count".into()
    }
    fn run<'a>(&'a self, _: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move { Ok(Outcome::Done(json!({ "n": self.0.fetch_add(1, Ordering::SeqCst) + 1 }))) })
    }
    fn undo<'a>(&'a self, _: &'a ActionCtx<'a>, _: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Creates the file `path`; fails after that while `fail` is above zero (counting down).
struct Touch {
    fail: Arc<AtomicU32>,
}

impl Action for Touch {
    fn name(&self) -> &'static str {
        "touch"
    }
    fn describe(&self) -> &'static str {
        "create a file"
    }
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[required("path", ParamKind::Text)];
        P
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["path"]
    }
    fn plan(&self, _: &ActionCtx<'_>) -> String {
        "touch".into()
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let path = ctx.param_str("path")?;
            std::fs::write(path, b"x").unwrap();
            if self.fail.load(Ordering::SeqCst) > 0 {
                self.fail.fetch_sub(1, Ordering::SeqCst);
                return Err(StepError::new(Cause::Refused, format!("injected failure after writing {path}")));
            }
            Ok(Outcome::Done(json!({ "path": path })))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a ActionCtx<'a>, _: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let _ = std::fs::remove_file(ctx.param_str("path")?);
            Ok(())
        })
    }
}

struct Harness {
    engine: Engine,
    fail: Arc<AtomicU32>,
    dir: tempfile::TempDir,
    _playbooks: tempfile::TempDir,
    _db: TestDb,
}

async fn harness(db: Db) -> Harness {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(AtomicU32::new(0));
    let mut registry = kolokasi::actions::builtin();
    registry.register(Counter(Arc::default())).register(Touch { fail: fail.clone() });
    let playbooks = tempfile::tempdir().unwrap();
    let colocation = format!(
        "name: colocation\nkind: colocation\ndescription: t\non_success: [hand_over, report_live]\nsteps:\n  - name: a\n    action: counter\n  - name: b\n    action: touch\n    with:\n      path: \"{}/file-${{steps.a.n}}\"\n",
        dir.path().display()
    );
    let decommission = "name: decommission\ndescription: t\non_success: [decommissioned]\nsteps:\n  - name: remove-b\n    action: undo_provisioning\n    with: { step: b }\n  - name: remove-a\n    action: undo_provisioning\n    with: { step: a }\n";
    let hosting = "name: hosting\nkind: hosting\ndescription: t\nsteps:\n  - name: a\n    action: counter\n";
    for (file, text) in [("colocation.yaml", colocation.as_str()), ("decommission.yaml", decommission), ("hosting.yaml", hosting)] {
        std::fs::write(playbooks.path().join(file), text).unwrap();
    }
    let pbs = Engine::load_playbooks(Some(playbooks.path()), &registry).unwrap();
    let engine = Engine::new(svc, Default::default(), registry, pbs).unwrap();
    Harness { engine, fail, dir, _playbooks: playbooks, _db: db }
}

impl Harness {
    fn files(&self) -> Vec<String> {
        let mut f: Vec<String> = std::fs::read_dir(self.dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        f.sort();
        f
    }

    /// A request in provisioning with its run failed twice at `b`, each time after writing the
    /// file of a different attempt of `a` (the operator re-ran `a` in between).
    async fn twice_failed(&self) -> (RequestId, String) {
        let svc = self.engine.service();
        let id = approved_request(svc, sample_form()).await;
        svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
        let receipt = HardwareReceipt { serial_number: text("SN-A"), type_brand: text("Dell R650"), switch_port: None, host_key: None };
        svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
        let run = Engine::run_id(id.as_str(), "colocation");
        self.fail.store(2, Ordering::SeqCst);
        assert_eq!(self.engine.drive(&run, &|_| {}).await.unwrap().status, RunStatus::Failed);
        self.engine.retry(&operator(), &run, Some("a"), "hitung ulang").await.unwrap();
        assert_eq!(self.engine.drive(&run, &|_| {}).await.unwrap().status, RunStatus::Failed, "b's failed attempt still stands");
        self.engine.retry(&operator(), &run, Some("b"), "coba lagi").await.unwrap();
        assert_eq!(self.engine.drive(&run, &|_| {}).await.unwrap().status, RunStatus::Failed);
        assert_eq!(self.files(), ["file-1", "file-2"], "two attempts of b wrote two files");
        (id, run)
    }
}

async fn unwinding_undoes_every_attempt_newest_first(db: Db) {
    let h = harness(db).await;
    let (id, run) = h.twice_failed().await;
    h.engine.unwind(&operator(), &run, "batal").await.unwrap();
    assert_eq!(h.engine.drive(&run, &|_| {}).await.unwrap().status, RunStatus::Unwound);
    assert!(h.files().is_empty(), "left behind: {:?}", h.files());
    // Each attempt undone once, newest first by when it started: b#2, a#2, b#1, a#1.
    let events = h.engine.service().store.run_events(&run).await.unwrap();
    let undone: Vec<(i64, i64)> = events.iter().filter(|e| e.event == "undone").map(|e| (e.step_index, e.attempt)).collect();
    assert_eq!(undone, [(1, 2), (0, 2), (1, 1), (0, 1)]);
    assert_eq!(h.engine.service().store.request(&id).await.unwrap().state, State::Approved);
}

async fn decommissioning_undoes_every_attempt_of_each_step(db: Db) {
    let h = harness(db).await;
    let (id, run) = h.twice_failed().await;
    // The third attempt of b succeeds: the request goes live with three files written.
    h.engine.retry(&operator(), &run, Some("b"), "sekali lagi").await.unwrap();
    assert_eq!(h.engine.drive(&run, &|_| {}).await.unwrap().status, RunStatus::Succeeded);
    let svc = h.engine.service();
    assert_eq!(svc.store.request(&id).await.unwrap().state, State::Active);
    assert_eq!(h.files(), ["file-1", "file-2"], "b's third attempt wrote file-2 again (a's latest n is 2)");
    let revocation = Revocation { reasons: vec![text("selesai")], effective: None, approved_by: None };
    svc.apply(&admin(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = h.engine.drive(&Engine::run_id(id.as_str(), "decommission"), &|_| {}).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded);
    assert_eq!(view.steps[0].output.as_ref().unwrap()["attempts"], json!([3, 2, 1]), "every attempt of b, newest first");
    assert!(h.files().is_empty(), "left behind: {:?}", h.files());
    assert_eq!(svc.store.request(&id).await.unwrap().state, State::Decommissioned);
}
