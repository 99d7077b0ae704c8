//! Drift check and repair on the real lab, on SQLite and PostgreSQL: a request provisioned end
//! to end is in sync; then its A record is changed with nsupdate (RFC 2136, TSIG), its switch
//! port re-tagged with ovs-vsctl and one of its firewall rules deleted with nft — each is
//! reported with expected, found and device; a repair (planned, audited, the engine's re-run of
//! the drifted steps) puts every device back; an accepted drift is no longer reported; `serve`
//! checks on its schedule, records the result, counts it on /metrics and sends one notice.

mod common;
#[path = "support/kube_fake.rs"]
mod kube_fake;

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::*;
use kolokasi::domain::{HardwareReceipt, RequestId, Revocation};
use kolokasi::drift::{Checker, DriftStatus};
use kolokasi::engine::{Engine, RunStatus};
use kolokasi::lab::Lab;
use kolokasi::service::{Command, Service};
use serde_json::{Value, json};

on_both_databases!(
    hand_changes_are_reported_repaired_and_accepted,
    serve_checks_on_schedule_records_counts_and_notifies_once,
    hosting_objects_changed_by_hand_are_reported_and_repaired,
);

fn quiet(_: &kolokasi::engine::Progress) {}

fn lab() -> Lab {
    Lab::load().unwrap_or_else(|e| panic!("{e}"))
}

fn ovs(args: &[&str]) -> String {
    let db = format!("--db=tcp:{}", lab().host("sw").unwrap().ovsdb.as_deref().unwrap());
    let out = Process::new("ovs-vsctl").arg(&db).args(args).output().expect("ovs-vsctl (installed by the lab)");
    assert!(out.status.success(), "ovs-vsctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// An RFC 2136 update signed with the lab's TSIG key, sent with BIND's own nsupdate.
fn nsupdate(commands: &str) {
    let lab = lab();
    let secret = lab.tsig_secret().unwrap();
    let (host, port) = lab.bind.server.rsplit_once(':').unwrap();
    let key = format!("{}:{}:{}", lab.bind.tsig_algorithm, lab.bind.tsig_key_name, secret.expose());
    let mut child = Process::new("nsupdate").args(["-y", &key]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("nsupdate (bind9-dnsutils)");
    use std::io::Write;
    let script = format!("server {host} {port}\n{commands}\nsend\n");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "nsupdate: {}", String::from_utf8_lossy(&out.stderr));
}

/// Deletes one rule of kolokasi's own table on the lab firewall by hand.
fn nft_delete(chain: &str, handle: u64) {
    let netns = lab().host("fw").unwrap().netns.clone();
    let status = Process::new("ip").args(["netns", "exec", &netns, "nft", "delete", "rule", "inet", "kolokasi", chain, "handle", &handle.to_string()]).status().unwrap();
    assert!(status.success(), "nft delete rule {chain} handle {handle}");
}

struct Live {
    _guard: tokio::sync::MutexGuard<'static, ()>,
    _db: TestDb,
    engine: Engine,
    svc: Service,
    id: RequestId,
    port: &'static str,
    url: String,
}

/// A co-location request provisioned on the lab (hardware on `port`) and live.
async fn live(db: Db, port: &'static str) -> Live {
    let guard = lab_dns_lock().await;
    reset_lab_port(port);
    let tdb = fresh_db(db).await;
    let engine = lab_engine(service(&tdb).await);
    let svc = engine.service().clone();
    let id = approved_request(&svc, sample_form()).await;
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let receipt = HardwareReceipt { serial_number: text("SN-DRIFT-1"), type_brand: text("Dell R650"), switch_port: Some(text(port)), host_key: None };
    svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    let view = engine.drive(&Engine::run_id(id.as_str(), "colocation"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    assert_eq!(svc.store.request(&id).await.unwrap().state, kolokasi::lifecycle::State::Active);
    Live { _guard: guard, url: tdb.url.clone(), _db: tdb, engine, svc, id, port }
}

impl Live {
    fn output(&self, view: &kolokasi::engine::RunView, step: &str) -> Value {
        view.output_of(step).cloned().unwrap_or_else(|| panic!("no output of {step}"))
    }

    /// Revocation and decommissioning, so the lab is left as it was found.
    async fn decommission(&self) {
        let revocation = Revocation { reasons: vec![text("selesai diuji")], effective: None, approved_by: None };
        self.svc.apply(&requester(), &self.id, Command::RequestRevocation { revocation }).await.unwrap();
        self.svc.apply(&head(), &self.id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
        let view = self.engine.drive(&Engine::run_id(self.id.as_str(), "decommission"), &quiet).await.unwrap();
        assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
        reset_lab_port(self.port);
    }
}

fn item<'a>(report: &'a kolokasi::drift::DriftReport, key: &str) -> &'a kolokasi::drift::DriftItem {
    report.drifted.iter().find(|d| d.item == key).unwrap_or_else(|| panic!("{key} not reported drifted:\n{}", report.to_text()))
}

async fn hand_changes_are_reported_repaired_and_accepted(db: Db) {
    // A port per database: the two variants run at the same time on one switch.
    let l = live(db, if matches!(db, Db::Sqlite) { "bp80" } else { "bp82" }).await;
    let checker = Checker::new(l.engine.clone());
    let (_, view) = l.engine.view(&Engine::run_id(l.id.as_str(), "colocation")).await.unwrap();
    let (dns, switch, firewall) = (l.output(&view, "dns"), l.output(&view, "switch"), l.output(&view, "firewall"));
    let domain = sample_domain(&dns);
    let address = firewall["address"].as_str().unwrap().to_string();
    let (sw, fw) = (switch["device"].as_str().unwrap().to_string(), firewall["device"].as_str().unwrap().to_string());
    let vlan = switch["vlan"].as_u64().unwrap();

    // Just provisioned: in sync, every written thing compared.
    let report = checker.check_one(&operator(), &l.id).await.unwrap();
    assert_eq!(report.status, DriftStatus::InSync, "{}", report.to_text());
    assert!(report.checked >= 7, "A, AAAA, PTRs, CNAME, port, rules, map: {}", report.to_text());

    // Both Open vSwitch drivers read the port the same in one batched read.
    let drivers = lab_drivers();
    let mut seen = Vec::new();
    for name in ["sw-r01", "sw-r01-ovsdb"] {
        let d = &drivers.switches[name];
        seen.push(d.read_many(&[d.port(l.port).unwrap(), d.port("r1p8").unwrap()]).await.unwrap());
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0][0].access_vlan().map(|v| u64::from(v.get())), Some(vlan));

    // By hand: the A record, the port's VLAN, one firewall rule.
    nsupdate(&format!("update delete {domain}. A\nupdate add {domain}. 300 A 198.51.100.250"));
    ovs(&["set", "port", l.port, "tag=999"]);
    let rules = drivers.firewalls[&fw].rules().await.unwrap();
    let victim = rules.iter().find(|r| r.comment.request.as_str() == l.id.as_str() && r.comment.kind.starts_with("accept/")).expect("an accept rule of the request");
    nft_delete(&victim.chain, victim.handle);

    let report = checker.check_one(&operator(), &l.id).await.unwrap();
    println!("{}", report.to_text());
    assert_eq!(report.status, DriftStatus::Drifted);
    assert_eq!(report.drifted.len(), 3, "{}", report.to_text());
    let a = item(&report, &format!("dns:{domain}/A"));
    assert_eq!((a.expected.clone(), a.found.clone(), a.device.as_str(), a.step.as_str()), (json!([address]), json!(["198.51.100.250"]), "dns:primary", "dns"));
    let p = item(&report, &format!("switch:{sw}/{}", l.port));
    assert_eq!((p.expected["vlan"].as_u64(), p.found["vlan"].as_u64(), p.device.as_str()), (Some(vlan), Some(999), sw.as_str()));
    let r = item(&report, &format!("firewall:{fw}/{}", victim.comment.kind));
    assert_eq!((r.expected.clone(), r.found.clone(), r.device.as_str()), (json!("present"), json!("absent"), fw.as_str()));
    // Recorded, and readable through the API's view.
    let latest = kolokasi::drift::service::latest(&l.svc, &admin(), &l.id).await.unwrap().unwrap();
    assert_eq!(latest, report);

    // The CLI says the same: exit status 2, the items in JSON; the repair's plan without --json.
    let cli = |args: &[&str]| {
        Process::new(env!("CARGO_BIN_EXE_kolokasi"))
            .args(args)
            .args(["--actor", "pengelola", "--role", "operator"])
            .env("KOLOKASI_DATABASE_URL", &l.url)
            .env("KOLOKASI_MASTER_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
            .env("KOLOKASI_PLAYBOOK_DIR", "playbooks")
            .env("KOLOKASI_USE_LAB", "1")
            .env_remove("KOLOKASI_CONFIG")
            .output()
            .unwrap()
    };
    let out = cli(&["drift", "check", l.id.as_str(), "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["drifted"].as_array().unwrap().len(), 3, "{listed}");
    let out = cli(&["drift", "repair", l.id.as_str(), "--reason", "uji", "--plan-only"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("Rencana perbaikan") && text.contains("re-run switch"), "{text}");

    // The console shows the badge and the items to staff.
    let page = console_page(&l.svc, &l.id).await;
    assert!(page.contains("drift-drifted") && page.contains("Menyimpang") && page.contains(&format!("dns:{domain}&#x2f;A")), "{page:.2000}");

    // Repair: planned (the three steps, in playbook order), audited, carried out.
    let (plan, _) = checker.plan_repair(&operator(), &l.id).await.unwrap();
    let steps: Vec<&str> = plan.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, ["dns", "switch", "firewall"], "{plan:?}");
    let (_, after) = checker.repair(&operator(), &l.id, "perbaikan penyimpangan").await.unwrap();
    assert_eq!(after.status, DriftStatus::InSync, "{}", after.to_text());
    assert_eq!(ovs(&["get", "port", l.port, "tag"]), vlan.to_string());
    let a_now = drivers.dns["primary"].provider.read(&kolokasi::domain::Fqdn::parse(&domain).unwrap(), kolokasi::dns::RecordKind::A).await.unwrap();
    assert_eq!(a_now, vec![address.clone()]);
    let rules = drivers.firewalls[&fw].rules().await.unwrap();
    assert!(rules.iter().any(|x| x.comment.request.as_str() == l.id.as_str() && x.comment.kind == victim.comment.kind), "the rule is back");
    assert!(console_page(&l.svc, &l.id).await.contains(">Sesuai<"), "the badge says in sync");
    let audit = l.svc.store.audit_for_request(l.id.as_str()).await.unwrap();
    let repair = audit.iter().find(|a| a.action == "drift.repair").expect("the repair is audited");
    assert_eq!(repair.reason.as_deref(), Some("perbaikan penyimpangan"));
    assert_eq!(audit.iter().filter(|a| a.action == "run.retry").count(), 3, "each re-run is the engine's audited retry");

    // Accept: a description changed by hand stops being reported, and stays so while unchanged.
    ovs(&["set", "port", l.port, "external_ids:description=\"diubah manual\""]);
    let report = checker.check_one(&operator(), &l.id).await.unwrap();
    let key = format!("switch:{sw}/{}", l.port);
    assert_eq!(item(&report, &key).found["description"], json!("diubah manual"));
    let no_reason = checker.accept(&operator(), &l.id, &key, " ").await;
    assert!(matches!(no_reason, Err(kolokasi::drift::DriftError::NoReason)), "{no_reason:?}");
    let forbidden = checker.accept(&requester(), &l.id, &key, "tidak boleh").await;
    assert!(forbidden.is_err());
    let accepted = checker.accept(&operator(), &l.id, &key, "label rak baru").await.unwrap();
    assert_eq!(accepted.status, DriftStatus::InSync);
    let report = checker.check_one(&operator(), &l.id).await.unwrap();
    assert_eq!(report.status, DriftStatus::InSync, "{}", report.to_text());
    assert_eq!(report.accepted.len(), 1);
    assert_eq!(report.accepted[0].accepted.as_deref(), Some("label rak baru"));
    let audit = l.svc.store.audit_for_request(l.id.as_str()).await.unwrap();
    let acc = audit.iter().find(|a| a.action == "drift.accept").expect("audited");
    assert_eq!(acc.before.as_ref().unwrap()["found"]["description"], json!("diubah manual"));
    // A further change of the same item is reported again.
    ovs(&["set", "port", l.port, "tag=998"]);
    let report = checker.check_one(&operator(), &l.id).await.unwrap();
    assert_eq!(item(&report, &key).found["vlan"], json!(998));
    assert!(l.svc.store.drift_checks(l.id.as_str()).await.unwrap() >= 6);

    // The API: POST checks now (with serve's checker), GET gives the latest result.
    {
        use tower::ServiceExt;
        let token = api_token(&l.svc, "op.api", kolokasi::lifecycle::Role::Operator).await;
        let app = kolokasi::api::router_with_engine(kolokasi::actions::controls_engine(l.svc.clone()), kolokasi::console::Options::default(), Some(checker.clone()));
        let call = |method: &str| {
            axum::http::Request::builder()
                .method(method)
                .uri(format!("/api/v1/requests/{}/drift", l.id))
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap()
        };
        for method in ["POST", "GET"] {
            let response = app.clone().oneshot(call(method)).await.unwrap();
            assert_eq!(response.status(), 200, "{method}");
            let body: Value = serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap();
            assert_eq!(body["status"], json!("drifted"), "{method}: {body}");
            assert_eq!(body["report"]["drifted"][0]["found"]["vlan"], json!(998), "{method}: {body}");
        }
    }

    l.decommission().await;
}

/// The request's console page as an operator sees it (a session opened in the store, the
/// page rendered by the real router).
async fn console_page(svc: &Service, id: &RequestId) -> String {
    use tower::ServiceExt;
    let root = kolokasi::lifecycle::Actor::new("root", kolokasi::lifecycle::Role::Admin).unwrap();
    let password = kolokasi::secrets::Secret::new("sandi-pengelola-2026");
    let user = kolokasi::service::NewUser { username: "pengelola".into(), display_name: "Pengelola".into(), role: kolokasi::lifecycle::Role::Operator, unit: None, password: Some(password.clone()) };
    let _ = svc.create_user(&root, user).await;
    let session = svc.console_sign_in("pengelola", &password, "127.0.0.1", time::Duration::hours(1)).await.unwrap();
    let app = kolokasi::api::router(svc.clone());
    let request = axum::http::Request::get(format!("/requests/{id}"))
        .header("cookie", format!("kolokasi_session={}", session.token.expose()))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The request's domain, from the dns step's output (its first A record).
fn sample_domain(dns: &Value) -> String {
    dns["records"].as_array().unwrap().iter().find(|r| r["kind"] == "A").unwrap()["name"].as_str().unwrap().to_string()
}

/// `kolokasi serve` on the test's database and the lab, checking every second.
fn start_serve(url: &str) -> (std::process::Child, String) {
    let mut child = Process::new(env!("CARGO_BIN_EXE_kolokasi"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("KOLOKASI_DATABASE_URL", url)
        .env("KOLOKASI_MASTER_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
        .env("KOLOKASI_PLAYBOOK_DIR", "playbooks")
        .env("KOLOKASI_USE_LAB", "1")
        .env("KOLOKASI_DRIFT_INTERVAL_SECONDS", "1")
        .env("KOLOKASI_LOG", "info")
        .env_remove("KOLOKASI_LOG_FORMAT")
        .env_remove("KOLOKASI_TEST_CRASH_AT")
        .env_remove("KOLOKASI_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("serve exited before it listened").unwrap();
        if let Some(rest) = line.split("serving on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so that serve never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

/// Messages in the lab's mail sink mentioning `needle`.
fn mails_with(needle: &str) -> Vec<String> {
    let dir = lab().smtp.expect("the lab's SMTP sink").maildir;
    std::fs::read_dir(dir).unwrap().filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok()).filter(|m| m.contains(needle)).collect()
}

async fn serve_checks_on_schedule_records_counts_and_notifies_once(db: Db) {
    let l = live(db, if matches!(db, Db::Sqlite) { "bp81" } else { "bp83" }).await;
    ovs(&["set", "port", l.port, "tag=997"]);
    let (mut child, base) = start_serve(&l.url);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let row = l.svc.store.drift_result(l.id.as_str()).await.unwrap();
        let text = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        let checks: u64 = text.lines().find_map(|x| x.strip_prefix("kolokasi_drift_checks_total ")).and_then(|n| n.parse().ok()).unwrap_or(0);
        if row.as_ref().is_some_and(|r| r.status == "drifted" && r.notified_episode == 1) && checks >= 3 {
            break text;
        }
        assert!(Instant::now() < deadline, "serve did not record a drifted check and notify: {row:?}\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = Process::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    assert!(metrics.contains("kolokasi_drift_requests{status=\"drifted\"} 1"), "{metrics}");
    assert!(l.svc.store.drift_checks(l.id.as_str()).await.unwrap() >= 3, "each scheduled check is recorded");
    // One notice for the episode, however many checks saw it.
    let rows = kolokasi::notify::outbox::for_request(&l.svc.store, l.id.as_str()).await.unwrap();
    let notices: Vec<_> = rows.iter().filter(|r| r.event.starts_with("drifted")).collect();
    assert_eq!(notices.len(), 1, "{rows:?}");
    assert_eq!((notices[0].event.as_str(), notices[0].status), ("drifted#1", kolokasi::notify::outbox::Status::Sent));
    let mails = mails_with(&format!("{}.drifted-1.", l.id));
    assert_eq!(mails.len(), 1, "exactly one drift e-mail reached the sink");
    assert!(mails[0].contains(&format!("Penyimpangan konfigurasi {}", l.id)), "{}", mails[0]);

    // In sync again: the next drift is a new episode with its own notice.
    let checker = Checker::new(l.engine.clone());
    let (_, after) = checker.repair(&operator(), &l.id, "kembalikan VLAN").await.unwrap();
    assert_eq!(after.status, DriftStatus::InSync);
    ovs(&["set", "port", l.port, "tag=996"]);
    let report = checker.check_one(&operator(), &l.id).await.unwrap();
    assert_eq!(report.status, DriftStatus::Drifted);
    let row = l.svc.store.drift_result(l.id.as_str()).await.unwrap().unwrap();
    assert_eq!((row.episode, row.notified_episode), (2, 2));
    assert_eq!(mails_with(&format!("{}.drifted-2.", l.id)).len(), 1);
    let (_, _) = checker.repair(&operator(), &l.id, "kembalikan VLAN").await.unwrap();
    l.decommission().await;
}

/// A hosting request on the protocol-level Kubernetes fake (no API server runs here) and BIND9:
/// its Ingress edited by hand is reported (where it differs) and the repair applies it again.
async fn hosting_objects_changed_by_hand_are_reported_and_repaired(db: Db) {
    let _guard = lab_dns_lock().await;
    let fake = kube_fake::KubeFake::start().await;
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let mut platform = kolokasi::capacity::Inventory::example().hosting_platform.unwrap().kubernetes.unwrap();
    platform.kubeconfig = Some(fake.kubeconfig());
    platform.context = Some("fake".into());
    let registry = kolokasi::actions::builtin();
    let playbooks = Engine::load_playbooks(Some(std::path::Path::new("playbooks")), &registry).unwrap();
    let mut drivers = lab_drivers();
    drivers.kubernetes = Some(std::sync::Arc::new(kolokasi::hosting::Cluster::new(&platform).unwrap()));
    let engine = Engine::new(svc, drivers, registry, playbooks).unwrap();
    let svc = engine.service().clone();
    let mut form = hosting_form();
    let sample = sample_form();
    (form.domain, form.unit) = (sample.domain, sample.unit);
    let id = approved_request(&svc, form).await;
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let run = Engine::run_id(id.as_str(), "hosting");
    assert_eq!(engine.drive(&run, &quiet).await.unwrap().status, RunStatus::Succeeded);

    let checker = Checker::new(engine.clone());
    let report = checker.check_one(&operator(), &id).await.unwrap();
    assert_eq!(report.status, DriftStatus::InSync, "{}", report.to_text());
    assert_eq!(report.checked, 9, "7 objects, A and AAAA: {}", report.to_text());

    let ns = format!("{}-app-pajak", id.as_str().to_ascii_lowercase());
    let mut ingress = fake.get("networking.k8s.io/v1", "ingresses", &ns, "kolokasi-ingress").unwrap();
    ingress["spec"]["rules"][0]["host"] = json!("diubah.example.org");
    fake.insert("networking.k8s.io/v1", "ingresses", &ns, ingress);
    let report = checker.check_one(&operator(), &id).await.unwrap();
    let d = item(&report, "kubernetes:Ingress/kolokasi-ingress");
    assert_eq!((d.found.clone(), d.device.as_str(), d.step.as_str()), (json!("differs at .spec.rules[0].host"), "kubernetes", "kubernetes"));
    assert_eq!(report.drifted.len(), 1, "{}", report.to_text());

    let (_, after) = checker.repair(&operator(), &id, "kembalikan ingress").await.unwrap();
    assert_eq!(after.status, DriftStatus::InSync, "{}", after.to_text());
    let ingress = fake.get("networking.k8s.io/v1", "ingresses", &ns, "kolokasi-ingress").unwrap();
    assert_eq!(ingress["spec"]["rules"][0]["host"], json!(svc.store.request(&id).await.unwrap().form.domain.as_str()));

    let revocation = Revocation { reasons: vec![text("selesai diuji")], effective: None, approved_by: None };
    svc.apply(&requester(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    assert_eq!(engine.drive(&Engine::run_id(id.as_str(), "decommission"), &quiet).await.unwrap().status, RunStatus::Succeeded);
}
