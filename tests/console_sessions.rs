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

/// The console's cookies: `HttpOnly` and `SameSite` always, `Secure` when the console is
/// reached over HTTPS (configured, or said by a trusted proxy — and only a trusted one).
#[tokio::test]
async fn cookies_are_secure_behind_https() {
    use axum::body::Body;
    use axum::http::{Request, header};
    use kolokasi::console::Options;
    use tower::ServiceExt;

    let db = fresh_db(Db::Sqlite).await;
    let svc = common::service(&db).await;
    let root = Actor::new("root", Role::Admin).unwrap();
    let new = NewUser {
        username: "admin.tik".into(),
        display_name: "Admin".into(),
        role: Role::Admin,
        unit: None,
        password: Some(Secret::new(PASSWORD)),
    };
    svc.create_user(&root, new).await.unwrap();

    for (secure_cookies, trust_proxy, forwarded, want_secure) in [
        (false, false, None, false),
        (true, false, None, true),
        (false, true, Some("https"), true),
        (false, false, Some("https"), false),
        (false, true, Some("http"), false),
    ] {
        let app = kolokasi::api::router_with_console(
            svc.clone(),
            Options {
                secure_cookies,
                trusted_proxies: if trust_proxy { kolokasi::auth::proxy::loopback() } else { Default::default() },
                ..Options::default()
            },
        );
        // The browser's proxy on this machine (loopback) is the TCP peer.
        let with_proto = |mut b: axum::http::request::Builder| {
            if let Some(p) = forwarded {
                b = b.header("x-forwarded-proto", p);
            }
            b.extension(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40000))))
        };
        let page = app
            .clone()
            .oneshot(with_proto(Request::get("/sign-in")).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let pre = page.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
        assert!(pre.contains("HttpOnly") && pre.contains("SameSite=Strict"), "{pre}");
        assert_eq!(pre.contains("; Secure"), want_secure, "{pre} ({secure_cookies}, {trust_proxy}, {forwarded:?})");
        let token = pre.split(';').next().unwrap().split_once('=').unwrap().1.to_string();

        let body = format!("_csrf={token}&next=%2F&username=admin.tik&password={PASSWORD}");
        let req = with_proto(Request::post("/sign-in"))
            .header(header::COOKIE, format!("kolokasi_signin={token}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.clone()))
            .unwrap();
        let r = app.clone().oneshot(req).await.unwrap();
        assert_eq!(r.status(), 303, "signed in");
        let session = r
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("kolokasi_session="))
            .unwrap();
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"),
            "{session}"
        );
        assert_eq!(session.contains("; Secure"), want_secure, "{session}");

        // The sign-in form itself is protected: without the cookie's token it is refused.
        let req = with_proto(Request::post("/sign-in"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        assert_eq!(app.oneshot(req).await.unwrap().status(), 403, "sign-in without its CSRF cookie");
    }
}
