//! Several `kolokasi serve` processes sharing runs on PostgreSQL: one dies mid-run (killed at a
//! step), the other takes the run over once the lease expires and finishes it, without the
//! step running twice at once; SIGTERM stops a server cleanly.

mod common;

use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::*;
use kolokasi::domain::HardwareReceipt;
use kolokasi::engine::Engine;
use kolokasi::lifecycle::State;
use kolokasi::service::Command;

fn serve(db_url: &str, crash_at: Option<&str>) -> Child {
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_kolokasi"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KOLOKASI_DATABASE_URL", db_url)
        // The tests' master key ([42; 32]): the audit chain is keyed, writes need it.
        .env("KOLOKASI_MASTER_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
        .env("KOLOKASI_LEASE_SECONDS", "2")
        .env("KOLOKASI_USE_LAB", "1")
        .env("KOLOKASI_LOG", "info")
        .env_remove("KOLOKASI_TEST_CRASH_AT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(at) = crash_at {
        cmd.env("KOLOKASI_TEST_CRASH_AT", at);
    }
    cmd.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_worker_finishes_the_run_of_a_worker_that_died() {
    let _lab = lab_dns_lock().await;
    reset_lab_port("r1p2");
    let db = fresh_db(Db::Postgres).await;
    let svc = service(&db).await;
    let id = approved_request(&svc, sample_form()).await;
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap_or_else(|e| panic!("{e:?}"));
    // No run yet: this service has no playbook definitions; create it as the CLI would.
    let registry = kolokasi::actions::builtin();
    let playbooks = Engine::load_playbooks(Some(std::path::Path::new("playbooks")), &registry).unwrap();
    let engine = Engine::new(svc.clone(), Default::default(), registry, playbooks).unwrap();
    let svc = engine.service().clone();
    let v6 = engine.playbooks["colocation"].steps.iter().position(|s| s.name == "address-v6").unwrap() as i64;
    let receipt = HardwareReceipt { serial_number: text("SN-9"), type_brand: text("HPE DL360"), switch_port: Some(text("r1p2")), host_key: None };
    let mut w = svc.store.write().await.unwrap();
    let run = w.create_run(id.as_str(), "colocation", &kolokasi::engine::definitions(engine.playbooks.values())["colocation"]).await.unwrap();
    w.commit().await.unwrap();
    svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();

    // Worker A dies after doing address-v6's work but before recording it.
    let mut a = serve(&db.url, Some("address-v6:after"));
    let status = tokio::task::spawn_blocking(move || a.wait().unwrap()).await.unwrap();
    assert!(!status.success(), "worker A was meant to die");
    let events = svc.store.run_events(&run).await.unwrap();
    let a_started = events.iter().find(|e| e.step_index == v6 && e.event == "started").expect("A started address-v6").clone();
    assert!(!events.iter().any(|e| e.step_index == v6 && e.event == "succeeded"));

    // Worker B takes over after the lease (2 s) expires.
    let mut b = serve(&db.url, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if svc.request(&admin(), &id).await.unwrap().state == State::Active {
            break;
        }
        assert!(Instant::now() < deadline, "worker B did not finish the run");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = Process::new("kill").args(["-TERM", &b.id().to_string()]).status();
    let out = tokio::task::spawn_blocking(move || {
        let s = b.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(b.stderr.as_mut().unwrap(), &mut err).unwrap();
        (s, err)
    })
    .await
    .unwrap();
    assert!(out.0.success(), "SIGTERM stops serve cleanly: {}", out.1);
    assert!(out.1.contains("stopped"));

    let events = svc.store.run_events(&run).await.unwrap();
    let b_done = events.iter().find(|e| e.step_index == v6 && e.event == "succeeded").unwrap();
    assert_ne!(b_done.actor, a_started.actor, "another worker finished the step");
    // A renews its 2 s lease every third of it, so its last renewal came at most 2/3 s before it
    // started the step: the lease ran out no earlier than 4/3 s after that start.
    assert!(
        b_done.at - a_started.at >= time::Duration::milliseconds(2000 - 2000 / 3),
        "B waited for A's lease to expire: {} after A started the step",
        b_done.at - a_started.at
    );
    // The step's work was not done twice: still exactly one address per purpose.
    let active = svc.store.allocations(Some(id.as_str()), None, 10).await.unwrap();
    assert_eq!(active.iter().filter(|a| a.released_at.is_none()).count(), 2, "{active:?}");
    assert_eq!(svc.store.run(&run).await.unwrap().status, "succeeded");

    // Leave the lab as found: undo the run (switch port, firewall, DNS, addresses).
    // The request is live: its Form Pencabutan decommissions it.
    let engine = Engine::new(svc.clone(), lab_drivers(), kolokasi::actions::builtin(), engine.playbooks.values().cloned().collect()).unwrap();
    let svc = engine.service();
    let revocation = kolokasi::domain::Revocation { reasons: vec![text("uji selesai")], effective: None, approved_by: None };
    svc.apply(&admin(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = engine.drive(&Engine::run_id(id.as_str(), "decommission"), &|_| {}).await.unwrap();
    assert_eq!(view.status, kolokasi::engine::RunStatus::Succeeded);
}
