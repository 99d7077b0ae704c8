//! Requests and runs never disagree, tried as people use kolokasi: through `kolokasi serve`
//! (its own worker drives every run), the REST API and the console, on the real lab.
//!
//! - A withdrawal while the unit's server is awaited unwinds what the run did: the addresses
//!   are free again and the DNS server no longer answers the records.
//! - An operator's unwind from the API or the console is carried out by serve's worker, takes
//!   the request back to *approved*, and starting again runs the playbook anew.
//! - A worker killed in the middle of an unwind leaves it for the next worker, which ends it.
//! - A worker that dies makes `serve` exit non-zero.

mod common;
#[path = "support/served.rs"]
mod served;

use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::*;
use kolokasi::dns::{RecordKind, reverse_name};
use kolokasi::domain::RequestId;
use kolokasi::lifecycle::{Role, State};
use kolokasi::service::Service;
use serde_json::{Value, json};
use served::{run_of, run_status};

/// What the lab's devices and the store hold for a request: its active addresses and what the
/// authoritative DNS server answers for its name and their reverse names.
async fn held(svc: &Service, id: &RequestId) -> Value {
    let row = svc.store.request(id).await.unwrap();
    let drivers = lab_drivers();
    let dns = &drivers.dns["bind"].provider;
    let allocations = svc.store.allocations(Some(id.as_str()), None, 20).await.unwrap();
    let active: Vec<String> = allocations.iter().filter(|a| a.released_at.is_none()).map(|a| a.address.clone()).collect();
    let mut ptr = Vec::new();
    for a in &allocations {
        let mine: Vec<String> = dns
            .read(&reverse_name(a.address.parse().unwrap()), RecordKind::Ptr)
            .await
            .unwrap()
            .into_iter()
            .filter(|v| v.trim_end_matches('.') == row.form.domain.as_str())
            .collect();
        ptr.extend(mine);
    }
    json!({
        "addresses": active,
        "a": dns.read(&row.form.domain, RecordKind::A).await.unwrap(),
        "aaaa": dns.read(&row.form.domain, RecordKind::Aaaa).await.unwrap(),
        "ptr": ptr,
    })
}

fn nothing_held(h: &Value) -> bool {
    ["addresses", "a", "aaaa", "ptr"].iter().all(|k| h[k].as_array().is_some_and(Vec::is_empty))
}

async fn state(svc: &Service, id: &RequestId) -> State {
    svc.store.request(id).await.unwrap().state
}

async fn wait_state(svc: &Service, id: &RequestId, want: State) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while state(svc, id).await != want {
        assert!(Instant::now() < deadline, "{id} never became {want}: it is {}", state(svc, id).await);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

struct Setup {
    _lab: tokio::sync::MutexGuard<'static, ()>,
    db: TestDb,
    svc: Service,
    operator: String,
    admin: String,
}

async fn setup() -> Setup {
    let lab = lab_dns_lock().await;
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let operator = api_token(&svc, "pengelola", Role::Operator).await;
    let admin = api_token(&svc, "admin.tik", Role::Admin).await;
    Setup { _lab: lab, db, svc, operator, admin }
}

/// Approves a request and has the team start provisioning over the API; serve's worker runs it
/// to the hardware gate (approval notice, addresses, DNS written).
async fn started_and_waiting(s: &Setup, served: &served::Served) -> RequestId {
    let id = approved_request(&s.svc, sample_form()).await;
    let (status, body) = served.post(&s.operator, &format!("/api/v1/requests/{id}/events"), &json!({ "event": "start_provisioning" })).await;
    assert_eq!(status, 200, "{body}");
    served.wait_runs(&s.operator, id.as_str(), "the run to wait for the hardware", |r| run_status(r, "colocation") == "waiting").await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_while_the_server_is_awaited_frees_the_address_and_removes_the_records() {
    let s = setup().await;
    let served = served::serve(&s.db.url, &[]).await;
    let id = started_and_waiting(&s, &served).await;
    let before = held(&s.svc, &id).await;
    assert_eq!(before["addresses"].as_array().unwrap().len(), 2, "{before}");
    let v4 = before["addresses"].as_array().unwrap().iter().find(|a| !a.as_str().unwrap().contains(':')).unwrap().clone();
    assert_eq!(before["a"], json!([v4]), "the DNS server answers the request's address: {before}");
    assert_eq!(before["ptr"].as_array().unwrap().len(), 2, "{before}");

    let (status, body) = served.post(&s.admin, &format!("/api/v1/requests/{id}/events"), &json!({ "event": "withdraw", "reason": "OPD membatalkan" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "withdrawing", "the request waits for the unwind: {body}");
    wait_state(&s.svc, &id, State::Withdrawn).await;
    let after = held(&s.svc, &id).await;
    assert!(nothing_held(&after), "left behind after the withdrawal: {after}");
    let runs = served.get(&s.operator, &format!("/api/v1/requests/{id}/runs")).await;
    let run = run_of(&runs, "colocation").unwrap();
    assert_eq!(run["view"]["status"], "unwound");
    assert_eq!(run["allowed_actions"], json!([]), "a withdrawn request's run is closed");
    // The freed address goes to the next request.
    assert!(s.svc.store.capacity_usage().await.unwrap().units.is_empty(), "capacity released");
    // Controls on a closed run are refused with the reason.
    let (status, body) = served.post(&s.operator, &format!("/api/v1/requests/{id}/runs/colocation/control"), &json!({ "action": "retry", "reason": "x" })).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("withdrawn"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwinding_from_the_api_or_the_console_is_carried_out_and_provisioning_can_start_again() {
    let s = setup().await;
    let served = served::serve(&s.db.url, &[]).await;
    let id = started_and_waiting(&s, &served).await;
    let first = held(&s.svc, &id).await;

    // The API: the operator unwinds; serve's worker undoes everything; the request is approved again.
    let path = format!("/api/v1/requests/{id}/runs/colocation/control");
    let (status, body) = served.post(&s.admin, &path, &json!({ "action": "unwind" , "reason": "port salah" })).await;
    assert_eq!(status, 202, "{body}");
    wait_state(&s.svc, &id, State::Approved).await;
    assert!(nothing_held(&held(&s.svc, &id).await));
    let runs = served.get(&s.operator, &format!("/api/v1/requests/{id}/runs")).await;
    assert_eq!(run_status(&runs, "colocation"), "unwound");
    // A requester may not operate runs.
    let requester = api_token(&s.svc, "budi", Role::Requester).await;
    assert_eq!(served.post(&requester, &path, &json!({ "action": "unwind", "reason": "x" })).await.0, 403);

    // Starting again runs the playbook anew (a new generation of the same run).
    let (status, body) = served.post(&s.operator, &format!("/api/v1/requests/{id}/events"), &json!({ "event": "start_provisioning" })).await;
    assert_eq!(status, 200, "{body}");
    let runs = served.wait_runs(&s.operator, id.as_str(), "the restarted run to wait", |r| run_status(r, "colocation") == "waiting").await;
    assert_eq!(run_of(&runs, "colocation").unwrap()["view"]["generation"], 2);
    let second = held(&s.svc, &id).await;
    assert_eq!(second["a"].as_array().unwrap().len(), 1, "{second}");
    assert_eq!(first["aaaa"].as_array().unwrap().len(), 1);

    // The console: the operator signs in and presses "Batalkan semua".
    let password = kolokasi::secrets::Secret::new("sandi-operator-2026");
    let root = kolokasi::lifecycle::Actor::new("root", Role::Admin).unwrap();
    let user = kolokasi::service::NewUser { username: "op.console".into(), display_name: "Operator".into(), role: Role::Operator, unit: None, password: Some(password.clone()) };
    s.svc.create_user(&root, user).await.unwrap();
    let session = s.svc.console_sign_in("op.console", &password, "127.0.0.1", time::Duration::hours(1)).await.unwrap();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cookie = format!("kolokasi_session={}", session.token.expose());
    let page = browser.get(format!("{}/requests/{id}", served.base)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("value=\"unwind\"") && !page.contains("value=\"resolve\""), "the page offers the controls the run allows");
    let form = format!("_csrf={}&run={id}%2Fcolocation&step=&reason=dibatalkan+dari+konsol&control=unwind", session.csrf_token);
    let r = browser
        .post(format!("{}/requests/{id}/run", served.base))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    wait_state(&s.svc, &id, State::Approved).await;
    assert!(nothing_held(&held(&s.svc, &id).await));
    let audit = s.svc.store.audit_for_request(id.as_str()).await.unwrap();
    let unwinds: Vec<&str> = audit.iter().filter(|a| a.action == "run.unwind").map(|a| a.actor.as_str()).collect();
    assert_eq!(unwinds, ["admin.tik", "op.console"], "both unwinds are audited with who asked");

    // Nothing is left to undo: a withdrawal now ends at once.
    let (status, body) = served.post(&s.admin, &format!("/api/v1/requests/{id}/events"), &json!({ "event": "withdraw", "reason": "selesai" })).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("withdrawn")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_in_the_middle_of_an_unwind_leaves_it_to_the_next_worker() {
    require_test_hooks();
    let s = setup().await;
    // This server dies (abort, as SIGKILL) when it comes to undo the DNS records.
    let mut dying = served::serve(&s.db.url, &[("KOLOKASI_TEST_CRASH_AT", "dns:undo")]).await;
    let id = started_and_waiting(&s, &dying).await;
    let (status, body) = dying.post(&s.admin, &format!("/api/v1/requests/{id}/events"), &json!({ "event": "withdraw", "reason": "batal" })).await;
    assert_eq!(status, 200, "{body}");
    let died = tokio::task::spawn_blocking(move || {
        let status = dying.child.wait().unwrap();
        drop(dying);
        status
    })
    .await
    .unwrap();
    assert!(!died.success(), "the first server should have died in the unwind");
    assert_eq!(state(&s.svc, &id).await, State::Withdrawing);
    assert_eq!(s.svc.store.run(&format!("{id}/colocation")).await.unwrap().status, "unwinding");
    // The next server takes the unwind over once the lease expires, and ends it.
    let _next = served::serve(&s.db.url, &[]).await;
    wait_state(&s.svc, &id, State::Withdrawn).await;
    assert!(nothing_held(&held(&s.svc, &id).await));
    let events = s.svc.store.run_events(&format!("{id}/colocation")).await.unwrap();
    let dns_undos = events.iter().filter(|e| e.step_index == 3 && e.event == "undone").count();
    assert_eq!(dns_undos, 1, "the DNS step was undone once: {events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exits_non_zero_when_its_worker_dies() {
    require_test_hooks();
    let db = fresh_db(Db::Sqlite).await;
    let _svc = service(&db).await;
    let mut child = Process::new(env!("CARGO_BIN_EXE_kolokasi"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KOLOKASI_DATABASE_URL", &db.url)
        .env("KOLOKASI_MASTER_KEY", served::MASTER_KEY)
        .env("KOLOKASI_TEST_WORKER_PANIC", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        (status, err)
    })
    .await
    .unwrap();
    assert!(!status.success(), "serve must exit non-zero when its worker dies:\n{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(stderr.contains("the run worker stopped unasked"), "{stderr}");
}
