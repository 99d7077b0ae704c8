//! Sign-in abuse against a running server: parallel guesses cannot pass the limit (the attempt
//! is spent atomically in the store before the password is checked), the limit holds across two
//! replicas on one PostgreSQL, a limited account answers 429 with Retry-After, and an admin can
//! unlock an account an attacker keeps locked.

mod common;

use common::*;
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::secrets::Secret;
use kolokasi::service::{NewUser, Service, ServiceError};

const PASSWORD: &str = "sandi-admin-yang-panjang-2026";

async fn with_admin(svc: &Service) {
    let root = Actor::new("root", Role::Admin).unwrap();
    let new = NewUser { username: "admin.tik".into(), display_name: "Admin".into(), role: Role::Admin, unit: None, password: Some(Secret::new(PASSWORD)) };
    match svc.create_user(&root, new).await {
        Ok(_) | Err(ServiceError::Conflict(_)) => {}
        Err(e) => panic!("{e}"),
    }
}

/// A console on a real TCP port in front of `svc`.
async fn console(svc: &Service) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve(svc.clone(), listener, std::future::pending()));
    base
}

/// A sign-in POST through the console's form, with its double-submit CSRF cookie and token.
async fn sign_in_post(http: &reqwest::Client, base: &str, username: &str, password: &str) -> reqwest::RequestBuilder {
    let page = http.get(format!("{base}/sign-in")).send().await.unwrap();
    let pre = page.headers()["set-cookie"].to_str().unwrap().to_string();
    let token = pre.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    http.post(format!("{base}/sign-in"))
        .header("cookie", format!("kolokasi_signin={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={token}&next=%2F&username={username}&password={password}"))
}

/// One sign-in of admin.tik: the status and any Retry-After.
async fn sign_in(http: &reqwest::Client, base: &str, password: &str) -> (u16, Option<String>) {
    let r = sign_in_post(http, base, "admin.tik", password).await.send().await.unwrap();
    (r.status().as_u16(), r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string()))
}

/// `n` wrong-password sign-ins at once against each of `bases`: how many were checked (401)
/// and how many refused by the limit (429).
async fn burst(bases: &[String], n: usize) -> (usize, usize) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut all = Vec::new();
    for base in bases {
        for _ in 0..n {
            let (http, base) = (http.clone(), base.clone());
            all.push(tokio::spawn(async move { sign_in(&http, &base, "salah").await }));
        }
    }
    let mut counts = (0, 0);
    for t in all {
        match t.await.unwrap() {
            (401, _) => counts.0 += 1,
            (429, Some(after)) => {
                assert!(after.parse::<u64>().unwrap() >= 1);
                counts.1 += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    counts
}

async fn parallel_guesses_cannot_pass_the_limit(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    with_admin(&svc).await;
    let base = console(&svc).await;
    let (checked, refused) = burst(std::slice::from_ref(&base), 20).await;
    assert_eq!((checked, refused), (5, 15), "exactly the burst of 5 is checked, however parallel");
    // Limited now, also with the right password (from the same address, for the same account).
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(sign_in(&http, &base, PASSWORD).await.0, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_cannot_pass_the_limit_sqlite() {
    parallel_guesses_cannot_pass_the_limit(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_cannot_pass_the_limit_postgres() {
    parallel_guesses_cannot_pass_the_limit(Db::Postgres).await;
}

/// Two replicas (two processes' worth of connections and limiters) on one PostgreSQL share one
/// budget: 10 guesses at each at once still check only 5 in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_one_limit() {
    let db = fresh_db(Db::Postgres).await;
    let one = service(&db).await;
    with_admin(&one).await;
    let two = service(&db).await;
    let bases = [console(&one).await, console(&two).await];
    let (checked, refused) = burst(&bases, 10).await;
    assert_eq!((checked, refused), (5, 15));
}

/// An attacker guessing from many addresses keeps the account locked; the right password from
/// a fresh address is refused too — until an admin unlocks the account (audited). A requester
/// may not unlock.
#[tokio::test]
async fn an_admin_unlocks_an_account_kept_locked() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    with_admin(&svc).await;
    for i in 0..8 {
        let _ = svc.authenticate_password_from("admin.tik", &Secret::new("salah"), &format!("10.0.0.{i}")).await;
    }
    let locked = svc.authenticate_password_from("admin.tik", &Secret::new(PASSWORD), "10.9.9.9").await.unwrap_err();
    let ServiceError::RateLimited(l) = locked else { panic!("{locked:?}") };
    assert!(l.retry_after.as_secs() <= 72, "the wait has a ceiling: {l:?}");
    assert!(svc.unlock_user(&requester(), "admin.tik").await.is_err());
    assert!(svc.unlock_user(&admin(), "admin.tik").await.unwrap());
    let actor = svc.authenticate_password_from("admin.tik", &Secret::new(PASSWORD), "10.9.9.9").await.unwrap();
    assert_eq!(actor.name, "admin.tik");
    let audit = svc.store.audit_recent(20).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "user.unlock"), "the unlock is audited");
}

/// A console behind proxies in `trusted` (a real TCP server: the peer is 127.0.0.1).
async fn console_behind(svc: &Service, trusted: kolokasi::auth::TrustedProxies) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let options = kolokasi::console::Options { trusted_proxies: trusted, ..Default::default() };
    tokio::spawn(kolokasi::api::serve_with_console(svc.clone(), options, listener, std::future::pending()));
    base
}

/// Wrong-password sign-ins with the given `X-Forwarded-For`: how many were checked (401).
async fn guesses(base: &str, forwarded: &[String]) -> usize {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut checked = 0;
    for xff in forwarded {
        let r = sign_in_post(&http, base, &format!("nobody{}", rand_name()), "salah")
            .await
            .header("x-forwarded-for", xff)
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            401 => checked += 1,
            429 => {}
            other => panic!("{other}"),
        }
    }
    checked
}

fn rand_name() -> u32 {
    rand::random()
}

/// Forwarded headers from a peer that is not a trusted proxy are ignored: a guesser cannot buy
/// fresh budgets by inventing addresses. From a trusted proxy, the right-most untrusted hop is
/// the client: spoofing the left-most changes nothing, and two clients behind one ingress have
/// a budget each (not one shared lockout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_are_believed_only_from_trusted_proxies() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let spoofed: Vec<String> = (0..8).map(|i| format!("203.0.113.{i}")).collect();
    let untrusted = console_behind(&svc, kolokasi::auth::TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()])).await;
    assert_eq!(guesses(&untrusted, &spoofed).await, 5, "the peer's budget, whatever the header says");

    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let ingress = console_behind(&svc, kolokasi::auth::proxy::loopback()).await;
    let one_client: Vec<String> = (0..8).map(|i| format!("6.6.6.{i}, 198.51.100.7")).collect();
    assert_eq!(guesses(&ingress, &one_client).await, 5, "spoofing the left-most hop buys nothing");
    let other_client = vec!["198.51.100.8".to_string(); 3];
    assert_eq!(guesses(&ingress, &other_client).await, 3, "another client behind the same ingress has its own budget");
}
