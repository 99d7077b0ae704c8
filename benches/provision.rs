//! Benchmark: approved requests provisioned end to end on the local lab (`deploy/lab/lab.sh up`).
//!
//! 1. One request: wall time of its provisioning run (every step: addresses, DNS written and
//!    read back, the hardware gate already satisfied), and the share spent outside network
//!    round trips (steps that talk to a server over the network versus the rest).
//! 2. 100 requests approved at once: wall time to provision all of them concurrently.
//!
//! SQLite by default; `KOLOKASI_BENCH_DATABASE_URL=postgres://…` for PostgreSQL.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kolokasi::capacity::Inventory;
use kolokasi::capacity::inventory::Rack;
use kolokasi::domain::{Fqdn, HardwareReceipt, RequestForm, RequestId, Text};
use kolokasi::engine::{Drivers, Engine, Progress, ProgressPhase, RunStatus};
use kolokasi::lab::Lab;
use kolokasi::lifecycle::{Actor, Calendar, Role};
use kolokasi::secrets::MasterKey;
use kolokasi::service::{ApproveInput, Command, Service};
use kolokasi::store::Store;

/// Steps whose time is network round trips to a real server (the notices: SMTP with STARTTLS).
const NETWORK_ACTIONS: &[&str] = &["dns", "switch", "firewall", "inspect", "approval-notice", "completion-report"];

fn big_inventory() -> Inventory {
    let mut inv = Inventory::example();
    let site = &mut inv.sites[0];
    site.ups.capacity_w = Some(1_000_000);
    site.genset.capacity_w = Some(2_000_000);
    site.uplink_mbps = 100_000;
    for i in 3..=12 {
        site.racks.push(Rack { name: format!("R{i:02}"), height_u: 42, power_budget_w: 20_000, occupied: vec![], switch: Some("sw-r01-ovsdb".into()) });
    }
    inv
}

async fn approved(svc: &Service, n: usize, tag: &str) -> RequestId {
    let t = |s: &str| Text::parse(s).unwrap();
    let who = |name: &str, role| Actor::new(name, role).unwrap();
    let mut form = RequestForm::from_yaml(include_str!("../deploy/examples/colocation-request-lab.yaml")).unwrap();
    form.domain = Fqdn::parse(&format!("bench-{tag}-{n}.kaltimprov.go.id")).unwrap();
    let requester = Actor::in_unit("budi", Role::Requester, form.unit.name.as_str()).unwrap();
    let id = svc.submit(&requester, form).await.unwrap();
    svc.apply(&who("admin", Role::Admin), &id, Command::Verify { reason: None }).await.unwrap();
    svc.apply(&who("op", Role::Operator), &id, Command::CheckCapacity { reason: None }).await.unwrap();
    svc.apply(&requester, &id, Command::CompleteForm { form: None, reason: None }).await.unwrap();
    let approve = ApproveInput { place: t("Samarinda"), reasons: vec![], signed_by: None, host_admin_user: None, host_admin_password: None };
    svc.apply(&who("admin", Role::Admin), &id, Command::Approve(approve)).await.unwrap();
    svc.apply(&who("op", Role::Operator), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let receipt = HardwareReceipt { serial_number: t(&format!("SN-{n}")), type_brand: t("Dell R650"), switch_port: Some(t(&format!("bp{}", n % 100 + 1))), host_key: None };
    svc.apply(&who("insp", Role::Inspector), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    id
}

/// Gives the benchmark's switch ports (bp1–bp100) and the firewall back to their lab state, in
/// case an earlier run stopped before its clean-up (not timed). Run it on an idle lab.
fn reset_ports(lab: &Lab) {
    let db = format!("--db=tcp:{}", lab.host("sw").unwrap().ovsdb.as_deref().unwrap());
    let mut args = vec![db];
    for n in 1..=100 {
        let port = format!("bp{n}");
        if n > 1 {
            args.push("--".into());
        }
        args.extend(["set", "port", &port, "tag=1", "--", "clear", "port", &port, "trunks", "vlan_mode", "external_ids"].map(String::from));
    }
    let status = std::process::Command::new("ovs-vsctl").args(&args).status().expect("ovs-vsctl (installed by the lab)");
    assert!(status.success(), "cannot reset the benchmark's switch ports");
    // kolokasi's nftables table on the firewall (the driver creates it again), so that rules an
    // interrupted run left behind do not make every listing slower.
    let fw = &lab.host("fw").unwrap().netns;
    let _ = std::process::Command::new("ip").args(["netns", "exec", fw, "nft", "delete", "table", "inet", "kolokasi"]).status();
}

#[tokio::main]
async fn main() {
    let lab = Lab::load().unwrap_or_else(|e| panic!("{e}"));
    reset_ports(&lab);
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("KOLOKASI_BENCH_DATABASE_URL").unwrap_or_else(|_| format!("sqlite://{}/provision.db", dir.path().display()));
    let backend = if url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" };
    let svc = Service::new(Store::connect(&url).await.unwrap(), big_inventory(), Calendar::builtin_2026(), Some(MasterKey::generate()));
    svc.ensure_pools().await.unwrap();
    let registry = kolokasi::actions::builtin();
    let playbooks = Engine::load_playbooks(Some(std::path::Path::new("playbooks")), &registry).unwrap();
    let engine = Engine::new(svc, Drivers::from_lab(&lab).unwrap(), registry, playbooks).unwrap();
    let svc = engine.service().clone();
    let tag = std::process::id().to_string();

    // 1. One request, a few times (the first also warms connections).
    let steps: Arc<Mutex<BTreeMap<String, u128>>> = Arc::default();
    let mut walls = vec![];
    let mut singles = vec![];
    for n in 0..5 {
        let id = approved(&svc, n, &tag).await;
        singles.push(id.clone());
        steps.lock().unwrap().clear();
        let s = steps.clone();
        let observer = move |p: &Progress| {
            if p.phase == ProgressPhase::Succeeded {
                s.lock().unwrap().insert(p.step.clone(), p.elapsed_ms);
            }
        };
        let t = Instant::now();
        let view = engine.drive(&Engine::run_id(id.as_str(), "colocation"), &observer).await.unwrap();
        walls.push(t.elapsed());
        assert_eq!(view.status, RunStatus::Succeeded, "{:?}", view.current());
    }
    let per_step = steps.lock().unwrap().clone();
    let network: u128 = per_step.iter().filter(|(k, _)| NETWORK_ACTIONS.contains(&k.as_str())).map(|(_, v)| v).sum();
    let wall = walls[1..].iter().sum::<std::time::Duration>() / (walls.len() as u32 - 1);
    println!("one request ({backend}): {:.1} ms wall (first, cold: {:.1} ms); steps: {per_step:?}", wall.as_secs_f64() * 1e3, walls[0].as_secs_f64() * 1e3);
    println!(
        "  network steps {network} ms, outside network round trips ≈ {:.0}%",
        100.0 * (1.0 - network as f64 / (wall.as_secs_f64() * 1e3).max(1.0))
    );

    // Give the single runs' switch ports back before the batch reuses them (not timed).
    for id in &singles {
        decommission(&engine, id).await;
    }

    // 2. 100 requests approved at once.
    let mut ids = vec![];
    for n in 100..200 {
        ids.push(approved(&svc, n, &tag).await);
    }
    // Time per step summed over the batch: a step serialised on one device (the firewall, the
    // switch, the lab's one customer server) adds its sum to the wall time.
    let sums: Arc<Mutex<BTreeMap<String, u128>>> = Arc::default();
    let t = Instant::now();
    let mut tasks = vec![];
    for id in &ids {
        let engine = engine.clone();
        let run = Engine::run_id(id.as_str(), "colocation");
        let s = sums.clone();
        let observer = move |p: &Progress| {
            if p.phase == ProgressPhase::Succeeded {
                *s.lock().unwrap().entry(p.step.clone()).or_default() += p.elapsed_ms;
            }
        };
        tasks.push(tokio::spawn(async move { engine.drive(&run, &observer).await }));
    }
    for task in tasks {
        let view = task.await.unwrap().unwrap();
        assert_eq!(view.status, RunStatus::Succeeded, "{:?}", view.current());
    }
    println!("100 requests approved at once ({backend}): {:.2} s wall", t.elapsed().as_secs_f64());
    println!("  step time summed over the 100 runs (ms): {:?}", sums.lock().unwrap());

    // Clean the lab again (not timed).
    for id in &ids {
        decommission(&engine, id).await;
    }
}

/// Takes a live request down the way the office does (Form Pencabutan, approved, the
/// decommission run): the devices are clean again for the next batch. Not timed.
async fn decommission(engine: &Engine, id: &RequestId) {
    let svc = engine.service();
    let admin = Actor::new("adm", Role::Admin).unwrap();
    let reasons = vec![Text::parse("benchmark clean-up").unwrap()];
    let revocation = kolokasi::domain::Revocation { reasons, effective: None, approved_by: None };
    svc.apply(&admin, id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&admin, id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = engine.drive(&Engine::run_id(id.as_str(), "decommission"), &|_| {}).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{:?}", view.current());
}
