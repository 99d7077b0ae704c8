//! `kolokasi serve` as the platform runs it: SIGTERM while a step is in progress ends the step,
//! releases the run's lease and exits 0 well within the grace period, and the run resumes in
//! another worker at once; with `log_format: json` every line on stderr is a JSON object and
//! the worker's lines carry the run's span.

mod common;
#[path = "support/quick_playbooks.rs"]
mod quick_playbooks;

use std::io::Read;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_step_in_hand_releases_the_lease_and_exits_0() {
    let db = fresh_db(Db::Sqlite).await;
    let third = "  - name: address-mgmt\n    action: allocate_address\n    with:\n      pool: dc-v4\n      purpose: mgmt-v4\n";
    let playbooks = quick_playbooks::dir(&quick_playbooks::colocation(third));
    let engine = quick_playbooks::engine(service(&db).await, playbooks.path());
    let (_, run) = quick_playbooks::started_run(&engine, sample_form()).await;
    let store = &engine.service().store;

    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("kolokasi.yaml");
    std::fs::write(&config, "log_format: json\nlease_seconds: 30\n").unwrap();
    let mut child = Process::new(env!("CARGO_BIN_EXE_kolokasi"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("KOLOKASI_DATABASE_URL", &db.url)
        .env("KOLOKASI_MASTER_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
        .env("KOLOKASI_PLAYBOOK_DIR", playbooks.path())
        .env("KOLOKASI_LOG", "info")
        // address-v6 takes 3 s, as a slow device would: SIGTERM arrives in the middle of it.
        .env("KOLOKASI_TEST_SLOW_STEP", "address-v6:3000")
        .env_remove("KOLOKASI_LOG_FORMAT")
        .env_remove("KOLOKASI_TEST_CRASH_AT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = store.run_events(&run).await.unwrap();
        if events.iter().any(|e| e.step_index == 1 && e.event == "started") {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("serve exited early ({status:?}):\n{err}");
        }
        assert!(Instant::now() < deadline, "serve did not start the run: {events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(store.run(&run).await.unwrap().lease_owner.is_some(), "the worker holds the lease while it works");
    let signalled = Instant::now();
    assert!(Process::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status, err)
    })
    .await
    .unwrap();
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status:?}; stderr:\n{stderr}");
    // The manifests give 120 s (Kubernetes) and TimeoutStopSec=120 (systemd); the step in hand
    // had under 3 s to go.
    assert!(took < Duration::from_secs(10), "took {took:?} to stop");

    // The step in hand finished and was recorded; nothing after it started; the lease is free.
    let events = store.run_events(&run).await.unwrap();
    assert!(events.iter().any(|e| e.step_index == 1 && e.event == "succeeded"), "{events:?}");
    assert!(!events.iter().any(|e| e.step_index == 2), "no step started after SIGTERM: {events:?}");
    let row = store.run(&run).await.unwrap();
    assert_eq!((row.lease_owner.as_deref(), row.lease_until), (None, None), "the lease was released");
    assert_eq!(row.status, "running");

    // JSON logs: every line is an object; the worker's lines carry the run's span.
    let mut in_span = 0;
    for line in stderr.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string() && v["fields"]["message"].is_string(), "{line}");
        if v["span"]["run"] == run.as_str() {
            in_span += 1;
        }
    }
    assert!(in_span >= 2, "no step lines inside the run's span:\n{stderr}");
    assert!(stderr.contains("\"step attempt ended\""), "{stderr}");
    assert!(stderr.contains("no new runs are claimed") && stderr.contains("\"stopped\""), "{stderr}");

    // Another worker takes the run over at once (no lease to wait for) and finishes it.
    let started = Instant::now();
    let view = engine.drive(&run, &|_| {}).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(view.status, kolokasi::engine::RunStatus::Succeeded);
    assert!(started.elapsed() < Duration::from_secs(5));
    let allocations = store.allocations(Some(run.split('/').next().unwrap()), None, 10).await.unwrap();
    assert_eq!(allocations.len(), 3, "each address allocated once: {allocations:?}");
}
