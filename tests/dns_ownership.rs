//! Ownership of names and records, through the service and the engine, against the real lab
//! (BIND9 over RFC 2136, PowerDNS over its API) and on SQLite and PostgreSQL where the store
//! decides: one active claim per name (the second submission is refused, a race has one
//! winner), a record made outside kolokasi stops the run untouched, a record changed by hand
//! is never deleted, adoption lets an admin hand a record over, a zone apex needs an admin's
//! leave, and 32 concurrent writes on sibling names lose nothing.
//!
//! Never skips: without the lab or PostgreSQL these tests fail and say how to start them.

mod common;

use std::time::Instant;

use common::*;
use kolokasi::dns::{DnsError, RecordKind, RecordSet};
use kolokasi::domain::{Fqdn, RequestForm, RequestId};
use kolokasi::engine::{Engine, Playbook, RunStatus, StepStatus};
use kolokasi::lifecycle::{Actor, Role, State};
use kolokasi::service::{Command, Service, ServiceError};
use serde_json::json;

on_both_databases!(
    a_second_request_for_a_claimed_name_is_refused_at_submission,
    two_submissions_at_once_one_wins_by_the_unique_index,
    a_zone_apex_is_refused_unless_an_admin_allows_it,
    a_record_made_outside_kolokasi_stops_the_run_untouched_until_adopted_bind,
);

mod drivers {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_made_outside_kolokasi_stops_the_run_untouched_until_adopted_powerdns() {
        outside_record(Db::Sqlite, "powerdns").await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_changed_by_hand_is_never_deleted_bind() {
        changed_by_hand(Db::Sqlite, "bind").await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_changed_by_hand_is_never_deleted_powerdns() {
        changed_by_hand(Db::Postgres, "powerdns").await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thirty_two_concurrent_runs_on_sibling_names_lose_nothing_bind() {
        concurrent_runs(Db::Sqlite, "bind").await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thirty_two_concurrent_runs_on_sibling_names_lose_nothing_powerdns() {
        concurrent_runs(Db::Postgres, "powerdns").await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thirty_two_concurrent_conditional_writes_lose_nothing_bind() {
        concurrent_writes("bind").await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thirty_two_concurrent_conditional_writes_lose_nothing_powerdns() {
        concurrent_writes("powerdns").await
    }
}

async fn a_record_made_outside_kolokasi_stops_the_run_untouched_until_adopted_bind(db: Db) {
    outside_record(db, "bind").await
}

struct Lab {
    engine: Engine,
    _db: TestDb,
    // PowerDNS on SQLite answers concurrent changes from two providers with HTTP 500, so the
    // tests of this binary take turns (each test's own writes still run concurrently).
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

async fn lab(db: Db) -> Lab {
    let turn = lab_dns_lock().await;
    let db = fresh_db(db).await;
    let engine = lab_engine(service(&db).await);
    Lab { engine, _db: db, _turn: turn }
}

impl Lab {
    fn svc(&self) -> &Service {
        self.engine.service()
    }

    /// A run of one `dns_records` step (twice: a re-run must be idempotent) for the request.
    async fn dns_run(&self, id: &RequestId, provider: &str, address: &str) -> String {
        let yaml = format!(
            "name: dns-{provider}\nsteps:\n  - name: dns\n    action: dns_records\n    with:\n      provider: {provider}\n      domain: ${{request.domain}}\n      ipv4: {address}\n      ptr: false\n      cnames: [\"www.${{request.domain}}\"]\n  - name: dns-again\n    action: dns_records\n    with:\n      provider: {provider}\n      domain: ${{request.domain}}\n      ipv4: {address}\n      ptr: false\n      cnames: [\"www.${{request.domain}}\"]\n"
        );
        let pb = Playbook::parse(&yaml, "test.yaml", &self.engine.env.registry).unwrap();
        let mut w = self.svc().store.write().await.unwrap();
        let run = w.create_run(id.as_str(), &pb.name, &serde_json::to_string(&pb).unwrap()).await.unwrap();
        w.commit().await.unwrap();
        run
    }

    fn dns(&self, provider: &str) -> &kolokasi::engine::drivers::DnsTarget {
        &self.engine.env.drivers.dns[provider]
    }

    fn zone(&self, provider: &str) -> Fqdn {
        self.dns(provider).zones.forward[0].clone()
    }

    /// A direct, uncached query to the authoritative server.
    async fn read(&self, provider: &str, name: &Fqdn, kind: RecordKind) -> Vec<String> {
        self.dns(provider).provider.read(name, kind).await.unwrap()
    }

    /// Someone else writes the rrset, outside kolokasi.
    async fn by_hand(&self, provider: &str, name: &Fqdn, value: &str) {
        let set = RecordSet::new(name.clone(), RecordKind::A, 60, vec![value.into()]);
        self.dns(provider).provider.replace(&self.zone(provider), &set).await.unwrap();
    }
}

fn quiet(_: &kolokasi::engine::Progress) {}

fn www(domain: &Fqdn) -> Fqdn {
    Fqdn::parse(&format!("www.{domain}")).unwrap()
}

fn form_named(domain: &str) -> RequestForm {
    let mut f = sample_form();
    f.domain = Fqdn::parse(domain).unwrap();
    f
}

fn conflict(e: ServiceError) -> String {
    match e {
        ServiceError::Conflict(m) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn a_second_request_for_a_claimed_name_is_refused_at_submission(db: Db) {
    let lab = lab(db).await;
    let svc = lab.svc();
    let form = sample_form();
    let first = svc.submit(&requester(), form.clone()).await.unwrap();

    // Another unit's requester learns only that the name is taken; staff learn by whom.
    let other_unit = Actor::in_unit("pemohon.lain", Role::Requester, "Dinas Lain").unwrap();
    let mut theirs = form.clone();
    theirs.unit.name = kolokasi::domain::Text::parse("Dinas Lain").unwrap();
    let said = conflict(svc.submit(&other_unit, theirs).await.unwrap_err());
    assert!(said.contains(form.domain.as_str()) && said.contains("another request"), "{said}");
    assert!(!said.contains(first.as_str()), "a requester must not learn the holder: {said}");
    let said = conflict(svc.submit(&admin(), form.clone()).await.unwrap_err());
    assert!(said.contains(first.as_str()), "{said}");

    // The CNAME the colocation playbook declares (www.) is claimed too, and so is the domain
    // as a hosting request's Ingress host.
    let said = conflict(svc.submit(&admin(), form_named(www(&form.domain).as_str())).await.unwrap_err());
    assert!(said.contains(first.as_str()), "{said}");
    let mut hosting = hosting_form();
    (hosting.domain, hosting.unit) = (form.domain.clone(), form.unit.clone());
    conflict(svc.submit(&requester(), hosting.clone()).await.unwrap_err());

    // The store itself refuses a second active claim, whoever writes it.
    let dup = sqlx::query("INSERT INTO domain_claims (name, request_id, source, claimed_at) VALUES ($1, 'KLK-2026-99999', 'domain', 0)")
        .bind(form.domain.as_str())
        .execute(svc.store.pool())
        .await
        .unwrap_err();
    assert!(kolokasi::store::StoreError::from(dup).is_unique_violation());

    // Withdrawn (a final state), the name is free again, in the same transaction.
    svc.apply(&requester(), &first, Command::Withdraw { reason: "salah nama".into() }).await.unwrap();
    assert_eq!(svc.store.name_holder(form.domain.as_str()).await.unwrap(), None);
    let second = svc.submit(&requester(), hosting).await.unwrap();
    assert_eq!(svc.store.name_holder(form.domain.as_str()).await.unwrap().as_deref(), Some(second.as_str()));
}

async fn two_submissions_at_once_one_wins_by_the_unique_index(db: Db) {
    let lab = lab(db).await;
    let form = sample_form();
    let tries = (0..8).map(|_| {
        let svc = lab.svc().clone();
        let form = form.clone();
        tokio::spawn(async move { svc.submit(&requester(), form).await })
    });
    let results: Vec<_> = futures_util::future::join_all(tries).await.into_iter().map(|r| r.unwrap()).collect();
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for lost in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(lost, ServiceError::Conflict(m) if m.contains("already claimed")), "{lost:?}");
    }
    assert_eq!(lab.svc().store.name_holder(form.domain.as_str()).await.unwrap().as_deref(), Some(won[0].as_str()));
}

async fn a_zone_apex_is_refused_unless_an_admin_allows_it(db: Db) {
    let lab = lab(db).await;
    let svc = lab.svc();
    let apex = lab.zone("bind");
    let id = svc.submit(&requester(), form_named(apex.as_str())).await.unwrap();
    svc.apply(&admin(), &id, Command::Verify { reason: None }).await.unwrap();
    svc.apply(&operator(), &id, Command::CheckCapacity { reason: None }).await.unwrap();
    svc.apply(&requester(), &id, Command::CompleteForm { form: None, reason: None }).await.unwrap();

    // The DNS step refuses it as well, before writing anything.
    let run = lab.dns_run(&id, "bind", "203.0.113.9").await;
    let view = lab.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Failed);
    assert!(matches!(&view.steps[0].status, StepStatus::Failed { error } if error.contains("apex")), "{:?}", view.steps[0].status);

    let said = conflict(svc.apply(&admin(), &id, approve_with_canary()).await.unwrap_err());
    assert!(said.contains("apex") && said.contains("allow-name"), "{said}");
    // Only an admin may allow it, with a reason; it is audited.
    assert!(matches!(svc.allow_name(&operator(), &id, &apex, "perlu").await, Err(ServiceError::Forbidden(_))));
    assert!(matches!(svc.allow_name(&admin(), &id, &apex, " ").await, Err(ServiceError::Invalid(_))));
    svc.allow_name(&admin(), &id, &apex, "situs utama pemprov").await.unwrap();
    assert_eq!(svc.apply(&admin(), &id, approve_with_canary()).await.unwrap(), State::Approved);
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "request.allow_name" && a.reason.as_deref() == Some("situs utama pemprov")));
}

async fn outside_record(db: Db, provider: &str) {
    let lab = lab(db).await;
    let svc = lab.svc();
    let form = sample_form();
    let domain = form.domain.clone();
    let id = svc.submit(&requester(), form).await.unwrap();
    lab.by_hand(provider, &domain, "203.0.113.250").await;

    let run = lab.dns_run(&id, provider, "203.0.113.10").await;
    let view = lab.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Failed, "{view:?}");
    let StepStatus::Failed { error } = &view.steps[0].status else { panic!("{:?}", view.steps[0].status) };
    for part in [domain.as_str(), " A ", "203.0.113.250", "expected no records", "not overwritten"] {
        assert!(error.contains(part), "{part:?} missing from {error}");
    }
    assert_eq!(lab.read(provider, &domain, RecordKind::A).await, vec!["203.0.113.250"], "the foreign record is untouched");

    // An admin adopts it (a requester may not); the retried step then replaces it.
    assert!(matches!(svc.adopt_record(&requester(), &id, &domain, "A", "punya kami").await, Err(ServiceError::Forbidden(_))));
    assert!(matches!(svc.adopt_record(&admin(), &id, &www(&www(&domain)), "A", "x").await, Err(ServiceError::Invalid(_))));
    svc.adopt_record(&admin(), &id, &domain, "a", "catatan lama milik dinas ini").await.unwrap();
    lab.engine.retry(&operator(), &run, None, "diadopsi").await.unwrap();
    let view = lab.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    assert_eq!(lab.read(provider, &domain, RecordKind::A).await, vec!["203.0.113.10"]);
    assert_eq!(lab.read(provider, &www(&domain), RecordKind::Cname).await, vec![domain.to_absolute()]);
    let records = &view.steps[0].output.as_ref().unwrap()["records"];
    assert_eq!(records[0]["adopted_from"], json!(["203.0.113.250"]), "{records}");
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "request.adopt_record"));

    // Unwound, kolokasi's records go: they still hold what it wrote.
    lab.engine.unwind(&operator(), &run, "selesai uji").await.unwrap();
    assert_eq!(lab.engine.drive(&run, &quiet).await.unwrap().status, RunStatus::Unwound);
    assert!(lab.read(provider, &domain, RecordKind::A).await.is_empty());
    assert!(lab.read(provider, &www(&domain), RecordKind::Cname).await.is_empty());
}

/// The choice: an undo deletes an rrset only while it holds exactly what kolokasi wrote; a
/// value changed by hand stops the undo with a conflict and stays. Way out: adopt, retry.
async fn changed_by_hand(db: Db, provider: &str) {
    let lab = lab(db).await;
    let svc = lab.svc();
    let form = sample_form();
    let domain = form.domain.clone();
    let id = svc.submit(&requester(), form).await.unwrap();
    let run = lab.dns_run(&id, provider, "203.0.113.11").await;
    assert_eq!(lab.engine.drive(&run, &quiet).await.unwrap().status, RunStatus::Succeeded);

    lab.by_hand(provider, &domain, "203.0.113.251").await;
    lab.engine.unwind(&operator(), &run, "pencabutan").await.unwrap();
    let view = lab.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Stuck, "{view:?}");
    let failed = view.steps.iter().find_map(|s| match &s.status {
        StepStatus::UndoFailed { error } => Some(error.clone()),
        _ => None,
    });
    let error = failed.expect("an undo failed");
    for part in [domain.as_str(), "203.0.113.251", "203.0.113.11", "changed after kolokasi wrote it"] {
        assert!(error.contains(part), "{part:?} missing from {error}");
    }
    assert_eq!(lab.read(provider, &domain, RecordKind::A).await, vec!["203.0.113.251"], "the hand-made value stays");

    // The way out: an admin adopts the changed record, the undo is retried and removes it.
    svc.adopt_record(&admin(), &id, &domain, "A", "perubahan manual disetujui").await.unwrap();
    lab.engine.retry_undo(&operator(), &run, "diadopsi").await.unwrap();
    assert_eq!(lab.engine.drive(&run, &quiet).await.unwrap().status, RunStatus::Unwound);
    assert!(lab.read(provider, &domain, RecordKind::A).await.is_empty());
    assert!(lab.read(provider, &www(&domain), RecordKind::Cname).await.is_empty());
}

async fn concurrent_runs(db: Db, provider: &str) {
    const N: usize = 32;
    let lab = lab(db).await;
    let svc = lab.svc();
    let base = sample_form().domain;
    let label = base.as_str().split('.').next().unwrap().to_string();
    let mut runs = Vec::new();
    for i in 0..N {
        let domain = format!("{label}-{i}.{}", lab.zone(provider));
        let id = svc.submit(&requester(), form_named(&domain)).await.unwrap();
        runs.push((Fqdn::parse(&domain).unwrap(), lab.dns_run(&id, provider, &format!("203.0.113.{}", 100 + i)).await));
    }
    let started = Instant::now();
    let views = futures_util::future::join_all(runs.iter().map(|(_, run)| lab.engine.drive(run, &quiet))).await;
    let took = started.elapsed();
    for view in views {
        assert_eq!(view.unwrap().status, RunStatus::Succeeded);
    }
    for (i, (domain, _)) in runs.iter().enumerate() {
        assert_eq!(lab.read(provider, domain, RecordKind::A).await, vec![format!("203.0.113.{}", 100 + i)], "{domain}");
    }
    println!("{provider}: {N} concurrent runs (2 dns steps each) in {took:?}");
    for (_, run) in &runs {
        lab.engine.unwind(&operator(), run, "bersih").await.unwrap();
    }
    let views = futures_util::future::join_all(runs.iter().map(|(_, run)| lab.engine.drive(run, &quiet))).await;
    for view in views {
        assert_eq!(view.unwrap().status, RunStatus::Unwound);
    }
    for (domain, _) in &runs {
        assert!(lab.read(provider, domain, RecordKind::A).await.is_empty(), "{domain}");
    }
}

/// Driver level: 32 conditional creates on sibling names at once, then a conditional change
/// of each, then a stale change (refused), then conditional deletes.
async fn concurrent_writes(provider: &str) {
    const N: usize = 32;
    let _turn = lab_dns_lock().await;
    let drivers = lab_drivers();
    let target = &drivers.dns[provider];
    let zone = target.zones.forward[0].clone();
    let label = sample_form().domain.as_str().split('.').next().unwrap().to_string();
    let sets: Vec<RecordSet> = (0..N)
        .map(|i| RecordSet::new(Fqdn::parse(&format!("{label}-w{i}.{zone}")).unwrap(), RecordKind::A, 60, vec![format!("203.0.113.{}", 100 + i)]))
        .collect();
    let started = Instant::now();
    let created = futures_util::future::join_all(sets.iter().map(|s| target.provider.replace_if(&zone, s, &[]))).await;
    let took = started.elapsed();
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    println!("{provider}: {N} concurrent conditional creates in {took:?}");
    for s in &sets {
        assert_eq!(target.provider.read(&s.name, RecordKind::A).await.unwrap(), s.values);
    }
    // Created again as if new: each is a conflict that names what is there.
    let again = target.provider.replace_if(&zone, &sets[0], &[]).await.unwrap_err();
    assert!(matches!(&again, DnsError::Conflict { found, .. } if *found == sets[0].values), "{again}");
    // A change expecting the old values succeeds; a second one with the same (now stale)
    // expectation is refused and the first change stays.
    let moved = RecordSet::new(sets[1].name.clone(), RecordKind::A, 60, vec!["203.0.113.200".into()]);
    target.provider.replace_if(&zone, &moved, &sets[1].values).await.unwrap();
    let stale = RecordSet::new(sets[1].name.clone(), RecordKind::A, 60, vec!["203.0.113.201".into()]);
    assert!(matches!(target.provider.replace_if(&zone, &stale, &sets[1].values).await, Err(DnsError::Conflict { .. })));
    assert_eq!(target.provider.read(&sets[1].name, RecordKind::A).await.unwrap(), moved.values);
    assert!(matches!(target.provider.delete_if(&zone, &sets[1].name, RecordKind::A, &sets[1].values).await, Err(DnsError::Conflict { .. })));
    let expected: Vec<Vec<String>> = sets.iter().enumerate().map(|(i, s)| if i == 1 { moved.values.clone() } else { s.values.clone() }).collect();
    let deleted = futures_util::future::join_all(sets.iter().zip(&expected).map(|(s, e)| target.provider.delete_if(&zone, &s.name, RecordKind::A, e))).await;
    assert!(deleted.iter().all(Result::is_ok), "{deleted:?}");
    for s in &sets {
        assert!(target.provider.read(&s.name, RecordKind::A).await.unwrap().is_empty(), "{}", s.name);
    }
}
