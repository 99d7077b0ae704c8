//! Canaries through a whole provisioning run on the lab (switch port bp93): a canary host admin
//! password (sealed at approval) and a canary TSIG key. The first run signs DNS updates with the
//! canary key, BIND refuses them and the run fails at the DNS step; the retry runs with the lab's
//! real key and finishes. Neither canary may appear in trace-level logs, API responses, audit
//! rows, the run log or the documents; nor may any line of a host admin SSH key attached over
//! the API.

mod common;

use std::sync::Arc;

use common::*;
use kolokasi::dns::{DnsProvider, Rfc2136, Rfc2136Config};
use kolokasi::domain::HardwareReceipt;
use kolokasi::engine::{Engine, RunStatus};
use kolokasi::lifecycle::Role;
use kolokasi::secrets::{Secret, SecretKind};
use kolokasi::service::Command;

/// Base64 of "CANARY-tsig-key-0123456789abcdef" — recognisable, and a valid TSIG secret.
const TSIG_CANARY: &str = "Q0FOQVJZLXRzaWcta2V5LTAxMjM0NTY3ODlhYmNkZWY=";

/// The lab's drivers with BIND's TSIG key replaced by the canary.
fn drivers_with_canary_tsig() -> kolokasi::engine::Drivers {
    let lab = kolokasi::lab::Lab::load().unwrap_or_else(|e| panic!("{e}"));
    let mut drivers = lab_drivers();
    let zones = drivers.dns["bind"].zones.clone();
    let config = Rfc2136Config {
        server: lab.bind.server.parse().unwrap(),
        key_name: lab.bind.tsig_key_name.clone(),
        algorithm: lab.bind.tsig_algorithm.clone(),
        secret: Secret::new(TSIG_CANARY),
        timeout: std::time::Duration::from_secs(3),
    };
    let target = Arc::new(kolokasi::engine::drivers::DnsTarget { provider: DnsProvider::Rfc2136(Rfc2136::new(config).unwrap()), zones });
    drivers.dns.insert("bind".into(), target.clone());
    drivers.dns.insert("primary".into(), target);
    drivers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_never_leak_through_a_failed_and_retried_run() {
    let logs = captured_logs();
    let _lab = lab_dns_lock().await;
    reset_lab_port("bp93");
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    svc.set_secret(&admin(), "tsig-bind", SecretKind::Tsig, &Secret::new(TSIG_CANARY)).await.unwrap();
    assert_eq!(svc.reveal_secret(&admin(), "tsig-bind").await.unwrap().expose(), TSIG_CANARY);

    let playbooks = || Engine::load_playbooks(Some(std::path::Path::new("playbooks")), &kolokasi::actions::builtin()).unwrap();
    // The engine's service creates the run when provisioning starts.
    let mut bad = Engine::new(svc.clone(), drivers_with_canary_tsig(), kolokasi::actions::builtin(), playbooks()).unwrap();
    bad.retry.base = std::time::Duration::from_millis(5);
    let svc = bad.service().clone();
    let id = approved_request(&svc, sample_form()).await; // host admin password = CANARY
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let receipt = HardwareReceipt { serial_number: text("SN-CANARY-RUN"), type_brand: text("Dell R650"), switch_port: Some(text("bp93")), host_key: None };
    svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    let run = Engine::run_id(id.as_str(), "colocation");

    // First attempt: BIND refuses the canary key; the run stops at the DNS step.
    let view = bad.drive(&run, &|_| {}).await.unwrap();
    assert_eq!(view.status, RunStatus::Failed, "{view:?}");
    assert_eq!(view.current().map(|s| s.name.as_str()), Some("dns"), "the canary key fails the DNS step: {view:?}");

    // Retry with the lab's key: the run finishes.
    let good = Engine::new(svc.clone(), lab_drivers(), kolokasi::actions::builtin(), playbooks()).unwrap();
    good.retry(&operator(), &run, None, "kunci TSIG diperbaiki").await.unwrap();
    let view = good.drive(&run, &|_| {}).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");

    // Everything a person or a log could see.
    let mut seen = Vec::new();
    let token = api_token(&svc, "auditor.canary", Role::Auditor).await;
    let admin_token = api_token(&svc, "admin.canary", Role::Admin).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve(svc.clone(), listener, std::future::pending()));
    let http = reqwest::Client::new();
    // A host admin SSH key attached over the API: none of its private lines may show either.
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("id_ed25519");
    assert!(std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key_file).status().unwrap().success());
    let pem = std::fs::read_to_string(&key_file).unwrap();
    let key_lines: Vec<String> = pem.lines().filter(|l| !l.starts_with("-----")).map(String::from).collect();
    let r = http
        .post(format!("{base}/api/v1/requests/{id}/host-admin-key"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({ "private_key": pem }))
        .send()
        .await
        .unwrap();
    let (status, body) = (r.status(), r.text().await.unwrap());
    assert!(status.is_success() && body.contains("SHA256:"), "{status} {body}");
    seen.push(("attach-key response".to_string(), body));
    for (path, t) in [
        (format!("/api/v1/requests/{id}"), &token),
        (format!("/api/v1/requests/{id}/runs"), &token),
        (format!("/api/v1/requests/{id}/audit"), &token),
        ("/api/v1/requests?limit=100".to_string(), &token),
        (format!("/api/v1/requests/{id}/documents/persetujuan?format=html"), &admin_token),
        (format!("/api/v1/requests/{id}/documents/berita-acara?format=html"), &admin_token),
        (format!("/api/v1/privacy/{}", sample_form().official.nip), &admin_token),
    ] {
        let r = http.get(format!("{base}{path}")).bearer_auth(t).send().await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success() || path.contains("documents"), "{path}: {status} {body:.200}");
        seen.push((path, body));
    }
    for table in ["audit", "run_events", "requests", "request_events", "secrets", "api_tokens", "users"] {
        let rows: Vec<sqlx::any::AnyRow> = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}"))).fetch_all(svc.store.pool()).await.unwrap();
        let mut text = String::new();
        for r in &rows {
            use sqlx::Row;
            for i in 0..r.len() {
                if let Ok(Some(v)) = r.try_get::<Option<String>, _>(i) {
                    text.push_str(&v);
                    text.push('\n');
                }
            }
        }
        assert!(!rows.is_empty() || table == "api_tokens", "{table} is empty");
        seen.push((format!("table {table}"), text));
    }
    let failed_step: String = sqlx::query_scalar("SELECT error FROM run_events WHERE error IS NOT NULL LIMIT 1").fetch_one(svc.store.pool()).await.unwrap();
    assert!(!failed_step.is_empty(), "the failure is in the run log");
    seen.push(("trace logs".into(), String::from_utf8_lossy(&logs.lock().unwrap()).to_string()));
    assert!(seen.last().unwrap().1.contains("TRACE") || seen.last().unwrap().1.contains("DEBUG"), "logs were captured at trace level");
    for (where_, text) in &seen {
        for canary in [CANARY, TSIG_CANARY, "CANARY-tsig-key"] {
            assert!(!text.contains(canary), "{canary} leaked into {where_}");
        }
        for line in &key_lines {
            assert!(!text.contains(line.as_str()), "a line of the host admin's private key leaked into {where_}");
        }
    }
}
