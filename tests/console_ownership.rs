//! The console's ownership forms in a real browser (headless Chromium, as `tests/console.rs`):
//! an admin sees the names a request claims with where each stands against the lab's zones,
//! allows the zone apex and lets the DNS step adopt a record, each with a reason and audited
//! through the same service calls as the CLI and the API; a bad name comes back as an error
//! on the page; an operator sees no such forms and is refused when posting one; a form without
//! its CSRF token is refused before anything happens.
//!
//! Needs the lab (its DNS zones) and `apt-get install chromium chromium-driver`; never skips.

mod common;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::time::Duration;

use common::{SAMPLE_UNIT, fresh_db, lab_engine, requester, sample_form};
use kolokasi::domain::Fqdn;
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::secrets::Secret;
use kolokasi::service::NewUser;
use webdriver::Driver;

const PASSWORD: &str = "Kaltim-console-2026!";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_allows_the_apex_and_adopts_a_record_from_the_request_page() {
    let db = fresh_db(common::Db::Sqlite).await;
    let engine = lab_engine(common::service(&db).await);
    let svc = engine.service().clone();
    let root = Actor::new("root", Role::Admin).unwrap();
    for (username, role, unit) in [("admin.tik", Role::Admin, None), ("pengelola", Role::Operator, None), ("budi", Role::Requester, Some(SAMPLE_UNIT))] {
        let user = NewUser { username: username.into(), display_name: username.into(), role, unit: unit.map(str::to_string), password: Some(Secret::new(PASSWORD)) };
        svc.create_user(&root, user).await.unwrap();
    }
    // A request for the apex of the lab's zone: it needs an admin's leave.
    let apex: Fqdn = engine.env.drivers.dns["bind"].zones.forward[0].clone();
    let mut form = sample_form();
    form.domain = apex.clone();
    let id = svc.submit(&requester(), form).await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve_with_engine(engine.clone(), kolokasi::console::Options::default(), None, listener, std::future::pending()));
    let driver = Driver::start().await;
    let b = driver.browser().await;
    let http = reqwest::Client::new();
    let sign_in = |user: &'static str| {
        let (b, base) = (&b, &base);
        async move {
            b.goto(&format!("{base}/sign-in")).await;
            b.type_into("#username", user).await;
            b.type_into("#password", PASSWORD).await;
            b.click("#sign-in").await;
            b.wait_text("#me", Duration::from_secs(10), |t| t.starts_with(user)).await;
        }
    };
    let page = format!("{base}/requests/{id}");

    // The admin: the names, with the apex marked.
    sign_in("admin.tik").await;
    b.goto(&page).await;
    let names = b.text("#own-names").await;
    assert!(names.contains(apex.as_str()) && names.contains("apeks zona"), "{names}");
    assert!(names.contains(&format!("www.{apex}")), "the playbook's CNAME is claimed too: {names}");

    // A bad name comes back on the page as an error, and nothing is recorded.
    b.type_into("#allow-name", "bukan nama!!").await;
    b.type_into("#allow-reason", "uji").await;
    b.click("#do-allow-name").await;
    let flash = b.wait_text("#flash", Duration::from_secs(10), |_| true).await;
    assert!(flash.contains("Isian tidak valid"), "{flash}");

    // Allowed, with a reason: audited as the CLI and API do.
    b.goto(&page).await;
    b.type_into("#allow-name", apex.as_str()).await;
    b.type_into("#allow-reason", "situs utama pemprov").await;
    b.click("#do-allow-name").await;
    let flash = b.wait_text("#flash", Duration::from_secs(10), |_| true).await;
    assert!(flash.contains("Nama diizinkan"), "{flash}");
    // Adopting the A record found at the apex.
    b.type_into("#adopt-name", apex.as_str()).await;
    b.set_value("#adopt-type", "A").await;
    b.type_into("#adopt-reason", "rekaman lama milik dinas ini").await;
    b.click("#do-adopt-record").await;
    let flash = b.wait_text("#flash", Duration::from_secs(10), |_| true).await;
    assert!(flash.contains("Pengambilalihan rekaman diizinkan"), "{flash}");
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    let allow = audit.iter().find(|a| a.action == "request.allow_name").expect("the leave is audited");
    assert_eq!((allow.actor.as_str(), allow.reason.as_deref()), ("admin.tik", Some("situs utama pemprov")));
    assert_eq!(allow.after.as_ref().unwrap()["place"], "apex");
    let adopt = audit.iter().find(|a| a.action == "request.adopt_record").expect("the adoption is audited");
    assert_eq!((adopt.actor.as_str(), adopt.after.as_ref().unwrap()["kind"].as_str()), ("admin.tik", Some("A")));
    assert_eq!(audit.iter().filter(|a| a.action == "request.allow_name").count(), 1, "the bad name recorded nothing");

    // Without its CSRF token the form is refused before anything happens.
    let session = b.cookie("kolokasi_session").await.unwrap();
    let r = http
        .post(format!("{base}/requests/{id}/adopt-record"))
        .header("cookie", format!("kolokasi_session={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name={apex}&type=AAAA&reason=palsu"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    b.click("#sign-out").await;
    b.find("#sign-in").await;

    // An operator sees no ownership forms, and posting one (with a valid token) is refused.
    sign_in("pengelola").await;
    b.goto(&page).await;
    assert!(b.try_find("#ownership").await.is_none(), "only an admin gets the forms");
    let csrf = b.attr("input[name=_csrf]", "value").await.unwrap();
    let session = b.cookie("kolokasi_session").await.unwrap();
    let r = http
        .post(format!("{base}/requests/{id}/allow-name"))
        .header("cookie", format!("kolokasi_session={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}&name=www.{apex}&reason=saya+juga"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action.starts_with("request.allow_name") || a.action == "request.adopt_record").count(), 2, "nothing more recorded");
    b.quit().await;
}
