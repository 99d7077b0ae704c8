//! The engine on its own test actions and on the real playbooks, on SQLite and PostgreSQL:
//! every step re-run gives the same end state; a failure injected at each step, then unwind,
//! leaves nothing behind; retry, skip, in-step retries, gates, undo failures that leave a run
//! stuck; playbook errors named with file, line and step.

mod common;
#[path = "support/faults.rs"]
mod faults;

use std::sync::{Arc, Mutex};

use common::*;
use faults::Faults;
use kolokasi::domain::HardwareReceipt;
use kolokasi::engine::{Action, ActionCtx, BoxFuture, Cause, Engine, Outcome, Param, Playbook, Registry, RunStatus, StepError, StepStatus};
use kolokasi::lifecycle::State;
use kolokasi::service::{Command, Service};
use serde_json::{Value, json};
use sqlx::Row;

on_both_databases!(
    real_playbook_every_step_twice_gives_the_same_end_state,
    real_playbook_failure_at_each_step_then_unwind_leaves_nothing,
    decommissioning_undoes_provisioning_and_releases_everything,
    decommissioning_failed_at_each_step_then_retried_leaves_nothing,
    retryable_faults_are_retried_in_the_step_and_fatal_ones_stop_the_run,
    undo_failure_leaves_the_run_stuck_and_visible,
    runs_on_one_device_never_interleave_and_runs_on_different_devices_overlap,
    many_runs_renewing_their_leases_over_a_busy_pool_all_finish,
);

struct Harness {
    _lab: tokio::sync::MutexGuard<'static, ()>,
    engine: Engine,
    faults: Faults,
    _db: TestDb,
}

async fn harness(db: Db, extra: impl FnOnce(&mut Registry)) -> Harness {
    let lab = lab_dns_lock().await;
    reset_lab_port("r1p7");
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let faults = Faults::default();
    let mut registry = faults.registry();
    extra(&mut registry);
    let playbooks = Engine::load_playbooks(Some(std::path::Path::new("playbooks")), &registry).unwrap();
    let mut engine = Engine::new(svc, lab_drivers(), registry, playbooks).unwrap();
    engine.retry.base = std::time::Duration::from_millis(5);
    Harness { _lab: lab, engine, faults, _db: db }
}

fn quiet(_: &kolokasi::engine::Progress) {}

/// An approved request with its hardware recorded, its provisioning run created.
async fn provisioning_request(svc: &Service) -> (kolokasi::domain::RequestId, String) {
    provisioning_request_with(svc, sample_form()).await
}

async fn provisioning_request_with(svc: &Service, form: kolokasi::domain::RequestForm) -> (kolokasi::domain::RequestId, String) {
    let id = approved_request(svc, form).await;
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let receipt = HardwareReceipt { serial_number: text("SN-1"), type_brand: text("Dell R650"), switch_port: Some(text("r1p7")), host_key: None };
    svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    let run = Engine::run_id(id.as_str(), "colocation");
    (id, run)
}

/// Everything provisioning changes outside the run log: active addresses, and the DNS records
/// of the request's names as the authoritative server answers.
async fn world(svc: &Service, request: &str) -> Value {
    let rows = sqlx::query("SELECT pool, address, purpose FROM ip_allocations WHERE request_id = $1 AND released_at IS NULL ORDER BY purpose")
        .bind(request)
        .fetch_all(svc.store.pool())
        .await
        .unwrap();
    let addrs: Vec<Value> = rows.iter().map(|r| json!([r.get::<String, _>(0), r.get::<String, _>(1), r.get::<String, _>(2)])).collect();
    let row = svc.store.request(&kolokasi::domain::RequestId::parse(request).unwrap()).await.unwrap();
    json!({ "addresses": addrs, "dns": dns_world(&row.form.domain).await, "switch": switch_world().await, "firewall": firewall_world(request).await })
}

/// The test port as the switch reports it (VLAN, description, owner).
async fn switch_world() -> Value {
    let drivers = lab_drivers();
    let sw = &drivers.switches["sw-r01"];
    let state = sw.read(&sw.port("r1p7").unwrap()).await.unwrap();
    json!({ "vlans": state.vlans, "description": state.description, "enabled": state.enabled, "request": state.request })
}

/// kolokasi's firewall rules of one request, as nftables lists them.
async fn firewall_world(request: &str) -> Value {
    let drivers = lab_drivers();
    let mut kinds: Vec<String> =
        drivers.firewalls["fw-1"].rules().await.unwrap().into_iter().filter(|r| r.comment.request.as_str() == request).map(|r| r.comment.kind).collect();
    kinds.sort();
    json!(kinds)
}

/// What the lab's BIND answers for a domain, its www alias and the PTRs of the lab's first
/// addresses (the ones a fresh database hands out).
async fn dns_world(domain: &kolokasi::domain::Fqdn) -> Value {
    use kolokasi::dns::{RecordKind, reverse_name};
    use kolokasi::domain::Fqdn;
    let drivers = lab_drivers();
    let p = &drivers.dns["bind"].provider;
    let www = Fqdn::parse(&format!("www.{domain}")).unwrap();
    let mut out = serde_json::Map::new();
    out.insert("a".into(), json!(p.read(domain, RecordKind::A).await.unwrap()));
    out.insert("aaaa".into(), json!(p.read(domain, RecordKind::Aaaa).await.unwrap()));
    out.insert("www".into(), json!(p.read(&www, RecordKind::Cname).await.unwrap()));
    for a in ["198.51.100.140", "198.51.100.141", "2001:db8:100::2", "2001:db8:100::3"] {
        let name = reverse_name(a.parse().unwrap());
        // Only PTRs that name this request's domain are its own (other tests reuse addresses).
        let mine: Vec<String> = p.read(&name, RecordKind::Ptr).await.unwrap().into_iter().filter(|v| v.trim_end_matches('.') == domain.as_str()).collect();
        out.insert(a.into(), json!(mine));
    }
    Value::Object(out)
}

fn nothing(w: &Value) -> bool {
    w["addresses"].as_array().unwrap().is_empty()
        && w["dns"].as_object().unwrap().values().all(|v| v.as_array().unwrap().is_empty())
        && w["firewall"].as_array().unwrap().is_empty()
        && w["switch"]["request"].is_null()
        && w["switch"]["description"].is_null()
        && w["switch"]["vlans"]["tag"] == json!(1)
}

async fn real_playbook_every_step_twice_gives_the_same_end_state(db: Db) {
    let h = harness(db, |_| {}).await;
    let svc = h.engine.service().clone();
    let (id, run) = provisioning_request(&svc).await;
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded);
    let clean = world(&svc, id.as_str()).await;
    assert_eq!(clean["addresses"].as_array().unwrap().len(), 2);
    assert_eq!(clean["dns"]["a"], json!(["198.51.100.140"]), "{clean}");
    assert_eq!(clean["dns"]["198.51.100.140"].as_array().unwrap().len(), 1);
    assert_eq!(clean["switch"]["vlans"]["tag"], json!(120), "{clean}");
    assert_eq!(clean["firewall"].as_array().unwrap().len(), 3, "two accepts and a drop: {clean}");
    assert_eq!(svc.request(&admin(), &id).await.unwrap().state, State::Active, "on_success moved the lifecycle");
    let (pb, _) = h.engine.view(&run).await.unwrap();
    for step in &pb.steps {
        h.engine.retry(&operator(), &run, Some(&step.name), "re-run for the test").await.unwrap();
        let view = h.engine.drive(&run, &quiet).await.unwrap();
        assert_eq!(view.status, RunStatus::Succeeded, "after re-running {}", step.name);
        assert_eq!(world(&svc, id.as_str()).await, clean, "re-running {} changed the world", step.name);
        let s = view.steps.iter().find(|s| s.name == step.name).unwrap();
        assert_eq!(s.attempt, 2);
    }
    // A live request is taken down by its Form Pencabutan, not by unwinding its run.
    let err = h.engine.unwind(&operator(), &run, "clean up").await.unwrap_err();
    assert!(err.to_string().contains("allowed now: retry"), "{err}");
    decommission(&h, &id).await;
    assert!(nothing(&world(&svc, id.as_str()).await));
}

/// Form Pencabutan filed and approved, the decommission run driven to its end.
async fn decommission(h: &Harness, id: &kolokasi::domain::RequestId) {
    let svc = h.engine.service();
    let revocation = kolokasi::domain::Revocation { reasons: vec![text("uji selesai")], effective: None, approved_by: None };
    svc.apply(&admin(), id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&head(), id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = h.engine.drive(&Engine::run_id(id.as_str(), "decommission"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded);
    assert_eq!(svc.request(&admin(), id).await.unwrap().state, State::Decommissioned);
}

async fn real_playbook_failure_at_each_step_then_unwind_leaves_nothing(db: Db) {
    let h = harness(db, |_| {}).await;
    let svc = h.engine.service().clone();
    let (pb, _) = (h.engine.playbooks["colocation"].clone(), ());
    for step in &pb.steps {
        // One request per step stays approved (its capacity reserved) after the unwind: ask for
        // little bandwidth so that the example uplink holds one per step of the playbook.
        let mut form = sample_form();
        form.servers[0].bandwidth_mbps = 10;
        let (id, run) = provisioning_request_with(&svc, form).await;
        h.faults.fail_step(Some(&step.name));
        let view = h.engine.drive(&run, &quiet).await.unwrap();
        assert_eq!(view.status, RunStatus::Failed, "injected at {}", step.name);
        let failed = view.current().unwrap();
        assert_eq!(failed.name, step.name);
        assert!(matches!(&failed.status, StepStatus::Failed { error } if error.contains("injected")));
        h.faults.fail_step(None);
        h.engine.unwind(&operator(), &run, "test unwind").await.unwrap();
        let view = h.engine.drive(&run, &quiet).await.unwrap();
        assert_eq!(view.status, RunStatus::Unwound);
        let w = world(&svc, id.as_str()).await;
        assert!(nothing(&w), "left behind after failing at {}: {w}", step.name);
    }
}

async fn decommissioning_undoes_provisioning_and_releases_everything(db: Db) {
    let h = harness(db, |_| {}).await;
    let svc = h.engine.service().clone();
    let (id, run) = provisioning_request(&svc).await;
    h.engine.drive(&run, &quiet).await.unwrap();
    let revocation = kolokasi::domain::Revocation { reasons: vec![text("aplikasi ditutup")], effective: None, approved_by: None };
    svc.apply(&requester(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = h.engine.drive(&Engine::run_id(id.as_str(), "decommission"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded);
    let w = world(&svc, id.as_str()).await;
    assert!(nothing(&w), "{w}");
    assert_eq!(svc.request(&admin(), &id).await.unwrap().state, State::Decommissioned);
    assert!(svc.store.capacity_usage().await.unwrap().units.is_empty());
    // Evidence stays: the provisioning run and the allocation history.
    assert_eq!(svc.store.allocations(Some(id.as_str()), None, 10).await.unwrap().len(), 2);
    assert_eq!(h.engine.view(&run).await.unwrap().1.status, RunStatus::Succeeded);
}

/// The decommission playbook in the generic failure test: a failure injected at each of its
/// steps (after the step's work) stops the run there; it is never unwound (that would provision
/// again) but retried, and ends with nothing left on any device and the request decommissioned.
async fn decommissioning_failed_at_each_step_then_retried_leaves_nothing(db: Db) {
    let h = harness(db, |_| {}).await;
    let svc = h.engine.service().clone();
    let pb = h.engine.playbooks["decommission"].clone();
    for step in &pb.steps {
        let mut form = sample_form();
        form.servers[0].bandwidth_mbps = 10;
        let (id, run) = provisioning_request_with(&svc, form).await;
        assert_eq!(h.engine.drive(&run, &quiet).await.unwrap().status, RunStatus::Succeeded);
        let revocation = kolokasi::domain::Revocation { reasons: vec![text("uji")], effective: None, approved_by: None };
        svc.apply(&admin(), &id, Command::RequestRevocation { revocation }).await.unwrap();
        svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
        let decommission = Engine::run_id(id.as_str(), "decommission");
        h.faults.fail_step(Some(&step.name));
        let view = h.engine.drive(&decommission, &quiet).await.unwrap();
        h.faults.fail_step(None);
        assert_eq!(view.status, RunStatus::Failed, "injected at {}", step.name);
        assert_eq!(svc.request(&admin(), &id).await.unwrap().state, State::Decommissioning, "capacity stays reserved while devices may hold something");
        let err = h.engine.unwind(&operator(), &decommission, "batal").await.unwrap_err();
        assert!(err.to_string().contains("allowed now: retry, skip"), "{err}");
        h.engine.retry(&operator(), &decommission, None, "perangkat normal").await.unwrap();
        assert_eq!(h.engine.drive(&decommission, &quiet).await.unwrap().status, RunStatus::Succeeded, "after failing at {}", step.name);
        let w = world(&svc, id.as_str()).await;
        assert!(nothing(&w), "left behind after failing at {}: {w}", step.name);
        assert_eq!(svc.request(&admin(), &id).await.unwrap().state, State::Decommissioned);
    }
}

/// A test action: fails retryably `n` times, then succeeds; fatally if asked.
struct Flaky {
    tries: Arc<Mutex<u32>>,
}

impl Action for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn describe(&self) -> &'static str {
        "fails a few times"
    }
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[kolokasi::engine::action::required("fail_times", kolokasi::engine::ParamKind::Integer), kolokasi::engine::action::optional("fatal", kolokasi::engine::ParamKind::Bool)];
        P
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["tries"]
    }
    fn plan(&self, _: &ActionCtx<'_>) -> String {
        "flaky".into()
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let n = {
                let mut t = self.tries.lock().unwrap();
                *t += 1;
                *t
            };
            if ctx.params["fatal"] == json!(true) {
                return Err(StepError::new(Cause::Refused, "the device said no"));
            }
            if u64::from(n) <= ctx.params["fail_times"].as_u64().unwrap() {
                return Err(StepError::new(Cause::Transport, format!("connection refused (try {n})")));
            }
            Ok(Outcome::Done(json!({ "tries": n })))
        })
    }
    fn undo<'a>(&'a self, _: &'a ActionCtx<'a>, _: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async { Ok(()) })
    }
}

async fn custom_run(h: &Harness, yaml: &str) -> String {
    let svc = h.engine.service();
    let pb = Playbook::parse(yaml, "test.yaml", &h.engine.env.registry).unwrap();
    let id = svc.submit(&requester(), sample_form()).await.unwrap();
    let mut w = svc.store.write().await.unwrap();
    let run = w.create_run(id.as_str(), &pb.name, &serde_json::to_string(&pb).unwrap()).await.unwrap();
    w.commit().await.unwrap();
    run
}

async fn retryable_faults_are_retried_in_the_step_and_fatal_ones_stop_the_run(db: Db) {
    let tries = Arc::new(Mutex::new(0));
    let t = tries.clone();
    let h = harness(db, move |r| {
        r.register(Flaky { tries: t });
    })
    .await;
    let run = custom_run(&h, "name: t1\nsteps:\n  - name: shaky\n    action: flaky\n    with: { fail_times: 2 }\n").await;
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded);
    assert_eq!(view.steps[0].output, Some(json!({ "tries": 3 })));

    *tries.lock().unwrap() = 0;
    let run = custom_run(&h, "name: t2\nsteps:\n  - name: shaky\n    action: flaky\n    with: { fail_times: 10 }\n").await;
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Failed);
    assert!(matches!(&view.steps[0].status, StepStatus::Failed { error } if error.contains("gave up after 4 tries")));
    // The operator re-runs the step; the device is back.
    *tries.lock().unwrap() = 100;
    h.engine.retry(&operator(), &run, None, "perangkat sudah normal").await.unwrap();
    assert_eq!(h.engine.drive(&run, &quiet).await.unwrap().status, RunStatus::Succeeded);

    let run = custom_run(&h, "name: t3\nsteps:\n  - name: no\n    action: flaky\n    with: { fail_times: 0, fatal: true }\n  - name: after\n    action: flaky\n    with: { fail_times: 0 }\n").await;
    let before = *tries.lock().unwrap();
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Failed);
    assert_eq!(*tries.lock().unwrap() - before, 1, "fatal errors are not retried");
    // Skip needs a reason and lets the run go on; it is audited.
    assert!(h.engine.skip(&operator(), &run, None, " ").await.is_err());
    h.engine.skip(&operator(), &run, None, "dikerjakan manual").await.unwrap();
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded);
    assert!(matches!(&view.steps[0].status, StepStatus::Skipped { reason } if reason == "dikerjakan manual"));
    let request = run.split('/').next().unwrap();
    let audit = h.engine.service().store.audit_for_request(request).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "run.skip" && a.reason.as_deref() == Some("dikerjakan manual")));
    // Requesters may not operate runs.
    assert!(h.engine.retry(&requester(), &run, Some("no"), "x").await.is_err());
}

async fn undo_failure_leaves_the_run_stuck_and_visible(db: Db) {
    let h = harness(db, |_| {}).await;
    let svc = h.engine.service().clone();
    let (id, run) = provisioning_request(&svc).await;
    h.faults.fail_step(Some("hardware"));
    h.engine.drive(&run, &quiet).await.unwrap();
    h.faults.fail_step(None);
    h.faults.fail_undo(true);
    h.engine.unwind(&operator(), &run, "batal").await.unwrap();
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Stuck);
    assert!(view.steps.iter().any(|s| matches!(&s.status, StepStatus::UndoFailed { error } if error.contains("injected undo failure"))));
    assert_eq!(svc.store.run(&run).await.unwrap().status, "stuck");
    // Asking again for the unwind, or to skip or retry, is refused with what is allowed.
    for err in [
        h.engine.unwind(&operator(), &run, "lagi").await.unwrap_err(),
        h.engine.skip(&operator(), &run, None, "lewati").await.unwrap_err(),
        h.engine.retry(&operator(), &run, None, "ulang").await.unwrap_err(),
    ] {
        assert!(err.to_string().contains("allowed now: retry_undo, resolve"), "{err}");
    }
    // Way out 1: the undo is tried again (here the device still refuses: stuck again, on the
    // same attempt, its next try numbered) …
    let first = view.stuck_on().unwrap();
    h.engine.retry_undo(&operator(), &run, "perangkat sudah diperbaiki").await.unwrap();
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Stuck);
    let again = view.stuck_on().unwrap();
    assert_eq!((again.index, again.attempt, again.try_no), (first.index, first.attempt, 3), "the second try failed too");
    // … way out 2: resolved by hand, with a reason, the saved state kept in the audit row.
    assert!(h.engine.resolve(&operator(), &run, " ").await.is_err(), "a reason is needed");
    let step = h.engine.resolve(&operator(), &run, "dibersihkan manual di perangkat").await.unwrap();
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    let row = audit.iter().find(|a| a.action == "run.resolve").unwrap();
    assert_eq!(row.after.as_ref().unwrap()["detail"]["step"], step.as_str());
    assert!(row.after.as_ref().unwrap()["detail"]["params"].is_object(), "{:?}", row.after);
    assert!(row.after.as_ref().unwrap()["detail"]["undo_error"].as_str().unwrap().contains("injected undo failure"));
    // The device works again: the rest of the unwind runs, the request is approved again.
    h.faults.fail_undo(false);
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Unwound, "{view:?}");
    assert_eq!(svc.request(&admin(), &id).await.unwrap().state, State::Approved);
    // What the resolved step had done is the operator's to have removed; the rest is gone.
    let w = world(&svc, id.as_str()).await;
    assert!(w["addresses"].as_array().unwrap().is_empty(), "{w}");
}

#[test]
fn after_is_checked_at_load_unknown_steps_cycles_and_unwaited_outputs() {
    let r = kolokasi::actions::builtin();
    let err = |yaml: &str| Playbook::parse(yaml, "playbooks/x.yaml", &r).unwrap_err().to_string();
    let head = "name: x\nsteps:\n  - name: a\n    action: allocate_address\n    with: { pool: p }\n";
    let e = err(&format!("{head}  - name: b\n    action: gate\n    after: [nowhere]\n    with: {{ gate: g }}\n"));
    assert!(e.contains(":6: step \"b\": after: no step is named \"nowhere\""), "{e}");
    // Waiting only for earlier steps rules out cycles: a forward or self reference is refused.
    let e = err(&format!("{head}  - name: b\n    action: gate\n    after: [c]\n    with: {{ gate: g }}\n  - name: c\n    action: gate\n    after: [b]\n    with: {{ gate: g }}\n"));
    assert!(e.contains("step \"b\": after: \"c\" comes later") && e.contains("no cycle"), "{e}");
    let e = err(&format!("{head}  - name: b\n    action: gate\n    after: [b]\n    with: {{ gate: g }}\n"));
    assert!(e.contains("cannot wait for itself"), "{e}");
    // A step reads outputs only of steps it waits for (directly or through others).
    let e = err(&format!("{head}  - name: b\n    action: gate\n    after: []\n    with: {{ gate: \"${{steps.a.address}}\" }}\n"));
    assert!(e.contains("step \"b\"") && e.contains("does not wait for"), "{e}");
    let ok = format!("{head}  - name: b\n    action: gate\n    after: [a]\n    with: {{ gate: g }}\n  - name: c\n    action: gate\n    after: [a]\n    with: {{ gate: g }}\n  - name: d\n    action: gate\n    after: [b, c]\n    with: {{ gate: \"${{steps.a.address}}\" }}\n");
    let pb = Playbook::parse(&ok, "playbooks/x.yaml", &r).unwrap();
    assert_eq!((pb.deps(1), pb.deps(2), pb.deps(3)), (vec![0], vec![0], vec![1, 2]));
    assert_eq!(pb.ancestors(3).into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    // The shipped playbooks: DNS, firewall and the gate after the addresses, the switch after
    // the gate, the inspection after the switch; decommissioning undoes four steps at once.
    let shipped = Engine::load_playbooks(None, &r).unwrap();
    let colocation = shipped.iter().find(|p| p.name == "colocation").unwrap();
    let after = |step: &str| colocation.after_names(colocation.step_index(step).unwrap());
    assert_eq!((after("dns"), after("firewall"), after("switch"), after("inspect")), (vec!["address-v4".to_string(), "address-v6".into()], vec!["address-v6".into()], vec!["hardware".into()], vec!["switch".into()]));
    let decommission = shipped.iter().find(|p| p.name == "decommission").unwrap();
    assert_eq!((0..4).filter(|&i| decommission.deps(i).is_empty()).count(), 4);
}

#[test]
fn playbook_errors_name_file_line_and_step() {
    let r = kolokasi::actions::builtin();
    let err = |yaml: &str| Playbook::parse(yaml, "playbooks/x.yaml", &r).unwrap_err().to_string();
    let e = err("name: x\nsteps:\n  - name: a\n    action: allocate_address\n    with: { pool: dc-v4 }\n  - name: b\n    action: teleport\n");
    assert!(e.starts_with("playbooks/x.yaml:6: step \"b\": unknown action \"teleport\" (known: allocate_address, dns_records, "), "{e}");
    let e = err("name: x\nsteps:\n  - name: a\n    action: gate\n    with: { gate: \"${steps.later.address}\" }\n  - name: later\n    action: allocate_address\n    with: { pool: p }\n");
    assert!(e.contains(":3: step \"a\"") && e.contains("does not come earlier"), "{e}");
    let e = err("name: x\nsteps:\n  - name: a\n    action: allocate_address\n    with: { pool: p }\n  - name: b\n    action: gate\n    with: { gate: \"${steps.a.mac}\" }\n");
    assert!(e.contains("has no output \"mac\""), "{e}");
    let e = err("name: x\nsteps:\n  - name: a\n    action: allocate_address\n    with: { pool: 42 }\n");
    assert!(e.contains("parameter pool: expected Text"), "{e}");
    let e = err("name: x\nsteps:\n  - name: a\n    action: allocate_address\n    with: { pol: p }\n");
    assert!(e.contains("no parameter \"pol\""), "{e}");
    let e = err("name: x\nsteps:\n  - name: a\n    action: allocate_address\n");
    assert!(e.contains("needs the parameter pool"), "{e}");
    let e = err("name: x\nsteps:\n  - name: a\n    action: gate\n    with: { gate: \"${request.password}\" }\n");
    assert!(e.contains("unknown reference"), "{e}");
    for (file, text) in kolokasi::engine::BUILTIN_PLAYBOOKS {
        Playbook::parse(text, file, &r).unwrap();
    }
}

/// A test action that holds its device for a while and records when it did.
struct Probe {
    log: Arc<Mutex<Vec<(String, std::time::Instant, std::time::Instant)>>>,
}

impl Action for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn describe(&self) -> &'static str {
        "holds a device for 150 ms"
    }
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[kolokasi::engine::action::required("device", kolokasi::engine::ParamKind::Text)];
        P
    }
    fn outputs(&self) -> &'static [&'static str] {
        &[]
    }
    fn devices(&self, params: &Value) -> Vec<String> {
        vec![params["device"].as_str().unwrap().to_string()]
    }
    fn plan(&self, _: &ActionCtx<'_>) -> String {
        "probe".into()
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let start = std::time::Instant::now();
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            self.log.lock().unwrap().push((ctx.params["device"].as_str().unwrap().to_string(), start, std::time::Instant::now()));
            Ok(Outcome::Done(json!({})))
        })
    }
    fn undo<'a>(&'a self, _: &'a ActionCtx<'a>, _: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async { Ok(()) })
    }
}


async fn runs_on_one_device_never_interleave_and_runs_on_different_devices_overlap(db: Db) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let h = harness(db, move |r| {
        r.register(Probe { log: l });
    })
    .await;
    // On PostgreSQL a second engine over the same database stands for a second process: only
    // the advisory locks can keep the two apart. SQLite has one worker process by design.
    let l2 = log.clone();
    let mut registry = Registry::default();
    registry.register(Probe { log: l2 });
    let mut all = kolokasi::actions::builtin();
    for a in registry.all() {
        all.register_arc(a.clone());
    }
    let other = Engine::new(h.engine.service().clone(), Default::default(), all, h.engine.playbooks.values().cloned().collect()).unwrap();
    let same_a = custom_run(&h, "name: pa\nsteps:\n  - name: p\n    action: probe\n    with: { device: sw-r01 }\n").await;
    let same_b = custom_run(&h, "name: pb\nsteps:\n  - name: p\n    action: probe\n    with: { device: sw-r01 }\n").await;
    let second = if matches!(db, Db::Postgres) { &other } else { &h.engine };
    let (a, b) = tokio::join!(h.engine.drive(&same_a, &quiet), second.drive(&same_b, &quiet));
    assert_eq!((a.unwrap().status, b.unwrap().status), (RunStatus::Succeeded, RunStatus::Succeeded));
    let same: Vec<_> = log.lock().unwrap().drain(..).collect();
    assert_eq!(same.len(), 2);
    let (x, y) = (&same[0], &same[1]);
    assert!(x.2 <= y.1 || y.2 <= x.1, "two runs changed sw-r01 at the same time");

    let diff_a = custom_run(&h, "name: pc\nsteps:\n  - name: p\n    action: probe\n    with: { device: fw-1 }\n").await;
    let diff_b = custom_run(&h, "name: pd\nsteps:\n  - name: p\n    action: probe\n    with: { device: sw-r02 }\n").await;
    let (a, b) = tokio::join!(h.engine.drive(&diff_a, &quiet), h.engine.drive(&diff_b, &quiet));
    assert_eq!((a.unwrap().status, b.unwrap().status), (RunStatus::Succeeded, RunStatus::Succeeded));
    let diff: Vec<_> = log.lock().unwrap().drain(..).collect();
    let (x, y) = (&diff[0], &diff[1]);
    assert!(x.1 < y.2 && y.1 < x.2, "runs on different devices should overlap");
}


/// Reads the store in a loop for a while, as a step that records and looks things up does.
struct Busy;

impl Action for Busy {
    fn name(&self) -> &'static str {
        "busy"
    }
    fn describe(&self) -> &'static str {
        "reads the store for 300 ms"
    }
    fn params(&self) -> &'static [Param] {
        &[]
    }
    fn outputs(&self) -> &'static [&'static str] {
        &[]
    }
    fn devices(&self, _: &Value) -> Vec<String> {
        vec![]
    }
    fn plan(&self, _: &ActionCtx<'_>) -> String {
        "busy".into()
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
            while std::time::Instant::now() < until {
                ctx.env.service.store.run(ctx.run_id).await.map_err(StepError::from)?;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Ok(Outcome::Done(json!({})))
        })
    }
    fn undo<'a>(&'a self, _: &'a ActionCtx<'a>, _: Option<&'a Value>) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The regression behind a red CI: a lease renewal (or the look at the run between steps)
/// awaited a database connection while the run's steps sat unpolled — and the pool's fair queue
/// had handed the connection to one of those steps' queries. Forty runs of four concurrent
/// steps, each renewing its lease every 100 ms, on a 4-connection SQLite pool: before the fix
/// every connection ended up promised to an unpolled query and all runs hung until the pool's
/// 30 s timeout failed them.
async fn many_runs_renewing_their_leases_over_a_busy_pool_all_finish(db: Db) {
    let mut h = harness(db, |r| {
        r.register(Busy);
    })
    .await;
    h.engine.lease = time::Duration::milliseconds(300);
    let yaml = "name: busy\nsteps:\n  - name: a\n    action: busy\n  - name: b\n    action: busy\n    after: []\n  - name: c\n    action: busy\n    after: []\n  - name: d\n    action: busy\n    after: []\n  - name: e\n    action: busy\n    after: [a, b, c, d]\n";
    let mut runs = vec![];
    for _ in 0..40 {
        runs.push(custom_run(&h, yaml).await);
    }
    let drives = runs.iter().map(|run| h.engine.drive(run, &quiet));
    let done = tokio::time::timeout(std::time::Duration::from_secs(25), futures_util::future::join_all(drives))
        .await
        .expect("the runs hung: a connection was promised to a query nobody polled");
    for view in done {
        assert_eq!(view.unwrap().status, RunStatus::Succeeded);
    }
}
