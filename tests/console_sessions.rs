//! Console sessions in the store, on SQLite and PostgreSQL: sign-in opens a session whose
//! token is kept only as a hash; wrong passwords, expiry, disabling the account and sign-out
//! all end it; the session follows the account's current role and unit.

mod common;

use common::{Db, SAMPLE_UNIT, fresh_db};
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::secrets::Secret;
use kolokasi::service::{NewUser, ServiceError};
use sqlx::Row;
use time::Duration;

const PASSWORD: &str = "sandi-yang-panjang-2026";

async fn sessions(db: Db) {
    let db = fresh_db(db).await;
    let svc = common::service(&db).await;
    let root = Actor::new("root", Role::Admin).unwrap();
    let new = NewUser {
        username: "budi".into(),
        display_name: "Budi".into(),
        role: Role::Requester,
        unit: Some(SAMPLE_UNIT.into()),
        password: Some(Secret::new(PASSWORD)),
    };
    svc.create_user(&root, new).await.unwrap();

    // A wrong password opens nothing.
    let e = svc
        .console_sign_in("budi", &Secret::new("salah-salah-salah"), "198.51.100.7", Duration::hours(1))
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Unauthorized(_)), "{e:?}");

    let s = svc
        .console_sign_in("budi", &Secret::new(PASSWORD), "198.51.100.7", Duration::hours(1))
        .await
        .unwrap();
    let token = s.token.expose().to_string();
    assert!(token.len() >= 43, "256 bits, base64url");
    let found = svc.console_session(&token).await.unwrap().expect("the session is live");
    assert_eq!(found.actor.name, "budi");
    assert_eq!(found.actor.role, Role::Requester);
    assert_eq!(found.actor.unit.as_deref(), Some(SAMPLE_UNIT));
    assert_eq!(found.csrf_token, s.csrf_token);
    assert!(svc.console_session("not-a-token").await.unwrap().is_none());

    // Only the hash is stored: no column of any session row holds the token.
    let rows = sqlx::query("SELECT token_hash, username, csrf_token FROM console_sessions")
        .fetch_all(svc.store.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    for i in 0..3 {
        assert_ne!(rows[0].get::<String, _>(i), token);
    }

    // Disabling the account ends its sessions at once; enabling it again brings them back
    // until they expire or are signed out.
    svc.disable_user(&root, "budi", true).await.unwrap();
    assert!(svc.console_session(&token).await.unwrap().is_none(), "a disabled account's session");
    svc.disable_user(&root, "budi", false).await.unwrap();
    let again = svc.console_session(&token).await.unwrap().unwrap();
    svc.console_sign_out(&again).await.unwrap();
    assert!(svc.console_session(&token).await.unwrap().is_none(), "signed out");

    // An expired session is not found (and is swept at the next sign-in).
    let old = svc
        .console_sign_in("budi", &Secret::new(PASSWORD), "198.51.100.7", Duration::seconds(-1))
        .await
        .unwrap();
    assert!(svc.console_session(old.token.expose()).await.unwrap().is_none(), "expired");
    svc.console_sign_in("budi", &Secret::new(PASSWORD), "198.51.100.7", Duration::hours(1))
        .await
        .unwrap();
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM console_sessions")
        .fetch_one(svc.store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the expired session was swept");

    // Sign-in and sign-out are in the audit trail, never with the token.
    let audit = svc.store.audit_recent(100).await.unwrap();
    let actions: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(actions.contains(&"console.sign_in") && actions.contains(&"console.sign_out"), "{actions:?}");
    let dump = serde_json::to_string(&audit).unwrap();
    assert!(!dump.contains(&token) && !dump.contains(PASSWORD));
}

on_both_databases!(sessions);
