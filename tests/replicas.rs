//! Two `kolokasi serve` replicas on PostgreSQL, started with the settings of the Kubernetes
//! manifests (deploy/kubernetes/configmap.yaml: lease, worker, JSON logs), share a batch of
//! runs; one is killed with SIGKILL in the middle of a step; the survivor takes that run over
//! when its lease expires and finishes every run, each step's work done once.

mod common;
#[path = "support/quick_playbooks.rs"]
mod quick_playbooks;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::*;

const RUNS: usize = 6;

fn manifest_settings() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes/configmap.yaml")).unwrap();
    let v: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    serde_json::from_value(v["data"].clone()).unwrap()
}

/// A `kolokasi serve` process, killed and reaped if the test ends (or fails) without stopping it.
struct Replica(Option<Child>);

impl Replica {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("still ours")
    }
    fn id(&self) -> u32 {
        self.0.as_ref().expect("still ours").id()
    }
    fn into_child(mut self) -> Child {
        self.0.take().expect("still ours")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn replica(db_url: &str, playbooks: &std::path::Path, settings: &BTreeMap<String, String>) -> Replica {
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_kolokasi"));
    cmd.args(["serve"]).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in settings {
        cmd.env(k, v);
    }
    // What differs from a pod: the address (two on one host), the files (no mounts here).
    cmd.env("KOLOKASI_LISTEN", "127.0.0.1:0")
        .env("KOLOKASI_DATABASE_URL", db_url)
        .env("KOLOKASI_PLAYBOOK_DIR", playbooks)
        .env_remove("KOLOKASI_INVENTORY_FILE")
        .env_remove("KOLOKASI_MASTER_KEY_FILE")
        .env("KOLOKASI_MASTER_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
        // Each run's middle step takes 1.5 s, so a replica is always caught inside a step.
        .env("KOLOKASI_TEST_SLOW_STEP", "address-v6:1500")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Replica(Some(cmd.spawn().unwrap()))
}

fn owner(child: &Replica) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "kolokasi".into());
    format!("{host}-{}", child.id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_runs_and_survive_one_being_killed() {
    let settings = manifest_settings();
    let lease = Duration::from_secs(settings["KOLOKASI_LEASE_SECONDS"].parse().unwrap());
    assert_eq!(settings["KOLOKASI_WORKER"], "true");

    let db = fresh_db(Db::Postgres).await;
    let third = "  - name: address-mgmt\n    action: allocate_address\n    with:\n      pool: dc-v4\n      purpose: mgmt-v4\n";
    let playbooks = quick_playbooks::dir(&quick_playbooks::colocation(third));
    let engine = quick_playbooks::engine(service(&db).await, playbooks.path());
    let store = engine.service().store.clone();
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        runs.push(quick_playbooks::started_run(&engine, sample_form()).await.1);
    }

    let mut a = replica(&db.url, playbooks.path(), &settings);
    let b = replica(&db.url, playbooks.path(), &settings);
    let (owner_a, owner_b) = (owner(&a), owner(&b));

    // Kill A with SIGKILL while it is inside a step (started, not finished).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (victim, killed_at) = 'found: loop {
        for run in &runs {
            let events = store.run_events(run).await.unwrap();
            let open = events.iter().find(|e| e.actor == owner_a && e.event == "started" && !events.iter().any(|d| d.step_index == e.step_index && d.event == "succeeded"));
            if open.is_some() {
                a.child().kill().unwrap();
                let killed_at = Instant::now();
                a.child().wait().unwrap();
                break 'found (run.clone(), killed_at);
            }
        }
        assert!(Instant::now() < deadline, "replica A never started a step");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // B finishes every run, A's after A's lease expires.
    let deadline = Instant::now() + lease + Duration::from_secs(60);
    loop {
        let mut done = 0;
        for run in &runs {
            done += usize::from(store.run(run).await.unwrap().status == "succeeded");
        }
        if done == RUNS {
            break;
        }
        assert!(Instant::now() < deadline, "only {done} of {RUNS} runs finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let finished_at = killed_at.elapsed();
    assert!(Process::new("kill").args(["-TERM", &b.id().to_string()]).status().unwrap().success());
    let mut b = b.into_child();
    let status = tokio::task::spawn_blocking(move || b.wait().unwrap()).await.unwrap();
    assert!(status.success(), "B stops cleanly on SIGTERM");

    // The run A held: the steps A left open (several run at once) were taken over by B, not
    // before A's lease ran out; the ones A finished before it was killed stay A's.
    let events = store.run_events(&victim).await.unwrap();
    let a_left: Vec<_> = events
        .iter()
        .filter(|e| e.actor == owner_a && e.event == "started")
        .filter(|e| !events.iter().any(|d| d.step_index == e.step_index && d.event == "succeeded" && d.actor == owner_a))
        .collect();
    assert!(!a_left.is_empty(), "A was killed with a step open: {events:?}");
    for a_open in a_left {
        let b_done = events.iter().find(|e| e.step_index == a_open.step_index && e.event == "succeeded").unwrap();
        assert_eq!(b_done.actor, owner_b);
        let waited = b_done.at - a_open.at;
        assert!(waited >= time::Duration::try_from(lease).unwrap() - time::Duration::seconds(2), "B took A's run over after {waited} (lease {lease:?})");
    }
    assert!(finished_at < lease + Duration::from_secs(45), "took {finished_at:?}");

    // Both replicas worked; every step succeeded exactly once; every address is held once.
    let mut workers = BTreeSet::new();
    for run in &runs {
        let events = store.run_events(run).await.unwrap();
        for step in 0..3 {
            assert_eq!(events.iter().filter(|e| e.step_index == step && e.event == "succeeded").count(), 1, "{run} step {step}: {events:?}");
        }
        workers.extend(events.iter().filter(|e| e.event == "succeeded").map(|e| e.actor.clone()));
        let request = run.split('/').next().unwrap();
        let held: Vec<_> = store.allocations(Some(request), None, 10).await.unwrap().into_iter().filter(|a| a.released_at.is_none()).collect();
        assert_eq!(held.len(), 3, "{run}: {held:?}");
    }
    assert!(workers.contains(&owner_b), "{workers:?}");
    let all = store.allocations(None, None, 1000).await.unwrap();
    let distinct: BTreeSet<_> = all.iter().filter(|a| a.released_at.is_none()).map(|a| a.address.clone()).collect();
    assert_eq!(distinct.len(), RUNS * 3, "no address handed out twice");
}
