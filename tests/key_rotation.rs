//! Master-key rotation: after it, the old key opens nothing and the new key opens every secret
//! and every host admin password; the rotation is audited without values.

mod common;

use common::*;
use kolokasi::capacity::Inventory;
use kolokasi::lifecycle::Calendar;
use kolokasi::secrets::{MasterKey, Secret, SecretKind};
use kolokasi::service::{Service, ServiceError};
use kolokasi::store::Store;

on_both_databases!(rotation_moves_everything_to_the_new_key);

const TSIG_CANARY: &str = "Q0FOQVJZLXRzaWcta2V5LTAxMjM0NTY3ODlhYmNkZWY=";

async fn with_key(db: &TestDb, key: MasterKey) -> Service {
    Service::new(Store::connect(&db.url).await.unwrap(), Inventory::example(), Calendar::builtin_2026(), Some(key))
}

async fn rotation_moves_everything_to_the_new_key(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await; // sealed under [42; 32]
    svc.set_secret(&admin(), "tsig-lab", SecretKind::Tsig, &Secret::new(TSIG_CANARY)).await.unwrap();
    svc.set_secret(&operator(), "sw-r01-login", SecretKind::Password, &Secret::new(CANARY)).await.unwrap();
    let id = approved_request(&svc, sample_form()).await;

    let new_key = MasterKey::from_bytes([7; 32]);
    assert!(matches!(svc.rotate_master_key(&operator(), &new_key).await, Err(ServiceError::Forbidden(_))));
    let report = svc.rotate_master_key(&admin(), &new_key).await.unwrap();
    assert_eq!((report.secrets, report.host_admin_passwords), (2, 1), "{report:?}");

    let old = with_key(&db, MasterKey::from_bytes([42; 32])).await;
    assert!(old.secret("tsig-lab").await.is_err(), "the old key opens nothing");
    assert!(old.secret("sw-r01-login").await.is_err());
    let new = with_key(&db, MasterKey::from_bytes([7; 32])).await;
    assert_eq!(new.reveal_secret(&admin(), "tsig-lab").await.unwrap().expose(), TSIG_CANARY);
    assert_eq!(new.reveal_secret(&admin(), "sw-r01-login").await.unwrap().expose(), CANARY);
    let row = new.store.request(&id).await.unwrap();
    let sealed = row.approval.unwrap().colocation.unwrap().host_admin.unwrap().password.unwrap();
    assert_eq!(sealed.key_id(), Some(new_key.id()));
    let opened = new_key.open(&sealed, &kolokasi::domain::HostAdmin::seal_context(&id)).unwrap();
    assert_eq!(opened.expose(), CANARY);
    assert!(MasterKey::from_bytes([42; 32]).open(&sealed, &kolokasi::domain::HostAdmin::seal_context(&id)).is_err());

    // Audited, without any value; the chain still holds.
    let rows: Vec<String> = sqlx::query_scalar("SELECT after_json FROM audit WHERE action = 'secret.rotate_key'").fetch_all(new.store.pool()).await.unwrap();
    assert_eq!(rows.len(), 1);
    let all: Vec<String> = sqlx::query_scalar("SELECT COALESCE(after_json, '') FROM audit").fetch_all(new.store.pool()).await.unwrap();
    assert!(!all.join("\n").contains("CANARY") && !all.join("\n").contains(TSIG_CANARY));
    assert!(new.verify_audit(&admin()).await.unwrap().is_ok());
    // The audit keys moved too: rows after the rotation carry a new key id, old rows still verify.
    assert_eq!(report.audit_keys, 2, "{report:?}");
    new.set_secret(&admin(), "after-rotation", SecretKind::Password, &Secret::new(CANARY)).await.unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT key_id FROM audit WHERE key_id <> '' ORDER BY seq").fetch_all(new.store.pool()).await.unwrap();
    assert_ne!(ids.first(), ids.last(), "{ids:?}");
    let current: String = sqlx::query_scalar("SELECT key_id FROM audit_keys WHERE purpose = 'mac' AND retired_at IS NULL").fetch_one(new.store.pool()).await.unwrap();
    assert_eq!(ids.last(), Some(&current));
    assert!(new.verify_audit(&admin()).await.unwrap().is_ok());
    assert!(old.set_secret(&admin(), "x", SecretKind::Password, &Secret::new("y")).await.is_err(), "the old key cannot write to the keyed chain");
    // Rotating to the same key again is refused; nothing half-done.
    assert!(matches!(new.rotate_master_key(&admin(), &MasterKey::from_bytes([7; 32])).await, Err(ServiceError::Invalid(_))));
}
