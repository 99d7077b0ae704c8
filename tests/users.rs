//! Users, passwords, API tokens and the requester's unit scope, through the service layer.

mod common;

use common::*;
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::secrets::Secret;
use kolokasi::service::{Command, NewUser, ServiceError};
use kolokasi::store::ListFilter;

on_both_databases!(users_passwords_and_tokens, requester_sees_only_own_unit);

fn new_user(name: &str, role: Role, unit: Option<&str>, password: Option<&str>) -> NewUser {
    NewUser { username: name.into(), display_name: format!("{name} (uji)"), role, unit: unit.map(Into::into), password: password.map(Secret::new) }
}

async fn users_passwords_and_tokens(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let pw = Secret::new("CANARY-login-pa55word");

    // Only an admin creates users; a requester needs a unit.
    assert!(matches!(svc.create_user(&operator(), new_user("x", Role::Operator, None, None)).await, Err(ServiceError::Forbidden(_))));
    assert!(matches!(svc.create_user(&admin(), new_user("x", Role::Requester, None, None)).await, Err(ServiceError::Invalid(_))));
    assert!(matches!(svc.create_user(&admin(), new_user("x", Role::Admin, None, Some("short"))).await, Err(ServiceError::Invalid(_))));
    let u = svc.create_user(&admin(), new_user("budi", Role::Requester, Some(SAMPLE_UNIT), Some(pw.expose()))).await.unwrap();
    assert!(u.has_password);
    assert!(matches!(svc.create_user(&admin(), new_user("budi", Role::Admin, None, None)).await, Err(ServiceError::Conflict(_))));

    // Password sign-in gives the actor with role and unit; failures are generic.
    let actor = svc.authenticate_password("budi", &pw).await.unwrap();
    assert_eq!(actor, Actor::in_unit("budi", Role::Requester, SAMPLE_UNIT).unwrap());
    let wrong = svc.authenticate_password("budi", &Secret::new("CANARY-wrong-pa55word")).await.unwrap_err();
    let unknown = svc.authenticate_password("nobody", &pw).await.unwrap_err();
    assert_eq!(wrong.to_string(), unknown.to_string(), "no hint which part was wrong");
    assert!(matches!(wrong, ServiceError::Unauthorized(_)));

    // Tokens: shown once, stored as a hash, read-only flag, expiry, revocation, disabling.
    let (view, token) = svc.create_token(&admin(), "budi", true, time::Duration::days(1)).await.unwrap();
    assert!(token.expose().starts_with("klk_"));
    let (who, read_only) = svc.authenticate_token(token.expose()).await.unwrap();
    assert_eq!((who.name.as_str(), who.unit.as_deref(), read_only), ("budi", Some(SAMPLE_UNIT), true));
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(svc.store.pool()).await.unwrap();
    assert!(!stored.iter().any(|h| h.contains(token.expose())), "only the hash is stored");
    assert!(matches!(svc.create_token(&requester(), "admin.tik", false, time::Duration::days(1)).await, Err(ServiceError::Forbidden(_))));
    let listed = svc.list_tokens(&requester(), None).await;
    assert!(listed.is_ok(), "a user lists their own tokens");
    svc.revoke_token(&admin(), &view.id).await.unwrap();
    assert!(matches!(svc.authenticate_token(token.expose()).await, Err(ServiceError::Unauthorized(_))));

    let (_, expiring) = svc.create_token(&admin(), "budi", false, time::Duration::seconds(1)).await.unwrap();
    assert!(svc.authenticate_token(expiring.expose()).await.is_ok());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(svc.authenticate_token(expiring.expose()).await.is_err(), "expired");

    let (_, live) = svc.create_token(&admin(), "budi", false, time::Duration::days(1)).await.unwrap();
    svc.disable_user(&admin(), "budi", true).await.unwrap();
    assert!(svc.authenticate_token(live.expose()).await.is_err(), "a disabled user's tokens stop working");
    assert!(svc.authenticate_password("budi", &pw).await.is_err());
    svc.disable_user(&admin(), "budi", false).await.unwrap();
    svc.set_password(&admin(), "budi", &Secret::new("CANARY-new-pa55word!")).await.unwrap();

    // Every change is audited, never with a password, hash or token.
    let audit: Vec<String> = sqlx::query_scalar("SELECT action || ' ' || COALESCE(after_json, '') FROM audit ORDER BY seq").fetch_all(svc.store.pool()).await.unwrap();
    for action in ["user.create", "auth.login", "auth.failure", "token.create", "token.revoke", "user.disable", "user.enable", "user.password"] {
        assert!(audit.iter().any(|a| a.starts_with(action)), "{action} audited: {audit:#?}");
    }
    let all = audit.join("\n");
    assert!(!all.contains("CANARY") && !all.contains("klk_") && !all.contains("$argon2"), "{all}");
    assert!(svc.store.audit_verify().await.unwrap().is_ok());
}

async fn requester_sees_only_own_unit(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let own = svc.submit(&requester(), sample_form()).await.unwrap();
    let other_form = hosting_form();
    let other = svc.submit(&requester_for(&other_form), other_form).await.unwrap();

    // A requester cannot file for another unit.
    assert!(matches!(svc.submit(&requester(), hosting_form()).await, Err(ServiceError::Forbidden(_))));
    let unitless = Actor::new("tanpa.unit", Role::Requester).unwrap();
    assert!(matches!(svc.submit(&unitless, sample_form()).await, Err(ServiceError::Forbidden(_))));

    // Lists are narrowed to the unit; another unit's request is "not found".
    let f = ListFilter { limit: 10, ..Default::default() };
    let mine: Vec<String> = svc.list(&requester(), &f).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(mine, vec![own.to_string()]);
    let asked_other = ListFilter { unit: Some(hosting_form().unit.name.to_string()), limit: 10, ..Default::default() };
    assert!(svc.list(&requester(), &asked_other).await.unwrap().is_empty());
    assert_eq!(svc.list(&admin(), &f).await.unwrap().len(), 2);
    assert!(svc.request(&requester(), &own).await.is_ok());
    assert!(matches!(svc.request(&requester(), &other).await, Err(ServiceError::NotFound(_))));
    assert!(matches!(svc.capacity_preview(&requester(), &other).await, Err(ServiceError::NotFound(_))));
    let withdraw = Command::Withdraw { reason: "uji".into() };
    assert!(matches!(svc.apply(&requester(), &other, withdraw).await, Err(ServiceError::NotFound(_))));
    // The auditor reads everything and moves nothing.
    let auditor = Actor::new("inspektorat", Role::Auditor).unwrap();
    assert!(svc.request(&auditor, &other).await.is_ok());
    assert!(svc.apply(&auditor, &other, Command::Verify { reason: None }).await.is_err());

    // Reads of personal data are audited, one row per list call.
    let reads: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT action, request_id FROM audit WHERE action IN ('request.view', 'request.list') ORDER BY seq").fetch_all(svc.store.pool()).await.unwrap();
    assert_eq!(reads.iter().filter(|(a, _)| a == "request.list").count(), 2, "{reads:?}");
    assert!(reads.contains(&("request.view".into(), Some(other.to_string()))));
}
