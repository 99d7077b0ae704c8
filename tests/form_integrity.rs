//! Completing the Form Pengajuan (SOP step 4): a requester completes only their own unit's
//! request, cannot move it to another unit, change its kind or its domain, and every change is
//! audited field by field (before and after).

mod common;

use common::*;
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::service::{Command, ServiceError};

async fn at_form(db: &TestDb) -> (kolokasi::service::Service, kolokasi::domain::RequestId) {
    let svc = service(db).await;
    let id = svc.submit(&requester(), sample_form()).await.unwrap();
    svc.apply(&admin(), &id, Command::Verify { reason: None }).await.unwrap();
    svc.apply(&operator(), &id, Command::CheckCapacity { reason: None }).await.unwrap();
    (svc, id)
}

#[tokio::test]
async fn complete_form_is_scoped_to_the_unit_and_audited_per_field() {
    let db = fresh_db(Db::Sqlite).await;
    let (svc, id) = at_form(&db).await;
    let row = svc.store.request(&id).await.unwrap();

    // Another unit's requester does not even see the request.
    let stranger = Actor::in_unit("siti", Role::Requester, "Dinas Kesehatan Provinsi Kalimantan Timur").unwrap();
    let err = svc.apply(&stranger, &id, Command::CompleteForm { form: Some(Box::new(row.form.clone())), reason: None }).await.unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err}");

    // The unit's own requester cannot move it to another unit, or change its domain.
    let mut moved = row.form.clone();
    moved.unit.name = text("Dinas Kesehatan Provinsi Kalimantan Timur");
    let err = svc.apply(&requester(), &id, Command::CompleteForm { form: Some(Box::new(moved)), reason: None }).await.unwrap_err();
    assert!(err.to_string().contains("cannot change the unit"), "{err}");
    let mut renamed = row.form.clone();
    renamed.domain = kolokasi::domain::Fqdn::parse("lain.kaltimprov.go.id").unwrap();
    let err = svc.apply(&requester(), &id, Command::CompleteForm { form: Some(Box::new(renamed)), reason: None }).await.unwrap_err();
    assert!(err.to_string().contains("cannot change the domain"), "{err}");
    assert_eq!(svc.store.request(&id).await.unwrap().form, row.form, "nothing changed");

    // What it may change is recorded field by field.
    let mut completed = row.form.clone();
    completed.servers[0].ram_gb = 64;
    completed.unit.address = text("Jl. Dr. Soetomo No. 4, Samarinda");
    svc.apply(&requester(), &id, Command::CompleteForm { form: Some(Box::new(completed)), reason: Some("RAM ditambah".into()) }).await.unwrap();
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    let row = audit.iter().rev().find(|e| e.action.contains("complete_form")).expect("the completion's audit row");
    let changes = &row.after.as_ref().unwrap()["detail"]["form_changes"];
    assert_eq!(changes["servers[0].ram_gb"]["after"], 64, "{changes}");
    assert_eq!(changes["unit.address"]["after"], "Jl. Dr. Soetomo No. 4, Samarinda", "{changes}");
    assert_eq!(changes.as_object().unwrap().len(), 2, "only what changed: {changes}");
}
