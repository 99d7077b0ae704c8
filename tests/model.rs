//! Model-based test of requests and runs under `kolokasi serve` on the real lab, on SQLite and
//! PostgreSQL: random sequences (seeded; the seed is printed, `KOLOKASI_MODEL_SEED` replays it)
//! of SOP commands, hardware receipts (some naming a port the switch does not have, so the run
//! fails), run controls (retry, skip, unwind), withdrawals, revocations, and the serve process
//! killed (SIGKILL) or restarted (SIGTERM) in between. Several sequences run at once.
//!
//! After every sequence, once its runs rest, the invariants hold:
//! - no call was answered 5xx; refused calls changed nothing that a later check would see;
//! - what the store says is what the devices hold: the DNS server answers the request's name
//!   and reverse names, the switch port carries the request, and the firewall has its rules
//!   exactly while the run log says a step did that work and nothing undid it;
//! - a request in a final state holds nothing: no active address, record, port or rule;
//! - every request that is not final has an allowed next action (a lifecycle command someone
//!   may give, or an action its run allows).
//!
//! `KOLOKASI_MODEL_SEQUENCES` sets the number of sequences per database (default 100, so 200 in
//! CI); `deploy/model-nightly.sh` runs more.

mod common;
#[path = "support/served.rs"]
mod served;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use kolokasi::dns::{RecordKind, reverse_name};
use kolokasi::domain::{RequestId, RequestKind};
use kolokasi::lifecycle::{EventKind, Role, State, next_state};
use kolokasi::service::Service;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use served::Served;
use tokio::sync::RwLock;

on_both_databases!(random_sequences_keep_store_and_devices_in_agreement);

/// Sequences at once, each on a switch port of its own.
const SLOTS: usize = 4;

struct Tokens {
    admin: String,
    operator: String,
    requester: String,
    head: String,
}

/// The serve process the sequences talk to; replaced when the model kills or restarts it.
struct World {
    db_url: String,
    serve: RwLock<Served>,
    tokens: Tokens,
    svc: Service,
}

impl World {
    async fn post(&self, token: &str, path: &str, body: Value) -> u16 {
        let s = self.serve.read().await;
        let (status, reply) = s.post(token, path, &body).await;
        assert!(status < 500, "POST {path} {body} answered {status}: {reply}");
        status
    }

    async fn runs(&self, id: &RequestId) -> Value {
        let s = self.serve.read().await;
        s.get(&self.tokens.operator, &format!("/api/v1/requests/{id}/runs")).await
    }

    /// SIGKILL (crash) or SIGTERM (restart) the server, then start a new one on the same store.
    async fn bounce(&self, kill: bool) {
        let mut s = self.serve.write().await;
        let pid = s.child.id().to_string();
        let signal = if kill { "-KILL" } else { "-TERM" };
        std::process::Command::new("kill").args([signal, &pid]).status().unwrap();
        let _ = s.child.wait();
        *s = served::serve(&self.db_url, &[]).await;
    }
}

/// One step of a sequence.
#[derive(Debug, Clone, Copy)]
enum Op {
    Verify,
    Capacity,
    CompleteForm,
    Approve,
    Reject,
    Start,
    Hardware { good_port: bool },
    Withdraw,
    Revoke,
    ApproveRevocation,
    Retry,
    Skip,
    Unwind,
}

/// The next command: most of the time the one the SOP expects in the request's state, so that
/// sequences reach the devices; otherwise any command at all (often refused, which must change
/// nothing).
fn pick(rng: &mut StdRng, state: State) -> Op {
    use Op::*;
    let expected = match state {
        State::Submitted => Some(Verify),
        State::Verified => Some(Capacity),
        State::CapacityConfirmed => Some(CompleteForm),
        State::FormCompleted => Some(if rng.random_bool(0.9) { Approve } else { Reject }),
        State::Approved => Some(Start),
        State::AwaitingHardware => Some(Hardware { good_port: rng.random_bool(0.8) }),
        State::Provisioning | State::Decommissioning => Some([Retry, Skip, Unwind, Retry][rng.random_range(0..4)]),
        State::Active => Some(Revoke),
        State::RevocationRequested => Some(ApproveRevocation),
        _ => None,
    };
    let any = [Verify, Capacity, CompleteForm, Approve, Reject, Start, Hardware { good_port: true }, Hardware { good_port: false }, Withdraw, Revoke, ApproveRevocation, Retry, Skip, Unwind];
    match expected {
        Some(op) if rng.random_bool(0.75) => op,
        _ => any[rng.random_range(0..any.len())],
    }
}

async fn apply(w: &World, id: &RequestId, port: &str, op: Op) {
    let t = &w.tokens;
    let ev = |event: &str| json!({ "event": event });
    let events = format!("/api/v1/requests/{id}/events");
    let control = |playbook: &str| format!("/api/v1/requests/{id}/runs/{playbook}/control");
    match op {
        Op::Verify => {
            w.post(&t.admin, &events, ev("verify")).await;
        }
        Op::Capacity => {
            w.post(&t.operator, &events, ev("check_capacity")).await;
        }
        Op::CompleteForm => {
            w.post(&t.requester, &events, ev("complete_form")).await;
        }
        Op::Approve => {
            w.post(&t.admin, &events, json!({ "event": "approve", "place": "Samarinda", "reasons": ["kapasitas ada"] })).await;
        }
        Op::Reject => {
            w.post(&t.admin, &events, json!({ "event": "reject", "place": "Samarinda", "reasons": ["uji"] })).await;
        }
        Op::Start => {
            w.post(&t.operator, &events, ev("start_provisioning")).await;
        }
        Op::Hardware { good_port } => {
            let port = if good_port { port.to_string() } else { format!("{port}x") };
            let receipt = json!({ "serial_number": "SN-MODEL", "type_brand": "Dell R650", "switch_port": port });
            w.post(&t.operator, &events, json!({ "event": "hardware_received", "receipt": receipt })).await;
        }
        Op::Withdraw => {
            w.post(&t.admin, &events, json!({ "event": "withdraw", "reason": "uji model" })).await;
        }
        Op::Revoke => {
            w.post(&t.admin, &events, json!({ "event": "request_revocation", "revocation": { "reasons": ["uji model"] } })).await;
        }
        Op::ApproveRevocation => {
            w.post(&t.head, &events, ev("approve_revocation")).await;
        }
        Op::Retry | Op::Skip | Op::Unwind => {
            let action = match op {
                Op::Retry => "retry",
                Op::Skip => "skip",
                _ => "unwind",
            };
            for playbook in ["colocation", "decommission"] {
                w.post(&t.operator, &control(playbook), json!({ "action": action, "reason": "uji model" })).await;
            }
        }
    }
}

/// Waits until none of the request's runs is runnable (the worker has nothing left to do).
async fn rest(w: &World, id: &RequestId) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let runs = w.runs(id).await;
        let busy = runs["items"].as_array().unwrap().iter().any(|r| {
            let status = r["view"]["status"].as_str().unwrap();
            matches!(status, "pending" | "running" | "unwinding") || (r["allowed_actions"] == json!(["resume"]))
        });
        // The log may still say "waiting" while the worker is told to look again (hardware
        // received): the store's run rows say whether a worker has it or is to take it.
        let rows = w.svc.store.runs_for_request(id.as_str()).await.unwrap();
        let queued = rows.iter().any(|r| matches!(r.status.as_str(), "pending" | "running" | "unwinding") || r.lease_owner.is_some());
        if !busy && !queued {
            return runs;
        }
        assert!(Instant::now() < deadline, "{id}'s runs never came to rest: {runs:#}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Whether the run log says step `step` of the provisioning run did work that nothing undid
/// (an unwind, or decommissioning's `undo` step for it). `succeeded_only`: count only attempts
/// that succeeded (a failed switch attempt, with a port the switch lacks, changed nothing).
fn held(runs: &Value, step: &str, undo_step: &str, succeeded_only: bool) -> bool {
    let items = runs["items"].as_array().unwrap();
    let Some(prov) = items.iter().find(|r| r["playbook"] == "colocation") else { return false };
    let Some(s) = prov["view"]["steps"].as_array().unwrap().iter().find(|s| s["name"] == step) else { return false };
    let open = s["attempts"].as_array().unwrap().iter().any(|a| {
        let undone = matches!(a["undo"].as_str(), Some("done" | "resolved"));
        !undone && (!succeeded_only || !a["output"].is_null())
    });
    let decommissioned = items.iter().find(|r| r["playbook"] == "decommission").is_some_and(|d| {
        d["view"]["steps"].as_array().unwrap().iter().any(|s| s["name"] == undo_step && s["status"] == "succeeded")
    });
    open && !decommissioned
}

/// The invariants, for one request at rest.
async fn check(w: &World, id: &RequestId, port: &str, runs: &Value, seed: u64) {
    let row = w.svc.store.request(id).await.unwrap();
    let ctx = format!("request {id} ({}), seed {seed}", row.state);
    let drivers = lab_drivers();
    let dns = &drivers.dns["bind"].provider;
    let allocations = w.svc.store.allocations(Some(id.as_str()), None, 20).await.unwrap();
    let active: Vec<&str> = allocations.iter().filter(|a| a.released_at.is_none()).map(|a| a.address.as_str()).collect();
    let v4: Vec<String> = active.iter().filter(|a| !a.contains(':')).map(|a| a.to_string()).collect();
    let a = dns.read(&row.form.domain, RecordKind::A).await.unwrap();
    let mut ptrs = 0;
    let mut addresses: Vec<&str> = allocations.iter().map(|a| a.address.as_str()).collect();
    addresses.sort();
    addresses.dedup();
    for address in addresses {
        let names = dns.read(&reverse_name(address.parse().unwrap()), RecordKind::Ptr).await.unwrap();
        ptrs += names.iter().filter(|n| n.trim_end_matches('.') == row.form.domain.as_str()).count();
    }
    let sw = &drivers.switches["sw-r01"];
    let port_state = sw.read(&sw.port(port).unwrap()).await.unwrap();
    let ours_on_port = port_state.request.as_ref().is_some_and(|r| r.as_str() == id.as_str());
    let rules = drivers.firewalls["fw-1"].rules().await.unwrap().into_iter().filter(|r| r.comment.request.as_str() == id.as_str()).count();

    let addr_held = held(runs, "address-v4", "release-v4", false);
    let dns_held = held(runs, "dns", "remove-dns", false);
    let switch_held = held(runs, "switch", "restore-switch", true);
    let fw_held = held(runs, "firewall", "remove-firewall", false);
    assert_eq!(!v4.is_empty(), addr_held, "{ctx}: active v4 {v4:?} but the run log says held={addr_held}\n{runs:#}");
    if dns_held {
        assert_eq!(a, v4, "{ctx}: the DNS server answers {a:?}, the store holds {v4:?}");
        assert_eq!(ptrs, active.len(), "{ctx}: PTRs naming the domain vs active addresses {active:?}");
    } else {
        assert!(a.is_empty() && ptrs == 0, "{ctx}: records {a:?} / {ptrs} PTRs without the run holding them\n{runs:#}");
    }
    assert_eq!(ours_on_port, switch_held, "{ctx}: port {port} {port_state:?} vs run log\n{runs:#}");
    assert_eq!(rules > 0, fw_held, "{ctx}: {rules} firewall rules vs run log\n{runs:#}");
    if row.state.is_final() {
        assert!(active.is_empty() && a.is_empty() && ptrs == 0 && !ours_on_port && rules == 0, "{ctx}: a closed request holds something");
        assert!(runs["items"].as_array().unwrap().iter().all(|r| r["allowed_actions"] == json!([])), "{ctx}: a closed request's run is still open");
    } else {
        let lifecycle = EventKind::ALL.iter().any(|e| !e.is_run_outcome() && Role::ALL.iter().any(|r| next_state(row.state, *e, RequestKind::Colocation, *r).is_ok()));
        let run_actions = runs["items"].as_array().unwrap().iter().any(|r| !r["allowed_actions"].as_array().unwrap().is_empty());
        assert!(lifecycle || run_actions, "{ctx}: no allowed next action\n{runs:#}");
    }
}

/// What one sequence did: commands given, the state it ended in, and which devices it reached.
struct Outcome {
    ops: u32,
    state: String,
    reached_devices: bool,
}

async fn sequence(w: Arc<World>, seed: u64, port: String) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut form = sample_form();
    form.servers[0].bandwidth_mbps = 10;
    let id = w.svc.submit(&requester(), form).await.unwrap();
    let ops = rng.random_range(4..24);
    for _ in 0..ops {
        let state = w.svc.store.request(&id).await.unwrap().state;
        let op = pick(&mut rng, state);
        apply(&w, &id, &port, op).await;
        if rng.random_bool(0.3) {
            // Let the worker get somewhere before the next command (or not).
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..150))).await;
        }
    }
    let runs = rest(&w, &id).await;
    check(&w, &id, &port, &runs, seed).await;
    let state = w.svc.store.request(&id).await.unwrap().state.to_string();
    close(&w, &id, &port, seed).await;
    let reached_devices = runs["items"].as_array().unwrap().iter().any(|r| r["view"]["steps"].as_array().unwrap().iter().any(|s| s["name"] == "dns" && !s["attempts"].as_array().unwrap().is_empty()));
    Outcome { ops, state, reached_devices }
}

/// Takes the request to a final state the way an office would (withdraw it, or revoke a live
/// one; a failed decommissioning step is retried, then skipped), so that its capacity is free
/// for the next sequences; then the invariants of a closed request must hold.
async fn close(w: &World, id: &RequestId, port: &str, seed: u64) {
    let t = &w.tokens;
    let events = format!("/api/v1/requests/{id}/events");
    for round in 0..12 {
        let state = w.svc.store.request(id).await.unwrap().state;
        if state.is_final() {
            let runs = rest(w, id).await;
            check(w, id, port, &runs, seed).await;
            return;
        }
        match state {
            State::Active => {
                w.post(&t.admin, &events, json!({ "event": "request_revocation", "revocation": { "reasons": ["selesai"] } })).await;
            }
            State::RevocationRequested => {
                w.post(&t.head, &events, json!({ "event": "approve_revocation" })).await;
            }
            State::Decommissioning => {
                let action = if round < 6 { "retry" } else { "skip" };
                w.post(&t.operator, &format!("/api/v1/requests/{id}/runs/decommission/control"), json!({ "action": action, "reason": "selesaikan" })).await;
            }
            State::Withdrawing => {}
            _ => {
                w.post(&t.admin, &events, json!({ "event": "withdraw", "reason": "selesai" })).await;
            }
        }
        rest(w, id).await;
    }
    panic!("request {id} could not be closed (seed {seed}): {}", w.runs(id).await);
}

async fn random_sequences_keep_store_and_devices_in_agreement(db: Db) {
    let (first_port, label) = match db {
        Db::Sqlite => (70, "sqlite"),
        Db::Postgres => (74, "postgres"),
    };
    let n: u64 = std::env::var("KOLOKASI_MODEL_SEQUENCES").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let seed: u64 = std::env::var("KOLOKASI_MODEL_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("model test on {label}: {n} sequences, seed {seed} (replay with KOLOKASI_MODEL_SEED={seed})");
    // Both databases' sequences start from the same address pools on one lab: one at a time.
    let _lab = lab_dns_lock().await;
    let ports: Vec<String> = (first_port..first_port + SLOTS).map(|p| format!("bp{p}")).collect();
    for p in &ports {
        reset_lab_port(p);
    }
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let tokens = Tokens {
        admin: api_token(&svc, "admin.tik", Role::Admin).await,
        operator: api_token(&svc, "pengelola", Role::Operator).await,
        requester: api_token(&svc, "budi", Role::Requester).await,
        head: api_token(&svc, "kabid", Role::Head).await,
    };
    let serve = served::serve(&tdb.url, &[]).await;
    let w = Arc::new(World { db_url: tdb.url.clone(), serve: RwLock::new(serve), tokens, svc });
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let (mut done, mut ops, mut bounces, mut on_devices) = (0u64, 0u32, 0u32, 0u32);
    let mut states = std::collections::BTreeMap::<String, u32>::new();
    while done < n {
        // A batch: one sequence per port at once; between batches the server may be bounced.
        let batch: Vec<_> = ports
            .iter()
            .take((n - done).min(SLOTS as u64) as usize)
            .map(|p| tokio::spawn(sequence(w.clone(), rng.random(), p.clone())))
            .collect();
        let chaos = rng.random_bool(0.25);
        if chaos {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
            w.bounce(rng.random_bool(0.5)).await;
            bounces += 1;
        }
        for b in batch {
            let o = b.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            ops += o.ops;
            on_devices += u32::from(o.reached_devices);
            *states.entry(o.state).or_default() += 1;
            done += 1;
        }
    }
    eprintln!(
        "model test on {label}: {done} sequences ({on_devices} reached the devices), {ops} commands, {bounces} server crashes/restarts in {:?}; end states {states:?} (seed {seed})",
        started.elapsed()
    );
    assert!(done >= n);
    if n >= 50 {
        // The mix must reach the interesting places, or the test proves little.
        assert!(u64::from(on_devices) * 4 >= n, "only {on_devices} of {n} sequences reached the devices");
    }
}
