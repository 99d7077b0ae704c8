//! The SOP end to end through the service layer, on SQLite and on PostgreSQL: every step, the
//! audit trail, capacity reservations, refusals, and the host admin password kept sealed.

mod common;
#[path = "support/quick_playbooks.rs"]
mod quick_playbooks;

use common::*;
use kolokasi::capacity::{Inventory, Resource};
use kolokasi::domain::{HardwareReceipt, Revocation};
use kolokasi::lifecycle::{State, TransitionError};
use kolokasi::service::{Command, ServiceError};
use sqlx::Row;

on_both_databases!(
    full_walk_through_the_sop_is_audited,
    illegal_and_forbidden_moves_change_nothing,
    capacity_shortage_closes_the_request_naming_the_resource,
    approvals_never_double_book_a_rack_unit,
    decommissioning_and_withdrawal_release_capacity,
    host_admin_password_is_sealed_everywhere,
    editing_an_audit_row_breaks_the_chain_at_that_row,
    lists_filter_by_state_unit_and_overdue,
);

async fn full_walk_through_the_sop_is_audited(db: Db) {
    let db = fresh_db(db).await;
    // Handover, going live and decommissioned follow the runs (store-only steps here).
    let dir = quick_playbooks::dir(&quick_playbooks::colocation(""));
    let engine = quick_playbooks::engine(service(&db).await, dir.path());
    let svc = engine.service().clone();
    let id = approved_request(&svc, sample_form()).await;
    assert_eq!(svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap(), State::AwaitingHardware);
    let receipt = HardwareReceipt { serial_number: text("SN-123"), type_brand: text("Dell R650"), switch_port: Some(text("r1p1")), host_key: None };
    assert_eq!(svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap(), State::Provisioning);
    let err = svc.apply(&inspector(), &id, Command::HandOver { reason: None }).await.unwrap_err();
    assert!(err.to_string().contains("follows the request's run"), "{err}");
    engine.drive(&format!("{id}/colocation"), &|_| {}).await.unwrap();
    assert_eq!(svc.request(&admin(), &id).await.unwrap().state, State::Active);
    let revocation = Revocation { reasons: vec![text("aplikasi dipindah ke cloud nasional")], effective: None, approved_by: None };
    svc.apply(&requester(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let err = svc.apply(&operator(), &id, Command::Decommissioned { reason: Some("semua dibongkar".into()) }).await.unwrap_err();
    assert!(err.to_string().contains("follows the request's run"), "{err}");
    engine.drive(&format!("{id}/decommission"), &|_| {}).await.unwrap();
    assert_eq!(svc.request(&admin(), &id).await.unwrap().state, State::Decommissioned);

    let view = svc.request(&admin(), &id).await.unwrap();
    let path: Vec<State> = view.history.iter().map(|e| e.to_state).collect();
    assert_eq!(
        path,
        [
            State::Verified,
            State::CapacityConfirmed,
            State::FormCompleted,
            State::Approved,
            State::AwaitingHardware,
            State::Provisioning,
            State::HandedOver,
            State::Active,
            State::RevocationRequested,
            State::Decommissioning,
            State::Decommissioned
        ]
    );
    let approval = view.approval.unwrap();
    assert_eq!(approval["colocation"]["serial_number"], "SN-123");
    assert_eq!(approval["data_center"]["server_location"], "R01 U5");

    // Audit: one row per change, naming who, in which role, why, and before/after.
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    let actions: Vec<&str> =
        audit.iter().map(|a| a.action.as_str()).filter(|a| *a != "request.view" && (a.starts_with("request.") || a.starts_with("asset."))).collect();
    // Every SOP step, and the asset register written at handover and withdrawal.
    assert_eq!(
        actions,
        [
            "request.submit",
            "request.verify",
            "request.capacity_ok",
            "request.complete_form",
            "request.approve",
            "request.start_provisioning",
            "request.hardware_received",
            "asset.register",
            "request.hand_over",
            "request.report_live",
            "request.request_revocation",
            "request.approve_revocation",
            "asset.withdraw",
            "request.decommissioned",
        ]
    );
    let approve = audit.iter().find(|a| a.action == "request.approve").unwrap();
    assert_eq!((approve.actor.as_str(), approve.role.as_str()), ("admin.tik", "admin"));
    assert_eq!(approve.before.as_ref().unwrap()["state"], "form_completed");
    assert_eq!(approve.after.as_ref().unwrap()["state"], "approved");
    assert_eq!(approve.reason.as_deref(), Some("kapasitas mencukupi"));
    let last = audit.iter().rfind(|a| a.action != "request.view").unwrap();
    assert_eq!((last.action.as_str(), last.reason.as_deref()), ("request.decommissioned", Some(format!("run {id}/decommission succeeded").as_str())));
    // The request's rows (changes and the audited read), 2 for the IP pools created from the
    // inventory at start.
    assert_eq!(svc.store.audit_verify().await.unwrap(), Ok(audit.len() as i64 + 2));
}

async fn illegal_and_forbidden_moves_change_nothing(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let id = svc.submit(&requester(), sample_form()).await.unwrap();
    let err = svc.apply(&admin(), &id, approve_with_canary()).await.unwrap_err();
    assert!(matches!(err, ServiceError::Transition(TransitionError::Illegal { state: State::Submitted, .. })), "{err:?}");
    let err = svc.apply(&requester(), &id, Command::Verify { reason: None }).await.unwrap_err();
    assert!(matches!(err, ServiceError::Transition(TransitionError::Forbidden { .. })), "{err:?}");
    let err = svc.submit(&operator(), sample_form()).await.unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden(_)));
    let view = svc.request(&admin(), &id).await.unwrap();
    assert_eq!(view.state, State::Submitted);
    assert!(view.history.is_empty());
    let changes = svc.store.audit_for_request(id.as_str()).await.unwrap().into_iter().filter(|a| a.action != "request.view").count();
    assert_eq!(changes, 1, "reads are audited too, but change nothing");
    // Nothing was reserved by the refused approval.
    assert!(svc.store.capacity_usage().await.unwrap().units.is_empty());
    // Unknown requests are NotFound.
    let ghost = kolokasi::domain::RequestId::parse("KLK-2026-99999").unwrap();
    assert!(matches!(svc.apply(&admin(), &ghost, Command::Verify { reason: None }).await, Err(ServiceError::NotFound(_))));
}

async fn capacity_shortage_closes_the_request_naming_the_resource(db: Db) {
    let db = fresh_db(db).await;
    let mut inv = Inventory::example();
    inv.sites[0].uplink_committed_mbps = 1950; // 50 Mbps free, the request needs 100
    let svc = service_with(&db, inv).await;
    let id = svc.submit(&requester(), sample_form()).await.unwrap();
    svc.apply(&admin(), &id, Command::Verify { reason: None }).await.unwrap();
    let state = svc.apply(&operator(), &id, Command::CheckCapacity { reason: None }).await.unwrap();
    assert_eq!(state, State::ClosedNoCapacity);
    let view = svc.request(&admin(), &id).await.unwrap();
    let verdict = view.capacity.unwrap();
    assert_eq!(verdict.shortages[0].resource, Resource::Bandwidth);
    let reason = view.history.last().unwrap().reason.clone().unwrap();
    assert!(reason.contains("uplink has 50 Mbps free"), "{reason}");
    // A closed request cannot be revived.
    assert!(svc.apply(&requester(), &id, Command::CompleteForm { form: None, reason: None }).await.is_err());
}

async fn approvals_never_double_book_a_rack_unit(db: Db) {
    let db = fresh_db(db).await;
    // One rack with exactly one free U.
    let mut inv = Inventory::example();
    inv.sites[0].racks.truncate(1);
    inv.sites[0].racks[0].occupied.push(kolokasi::capacity::inventory::Occupied { from_u: 6, to_u: 38, label: "penuh".into(), power_w: 0 });
    let svc = service_with(&db, inv).await;
    let mut ids = vec![];
    for _ in 0..4 {
        let id = svc.submit(&requester(), sample_form()).await.unwrap();
        svc.apply(&admin(), &id, Command::Verify { reason: None }).await.unwrap();
        svc.apply(&operator(), &id, Command::CheckCapacity { reason: None }).await.unwrap();
        svc.apply(&requester(), &id, Command::CompleteForm { form: None, reason: None }).await.unwrap();
        ids.push(id);
    }
    // All four were told capacity is there; only one approval can take the last U.
    let results = futures_join(ids.iter().map(|id| {
        let svc = svc.clone();
        let id = id.clone();
        async move { svc.apply(&admin(), &id, approve_with_canary()).await }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, ServiceError::Conflict(m) if m.contains("capacity")), "{r:?}");
    }
    let usage = svc.store.capacity_usage().await.unwrap();
    assert_eq!(usage.units.len(), 1);
    assert_eq!((usage.units[0].from_u, usage.units[0].to_u), (5, 5));
}

async fn futures_join<F: std::future::Future + Send + 'static>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = vec![];
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn decommissioning_and_withdrawal_release_capacity(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let a = approved_request(&svc, sample_form()).await;
    let b = approved_request(&svc, sample_form()).await;
    let usage = svc.store.capacity_usage().await.unwrap();
    assert_eq!(usage.units.len(), 2);
    assert_eq!(usage.bandwidth_mbps["NOC-SMD"], 200);
    svc.apply(&requester(), &b, Command::Withdraw { reason: "anggaran dialihkan".into() }).await.unwrap();
    assert_eq!(svc.store.capacity_usage().await.unwrap().units.len(), 1);
    // The freed slot is offered again.
    let c = approved_request(&svc, sample_form()).await;
    assert_eq!(svc.request(&admin(), &c).await.unwrap().approval.unwrap()["data_center"]["server_location"], "R01 U6");
    let _ = a;
    // History of placements is kept.
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM placements").fetch_one(svc.store.pool()).await.unwrap().get(0);
    assert_eq!(n, 3);
}

async fn host_admin_password_is_sealed_everywhere(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let id = approved_request(&svc, sample_form()).await;
    let view = serde_json::to_string(&svc.request(&admin(), &id).await.unwrap()).unwrap();
    assert!(!view.contains(CANARY));
    assert!(view.contains("[redacted]"));
    let audit = serde_json::to_string(&svc.store.audit_for_request(id.as_str()).await.unwrap()).unwrap();
    assert!(!audit.contains(CANARY));
    // Not in any column of any table.
    for (table, cols) in [
        ("requests", "COALESCE(form_json,'') || COALESCE(approval_json,'') || COALESCE(capacity_json,'')"),
        ("audit", "COALESCE(before_json,'') || COALESCE(after_json,'') || COALESCE(reason,'')"),
        ("request_events", "COALESCE(reason,'')"),
    ] {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {cols} FROM {table}"));
        for row in sqlx::query(sql).fetch_all(svc.store.pool()).await.unwrap() {
            let text: String = row.get(0);
            assert!(!text.contains(CANARY), "{table} holds the password in clear");
        }
    }
    // But it is there, sealed, and opens with the key and the right context only.
    let row = svc.store.request(&id).await.unwrap();
    let sealed = row.approval.unwrap().colocation.unwrap().host_admin.unwrap().password.unwrap();
    let key = kolokasi::secrets::MasterKey::from_bytes([42; 32]);
    let ctx = kolokasi::domain::HostAdmin::seal_context(&id);
    assert_eq!(key.open(&sealed, &ctx).unwrap().expose(), CANARY);
}

async fn editing_an_audit_row_breaks_the_chain_at_that_row(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    approved_request(&svc, sample_form()).await;
    // 2 rows for the IP pools, 5 for the request.
    assert_eq!(svc.store.audit_verify().await.unwrap(), Ok(7));
    sqlx::query("UPDATE audit SET actor = 'mallory' WHERE seq = 5").execute(svc.store.pool()).await.unwrap();
    let broken = svc.store.audit_verify().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, 5);
    assert!(broken.problem.contains("edited"));
    sqlx::query("UPDATE audit SET actor = 'pengelola' WHERE seq = 5").execute(svc.store.pool()).await.unwrap();
    assert!(svc.store.audit_verify().await.unwrap().is_ok());
    sqlx::query("DELETE FROM audit WHERE seq = 2").execute(svc.store.pool()).await.unwrap();
    assert_eq!(svc.store.audit_verify().await.unwrap().unwrap_err().seq, 2);
}

async fn lists_filter_by_state_unit_and_overdue(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let a = svc.submit(&requester(), sample_form()).await.unwrap();
    let b = svc.submit(&requester_for(&hosting_form()), hosting_form()).await.unwrap();
    svc.apply(&admin(), &b, Command::Verify { reason: None }).await.unwrap();
    use kolokasi::store::ListFilter;
    let all = svc.list(&admin(), &ListFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [a.as_str(), b.as_str()]);
    let verified = svc.list(&admin(), &ListFilter { state: Some(State::Verified), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].id, b.as_str());
    let unit = svc.list(&admin(), &ListFilter { unit: Some(hosting_form().unit.name.to_string()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(unit.len(), 1);
    let page = svc.list(&admin(), &ListFilter { after: Some(a.to_string()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(page.len(), 1);
    // Nothing is overdue yet; push one request's due time into the past and it is.
    assert!(svc.overdue(&admin(), 10).await.unwrap().is_empty());
    sqlx::query("UPDATE requests SET sla_due_at = 1 WHERE id = $1").bind(a.as_str()).execute(svc.store.pool()).await.unwrap();
    let overdue = svc.overdue(&admin(), 10).await.unwrap();
    assert_eq!(overdue.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [a.as_str()]);
}
