//! Crash safety on the real lab: the `kolokasi` process is killed while it provisions a request
//! — at every step boundary deterministically, and with SIGKILL at random moments 20 times —
//! then restarted; every time the end state (addresses, DNS records, lifecycle) must equal that
//! of a clean run, with no duplicate addresses or records.

mod common;

use std::process::{Command as Process, Stdio};
use std::time::Duration;

use common::*;
use kolokasi::dns::{RecordKind, reverse_name};
use kolokasi::domain::{Fqdn, HardwareReceipt, RequestForm};
use kolokasi::engine::Engine;
use kolokasi::lifecycle::State;
use kolokasi::service::Command;
use rand::Rng;
use serde_json::{Value, json};

/// A fresh SQLite store holding one request ready to provision (hardware already recorded).
async fn prepared(form: RequestForm) -> (TestDb, String) {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let registry = kolokasi::actions::builtin();
    let playbooks = Engine::load_playbooks(Some(std::path::Path::new("playbooks")), &registry).unwrap();
    let engine = Engine::new(svc, Default::default(), registry, playbooks).unwrap();
    let svc = engine.service();
    let id = approved_request(svc, form).await;
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let receipt = HardwareReceipt { serial_number: text("SN-C"), type_brand: text("Lenovo SR630"), switch_port: Some(text("r1p8")), host_key: None };
    svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    (db, id.to_string())
}

fn kolokasi(db: &TestDb, args: &[&str], crash_at: Option<&str>) -> std::process::Child {
    require_test_hooks();
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_kolokasi"));
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KOLOKASI_DATABASE_URL", &db.url)
        // The tests' master key ([42; 32]): the audit chain is keyed, writes need it.
        .env("KOLOKASI_MASTER_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
        .env("KOLOKASI_USE_LAB", "1")
        .env("KOLOKASI_LEASE_SECONDS", "1")
        .env("KOLOKASI_ACTOR", "pengelola")
        .env("KOLOKASI_ROLE", "operator")
        .env_remove("KOLOKASI_TEST_CRASH_AT")
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("KOLOKASI_TEST_VERBOSE").is_some() { Stdio::inherit() } else { Stdio::null() });
    if let Some(at) = crash_at {
        cmd.env("KOLOKASI_TEST_CRASH_AT", at);
    }
    cmd.spawn().unwrap()
}

/// Runs `run start` until it exits 0 (a run whose lease a killed process held is taken over
/// once the lease expires).
async fn finish(db: &TestDb, id: &str) {
    for _ in 0..20 {
        let mut c = kolokasi(db, &["run", "start", id], None);
        if tokio::task::spawn_blocking(move || c.wait().unwrap()).await.unwrap().success() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("the run of {id} did not finish after a crash");
}

async fn world(db: &TestDb, id: &str, domain: &Fqdn) -> Value {
    let svc = service(db).await;
    let rid = kolokasi::domain::RequestId::parse(id).unwrap();
    let allocations = svc.store.allocations(Some(id), None, 100).await.unwrap();
    let active: Vec<String> = allocations.iter().filter(|a| a.released_at.is_none()).map(|a| format!("{} {}", a.purpose, a.address)).collect();
    let drivers = lab_drivers();
    let p = &drivers.dns["bind"].provider;
    let www = Fqdn::parse(&format!("www.{domain}")).unwrap();
    let mut ptr = vec![];
    for a in &allocations {
        let values = p.read(&reverse_name(a.address.parse().unwrap()), RecordKind::Ptr).await.unwrap();
        ptr.push(json!([a.address, values]));
    }
    let sw = &drivers.switches["sw-r01"];
    let port = sw.read(&sw.port("r1p8").unwrap()).await.unwrap();
    let mut rules: Vec<String> =
        drivers.firewalls["fw-1"].rules().await.unwrap().into_iter().filter(|r| r.comment.request.as_str() == id).map(|r| r.comment.kind).collect();
    rules.sort();
    let notices: Vec<Value> = kolokasi::notify::outbox::for_request(&svc.store, id)
        .await
        .unwrap()
        .iter()
        .map(|n| json!([n.event, n.channel, n.status, mails(&n.message_id) >= 1]))
        .collect();
    json!({
        "notices": notices,
        // Each iteration has its own request number; the world is compared without it.
        "switch": {
            "vlans": port.vlans,
            "description": port.description.map(|d| d.replace(id, "REQUEST")),
            "request": port.request.map(|r| if r.as_str() == id { "REQUEST".to_string() } else { r.as_str().to_string() }),
        },
        "firewall": rules,
        "state": svc.request(&admin(), &rid).await.unwrap().state,
        "addresses": active,
        "history": allocations.len(),
        "a": p.read(domain, RecordKind::A).await.unwrap(),
        "aaaa": p.read(domain, RecordKind::Aaaa).await.unwrap(),
        "www": p.read(&www, RecordKind::Cname).await.unwrap(),
        "ptr": ptr,
    })
}

/// How many messages carrying this Message-ID the lab's SMTP sink received.
fn mails(message_id: &str) -> usize {
    let dir = kolokasi::lab::Lab::load().unwrap().smtp.unwrap().maildir;
    std::fs::read_dir(dir).unwrap().filter(|e| std::fs::read(e.as_ref().unwrap().path()).is_ok_and(|b| String::from_utf8_lossy(&b).contains(message_id))).count()
}

/// Each notice of the request reached the sink exactly once.
async fn one_mail_per_notice(db: &TestDb, id: &str, at: &str) {
    let notices = kolokasi::notify::outbox::for_request(&service(db).await.store, id).await.unwrap();
    assert_eq!(notices.len(), 2, "after a crash at {at}: {notices:?}");
    for n in notices {
        assert_eq!(mails(&n.message_id), 1, "after a crash at {at}: {} sent {} times", n.event, mails(&n.message_id));
    }
}

/// `run start` killed at `at` (step:phase), then run to its end by fresh processes.
async fn crash_then_finish(db: &TestDb, id: &str, at: &str) {
    let mut c = kolokasi(db, &["run", "start", id], Some(at));
    let status = tokio::task::spawn_blocking(move || c.wait().unwrap()).await.unwrap();
    assert!(!status.success(), "the process should have died at {at}");
    finish(db, id).await;
}

/// Files and approves the Form Pencabutan of a live request, so that its decommission run exists.
async fn revoke(db: &TestDb, id: &str) {
    for args in [
        vec!["request", "revoke", id, "--reason", "test clean-up", "--actor", "adm", "--role", "admin"],
        vec!["request", "approve-revocation", id, "--actor", "adm", "--role", "admin"],
    ] {
        let mut c = kolokasi(db, &args, None);
        assert!(tokio::task::spawn_blocking(move || c.wait().unwrap()).await.unwrap().success(), "{args:?}");
    }
}

/// Decommissions the live request (so the next iteration starts from nothing) and checks that
/// nothing is left on the devices.
async fn clean_up(db: &TestDb, id: &str, domain: &Fqdn) {
    revoke(db, id).await;
    finish(db, id).await;
    let w = world(db, id, domain).await;
    assert_eq!(w["state"], json!(State::Decommissioned), "{w}");
    let clean = w["addresses"].as_array().unwrap().is_empty()
        && w["a"] == json!([])
        && w["www"] == json!([])
        && w["firewall"] == json!([])
        && w["switch"]["request"].is_null()
        && w["switch"]["vlans"]["tag"] == json!(1);
    assert!(clean, "unwind left {w}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_anywhere_the_run_resumes_to_the_clean_end_state() {
    let _lab = lab_dns_lock().await;
    reset_lab_port("r1p8");
    let form = sample_form();
    let domain = form.domain.clone();

    // The clean run.
    let (db, id) = prepared(form.clone()).await;
    finish(&db, &id).await;
    let clean = world(&db, &id, &domain).await;
    assert_eq!(clean["state"], json!(State::Active));
    assert_eq!(clean["addresses"].as_array().unwrap().len(), 2);
    assert_eq!(clean["a"], json!(["198.51.100.140"]));
    assert_eq!(clean["history"], 2, "no address was allocated twice");
    assert_eq!(clean["switch"]["vlans"]["tag"], json!(120));
    assert_eq!(clean["firewall"].as_array().unwrap().len(), 3);
    assert_eq!(clean["notices"], json!([["approved", "email", "sent", true], ["live", "email", "sent", true]]));
    clean_up(&db, &id, &domain).await;

    // Deterministic crash points: before and after every step's side effect.
    let steps = ["approval-notice", "address-v4", "address-v6", "dns", "hardware", "switch", "firewall", "inspect", "completion-report"];
    let mut crashes = 0;
    for step in steps {
        for phase in ["before", "after"] {
            let (db, id) = prepared(form.clone()).await;
            let at = format!("{step}:{phase}");
            crash_then_finish(&db, &id, &at).await;
            crashes += 1;
            assert_eq!(world(&db, &id, &domain).await, clean, "after a crash at {at}");
            one_mail_per_notice(&db, &id, &at).await;
            clean_up(&db, &id, &domain).await;
        }
    }

    // Decommissioning killed before and after each of its steps' side effects ends as a clean
    // decommission does.
    let (db, id) = prepared(form.clone()).await;
    finish(&db, &id).await;
    clean_up(&db, &id, &domain).await;
    let decommissioned = world(&db, &id, &domain).await;
    for step in ["remove-firewall", "restore-switch", "remove-dns", "release-v6", "release-v4"] {
        for phase in ["before", "after"] {
            let (db, id) = prepared(form.clone()).await;
            finish(&db, &id).await;
            revoke(&db, &id).await;
            let at = format!("{step}:{phase}");
            crash_then_finish(&db, &id, &at).await;
            crashes += 1;
            assert_eq!(world(&db, &id, &domain).await, decommissioned, "after a crash at decommission {at}");
        }
    }

    // SIGKILL at random moments, sometimes twice in a row.
    let mut rng = rand::rng();
    for round in 0..20 {
        let (db, id) = prepared(form.clone()).await;
        for _ in 0..rng.random_range(1..=2) {
            let mut c = kolokasi(&db, &["run", "start", &id], None);
            tokio::time::sleep(Duration::from_millis(rng.random_range(5..500))).await;
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
            crashes += 1;
        }
        finish(&db, &id).await;
        assert_eq!(world(&db, &id, &domain).await, clean, "after random kills in round {round}");
        clean_up(&db, &id, &domain).await;
    }
    assert!(crashes >= 48);
}
