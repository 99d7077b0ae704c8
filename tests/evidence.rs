//! The evidence bundle on the real lab, on SQLite and PostgreSQL: a co-location request
//! provisioned (DNS, switch port, firewall, inspection) and decommissioned on the lab is
//! exported with the CLI binary; `evidence verify` passes offline; the bundle holds both
//! device read-backs (as written after provisioning, gone after decommission), the inspection,
//! the documents and the audit slice, and no secret; a changed file, a dropped file, an edited
//! audit row and a consistently rewritten manifest are each named.

mod common;

use std::io::{Read, Write};
use std::process::{Command as Process, Output};

use common::*;
use kolokasi::domain::{HardwareReceipt, RequestId, Revocation};
use kolokasi::engine::{Engine, RunStatus};
use kolokasi::service::{Command, Service};
use serde_json::Value;

on_both_databases!(exported_bundle_verifies_offline_and_names_every_tampering,);

fn quiet(_: &kolokasi::engine::Progress) {}

/// A co-location request provisioned on the lab (hardware on `port`), then revoked and
/// decommissioned, so the lab is left as it was found.
async fn provisioned_and_decommissioned(svc: &Service, engine: &Engine, port: &str) -> RequestId {
    reset_lab_port(port);
    let id = approved_request(svc, sample_form()).await;
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let receipt = HardwareReceipt { serial_number: text("SN-EVIDENCE-1"), type_brand: text("Dell R650"), switch_port: Some(text(port)), host_key: None };
    svc.apply(&inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    let view = engine.drive(&Engine::run_id(id.as_str(), "colocation"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    let revocation = Revocation { reasons: vec![text("selesai diuji")], effective: None, approved_by: None };
    svc.apply(&requester(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = engine.drive(&Engine::run_id(id.as_str(), "decommission"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    reset_lab_port(port);
    id
}

fn cli(url: &str, args: &[&str]) -> Output {
    Process::new(env!("CARGO_BIN_EXE_kolokasi"))
        .args(args)
        .env("KOLOKASI_DATABASE_URL", url)
        .env("KOLOKASI_MASTER_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
        .env("KOLOKASI_PLAYBOOK_DIR", "playbooks")
        .env_remove("KOLOKASI_CONFIG")
        .output()
        .unwrap()
}

/// `evidence verify --json` with nothing but the archive: no database, no configuration.
fn verify(archive: &std::path::Path) -> (Option<i32>, Value) {
    let out = Process::new(env!("CARGO_BIN_EXE_kolokasi"))
        .args(["evidence", "verify", archive.to_str().unwrap(), "--json"])
        .env_clear()
        .env("KOLOKASI_CONFIG", "/nonexistent/kolokasi.yaml")
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (f.name().unwrap().to_string(), bytes)
        })
        .collect()
}

fn rewrite(files: &[(String, Vec<u8>)], to: &std::path::Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    for (name, bytes) in files {
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

fn json_of(files: &[(String, Vec<u8>)], name: &str) -> Value {
    let (_, bytes) = files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} not in the bundle: {:?}", files.iter().map(|f| &f.0).collect::<Vec<_>>()));
    serde_json::from_slice(bytes).unwrap()
}

fn problems(report: &Value) -> String {
    report["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

async fn exported_bundle_verifies_offline_and_names_every_tampering(db: Db) {
    let _guard = lab_dns_lock().await;
    let tdb = fresh_db(db).await;
    let engine = lab_engine(service(&tdb).await);
    let svc = engine.service().clone();
    let port = if matches!(db, Db::Sqlite) { "bp88" } else { "bp89" };
    let id = provisioned_and_decommissioned(&svc, &engine, port).await;
    // Another unit's request, audited after it: its rows are in the slice, linked, undisclosed.
    let mut other = hosting_form();
    other.domain = sample_form().domain;
    let other_domain = other.domain.to_string();
    svc.submit(&admin(), other).await.unwrap();

    // Exported through the CLI binary, as an admin.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("bundle.zip");
    let out = cli(&tdb.url, &["evidence", "export", id.as_str(), "-o", archive.to_str().unwrap(), "--actor", "admin.tik", "--role", "admin", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("export: {summary}");
    let bytes = std::fs::read(&archive).unwrap();

    // A requester may not export.
    let out = cli(&tdb.url, &["evidence", "export", id.as_str(), "-o", dir.path().join("x.zip").to_str().unwrap(), "--actor", "budi", "--role", "requester", "--unit", SAMPLE_UNIT]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("admin, auditor"), "{}", String::from_utf8_lossy(&out.stderr));

    // Offline verification passes.
    let started = std::time::Instant::now();
    let (code, report) = verify(&archive);
    println!("verify: {} ms, {} bytes", started.elapsed().as_millis(), bytes.len());
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["ok"], true);
    let text = Process::new(env!("CARGO_BIN_EXE_kolokasi")).args(["evidence", "verify", archive.to_str().unwrap()]).env_clear().output().unwrap();
    assert!(text.status.success());
    println!("{}", String::from_utf8_lossy(&text.stdout));

    // What is inside: forms and history, both runs, both read-backs, inspection, documents.
    let files = entries(&bytes);
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    for expected in ["manifest.json", "request.json", "runs/colocation.json", "runs/decommission.json", "readback/provisioning-1.json", "readback/decommission-1.json", "audit/proof.json"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(names.iter().any(|n| n.starts_with("inspection/colocation-")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("documents/") && n.ends_with(".pdf")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("documents/") && n.ends_with(".html")), "{names:?}");
    let request = json_of(&files, "request.json");
    assert_eq!(request["state"], "decommissioned");
    assert!(request["history"].as_array().unwrap().len() >= 8, "{request:#}");
    let run = json_of(&files, "runs/colocation.json");
    let first = &run["events"][0];
    assert!(first["at"].is_string() && first["actor"].is_string() && first["step"].is_string(), "{first}");

    let provisioning = json_of(&files, "readback/provisioning-1.json");
    let items = provisioning["snapshot"]["items"].as_array().unwrap();
    assert!(items.len() >= 7, "A, AAAA, PTRs, CNAME, port, rules, map: {provisioning:#}");
    assert!(items.iter().all(|i| i["state"] == "as_written"), "{provisioning:#}");
    let a = items.iter().find(|i| i["item"].as_str().unwrap().ends_with("/A") && i["item"].as_str().unwrap().starts_with("dns:")).unwrap();
    assert_eq!(a["found"], a["written"], "{a}");
    assert!(items.iter().any(|i| i["item"].as_str().unwrap().starts_with("switch:") && i["item"].as_str().unwrap().ends_with(&format!("/{port}")) && i["found"]["exists"] == true), "{provisioning:#}");
    let decommission = json_of(&files, "readback/decommission-1.json");
    let gone = decommission["snapshot"]["items"].as_array().unwrap();
    assert_eq!(gone.len(), items.len(), "the same items read back after decommission");
    for i in gone.iter().filter(|i| i["item"].as_str().unwrap().starts_with("dns:")) {
        assert_eq!((i["state"].as_str(), i["found"].clone()), (Some("differs"), serde_json::json!([])), "removed from DNS: {i}");
    }
    assert!(gone.iter().filter(|i| !i["item"].as_str().unwrap().ends_with("/jump")).all(|i| i["state"] != "as_written"), "nothing of the request is left: {decommission:#}");
    let proof = json_of(&files, "audit/proof.json");
    let undisclosed = proof["rows"].as_array().unwrap().iter().filter(|r| r["entry"].is_null()).count();
    assert!(undisclosed >= 1, "the other request's rows are linked only: {proof:#}");
    assert!(!proof.to_string().contains(&other_domain), "another request's content is not disclosed");
    let inspection = files.iter().find(|f| f.0.starts_with("inspection/")).map(|f| serde_json::from_slice::<Value>(&f.1).unwrap()).unwrap();
    assert!(inspection["facts"].is_object() && inspection["report"].is_object(), "{inspection:#}");

    // No secret: the host admin password is neither in the archive nor in any file of it.
    assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()));
    for (name, content) in &files {
        assert!(!content.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()), "{name} holds the host admin password");
    }
    assert!(String::from_utf8_lossy(&json_of(&files, "request.json").to_string().into_bytes()).contains("[redacted]"), "the sealed password is redacted too");

    // The export is audited: who exported which request's evidence, with each file's hash.
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    let row = audit.iter().find(|a| a.action == "evidence.export").expect("the export is audited");
    assert_eq!((row.actor.as_str(), row.role.as_str()), ("admin.tik", "admin"));
    assert!(row.after.as_ref().unwrap()["files"].as_array().unwrap().len() >= 10);

    // The auditor gets the same bundle over the API, and it verifies too.
    let token = api_token(&svc, "inspektorat", kolokasi::lifecycle::Role::Auditor).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve(svc.clone(), listener, std::future::pending()));
    let got = reqwest::Client::new().get(format!("{base}/api/v1/requests/{id}/evidence")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/zip");
    let served = got.bytes().await.unwrap();
    let report = kolokasi::evidence::verify(&served, None);
    assert!(report.ok, "{}", report.to_text());
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "evidence.export" && a.actor == "inspektorat" && a.role == "auditor"), "the auditor's export is audited");

    // One file changed: named.
    let bad = dir.path().join("tampered.zip");
    let mut changed = files.clone();
    let at = changed.iter().position(|f| f.0 == "request.json").unwrap();
    changed[at].1 = String::from_utf8(changed[at].1.clone()).unwrap().replace("decommissioned", "active").into_bytes();
    rewrite(&changed, &bad);
    let (code, report) = verify(&bad);
    assert_eq!(code, Some(2));
    assert!(problems(&report).contains("request.json: content changed"), "{report:#}");

    // One file dropped: named.
    let dropped: Vec<_> = files.iter().filter(|f| f.0 != "readback/decommission-1.json").cloned().collect();
    rewrite(&dropped, &bad);
    let (code, report) = verify(&bad);
    assert_eq!(code, Some(2));
    assert!(problems(&report).contains("readback/decommission-1.json: missing"), "{report:#}");

    // An audit row edited in the proof (the manifest's hash of it fixed up too): detected.
    let mut edited = files.clone();
    let at = edited.iter().position(|f| f.0 == "audit/proof.json").unwrap();
    let mut proof: Value = serde_json::from_slice(&edited[at].1).unwrap();
    let row = proof["rows"].as_array_mut().unwrap().iter_mut().find(|r| r["entry"]["action"] == "request.approve").expect("the approval row");
    let seq = row["seq"].clone();
    row["entry"]["actor"] = Value::from("orang.lain");
    edited[at].1 = serde_json::to_vec_pretty(&proof).unwrap();
    fix_manifest(&mut edited, "audit/proof.json");
    rewrite(&edited, &bad);
    let (code, report) = verify(&bad);
    assert_eq!(code, Some(2));
    assert!(problems(&report).contains(&format!("row {seq}'s content does not match its digest")), "{report:#}");

    // A file changed and the manifest rewritten to match: the export's audit row disagrees.
    let mut forged = files.clone();
    let at = forged.iter().position(|f| f.0 == "runs/colocation.json").unwrap();
    let mut run: Value = serde_json::from_slice(&forged[at].1).unwrap();
    run["status"] = Value::from("failed");
    forged[at].1 = serde_json::to_vec_pretty(&run).unwrap();
    fix_manifest(&mut forged, "runs/colocation.json");
    rewrite(&forged, &bad);
    let (code, report) = verify(&bad);
    assert_eq!(code, Some(2));
    assert!(problems(&report).contains("runs/colocation.json: the manifest's hash differs from the one recorded in audit row"), "{report:#}");
}

/// Puts `path`'s new SHA-256 and size into the manifest, as a forger would.
fn fix_manifest(files: &mut [(String, Vec<u8>)], path: &str) {
    let content = files.iter().find(|f| f.0 == path).unwrap().1.clone();
    let at = files.iter().position(|f| f.0 == "manifest.json").unwrap();
    let mut manifest: Value = serde_json::from_slice(&files[at].1).unwrap();
    let entry = manifest["files"].as_array_mut().unwrap().iter_mut().find(|e| e["path"] == path).unwrap();
    entry["sha256"] = Value::from(kolokasi::evidence::manifest::sha256_hex(&content));
    entry["size"] = Value::from(content.len());
    files[at].1 = serde_json::to_vec_pretty(&manifest).unwrap();
}
