//! The privacy export: everything held about one official and every access to it, on both
//! databases; and how long it takes on a store with 10,000 requests.

mod common;

use common::*;
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::service::{Command, ServiceError};

on_both_databases!(export_names_every_request_and_every_access);

async fn export_names_every_request_and_every_access(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let form = sample_form();
    let nip = form.official.nip.to_string();
    let mine = svc.submit(&requester(), form.clone()).await.unwrap();
    svc.apply(&admin(), &mine, Command::Verify { reason: None }).await.unwrap();
    let auditor = Actor::new("inspektorat", Role::Auditor).unwrap();
    svc.request(&auditor, &mine).await.unwrap();
    // Someone else's request, not naming the NIP.
    let other = hosting_form();
    assert_ne!(other.official.nip.to_string(), nip);
    let theirs = svc.submit(&requester_for(&other), other).await.unwrap();

    assert!(matches!(svc.privacy_export(&operator(), &nip).await, Err(ServiceError::Forbidden(_))));
    assert!(matches!(svc.privacy_export(&requester(), &nip).await, Err(ServiceError::Forbidden(_))));
    assert!(matches!(svc.privacy_export(&admin(), "12345").await, Err(ServiceError::Invalid(_))));

    let export = svc.privacy_export(&auditor, &nip).await.unwrap();
    let ids: Vec<&str> = export.requests.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec![mine.as_str()]);
    assert!(export.requests[0].capacities.contains(&"official"));
    assert!(export.changes.iter().any(|a| a.action == "request.verify"));
    assert!(export.accesses.iter().any(|a| a.action == "request.view" && a.actor == "inspektorat"), "{:?}", export.accesses);
    assert!(!export.changes.iter().chain(&export.accesses).any(|a| a.request_id.as_deref() == Some(theirs.as_str())));
    // The export is an access too: the next export lists it.
    let again = svc.privacy_export(&admin(), &nip).await.unwrap();
    assert!(again.accesses.iter().any(|a| a.action == "privacy.export"), "{:?}", again.accesses);
    let json = serde_json::to_string(&again).unwrap();
    assert!(!json.contains(CANARY));
}

/// Figures: a privacy export on a store with 10,000 requests and 20,000 audit rows (SQLite),
/// printed; it must stay within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_on_ten_thousand_requests_takes_milliseconds() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let target = sample_form();
    let nip = target.official.nip.to_string();
    let others = hosting_form();
    let now = time::OffsetDateTime::now_utc();
    let mut w = svc.store.write().await.unwrap();
    for i in 0..10_000 {
        // Every 500th request names the target official.
        let f = if i % 500 == 0 { &target } else { &others };
        let id = w.insert_request(f, now, None).await.unwrap();
        for action in ["request.submit", "request.verify"] {
            let entry = kolokasi::store::AuditEntry { actor: admin(), request_id: Some(id.to_string()), action: action.into(), reason: None, before: None, after: None };
            w.audit(entry).await.unwrap();
        }
    }
    w.commit().await.unwrap();
    for r in svc.list(&admin(), &kolokasi::store::ListFilter { limit: 1000, ..Default::default() }).await.unwrap().iter().take(200) {
        svc.request(&admin(), &kolokasi::domain::RequestId::parse(&r.id).unwrap()).await.unwrap();
    }
    let started = std::time::Instant::now();
    let export = svc.privacy_export(&admin(), &nip).await.unwrap();
    let took = started.elapsed();
    println!("privacy export over 10,000 requests: {} requests, {} changes, {} accesses in {:.1} ms", export.requests.len(), export.changes.len(), export.accesses.len(), took.as_secs_f64() * 1e3);
    assert_eq!(export.requests.len(), 20);
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
}
