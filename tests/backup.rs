//! Backup and restore (the SOP's companion "backup dan restore database") on both databases
//! and across them: a store with requests, runs, addresses, a sealed secret and its audit
//! trail is backed up, restored into a fresh store, and every table compared; the restored
//! audit chain verifies. A damaged or forged backup, or a store that is not empty, is refused
//! and leaves the target untouched.

mod common;
#[path = "support/quick_playbooks.rs"]
mod quick_playbooks;

use std::path::Path;
use std::process::Command as Process;

use common::*;
use kolokasi::secrets::{Secret, SecretKind};
use kolokasi::store::Store;
use kolokasi::store::backup::{BackupError, read_backup};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A store with two requests (one provisioned by a real run), a sealed secret and its audit rows.
async fn populated(db: &TestDb) -> kolokasi::service::Service {
    let dir = quick_playbooks::dir(&quick_playbooks::colocation(""));
    let engine = quick_playbooks::engine(service(db).await, dir.path());
    let (_, run) = quick_playbooks::started_run(&engine, sample_form()).await;
    engine.drive(&run, &|_| {}).await.unwrap();
    approved_request(engine.service(), sample_form()).await;
    engine.service().set_secret(&admin(), "fw-1-api", SecretKind::ApiKey, &Secret::new("s3cret-api-key")).await.unwrap();
    engine.service().clone()
}

/// Every table of a backup file, rows sorted (text order differs between the backends).
fn tables(path: &Path) -> Vec<(String, Vec<String>, Vec<String>)> {
    let (manifest, rows) = read_backup(path).unwrap_or_else(|e| panic!("{e}"));
    manifest
        .tables
        .iter()
        .zip(rows)
        .map(|(t, rows)| {
            let mut columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
            // Compare by column name: the column order may differ between backends.
            let mut order: Vec<usize> = (0..columns.len()).collect();
            order.sort_by_key(|&i| columns[i].clone());
            let mut lines: Vec<String> = rows.iter().map(|r| serde_json::to_string(&order.iter().map(|&i| r[i].clone()).collect::<Vec<Value>>()).unwrap()).collect();
            lines.sort();
            columns.sort();
            (t.name.clone(), columns, lines)
        })
        .collect()
}

async fn round_trip(from: Db, to: Db) {
    let source = fresh_db(from).await;
    let svc = populated(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kolokasi.backup");
    let manifest = svc.store.backup_to(&file).await.unwrap();
    assert!(manifest.tables.iter().any(|t| t.name == "requests" && t.rows == 2), "{manifest:?}");
    assert!(manifest.tables.iter().any(|t| t.name == "run_events" && t.rows > 0));
    assert!(manifest.tables.iter().any(|t| t.name == "secrets" && t.rows == 1));
    assert!(manifest.audit_head.seq > 5);
    // The backup holds the secret sealed, never in clear.
    assert!(!std::fs::read_to_string(&file).unwrap().contains("s3cret-api-key"));

    let target = fresh_db(to).await;
    let store = Store::connect(&target.url).await.unwrap();
    let report = store.restore_from(&file, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.audit_rows_verified, manifest.audit_head.seq);
    assert_eq!(store.audit_verify().await.unwrap(), Ok(manifest.audit_head.seq));

    // Every table equal: back the restored store up again and compare.
    let again = dir.path().join("again.backup");
    let second = store.backup_to(&again).await.unwrap();
    assert_eq!(tables(&file), tables(&again));
    assert_eq!(second.audit_head, manifest.audit_head);
    if std::mem::discriminant(&from) == std::mem::discriminant(&to) {
        assert_eq!(second.content_sha256, manifest.content_sha256, "same backend, same bytes");
    }
    // The restored store works: the secret opens with the same master key, requests list.
    let restored = service(&target).await;
    assert_eq!(restored.secret("fw-1-api").await.unwrap().expose(), "s3cret-api-key");
    let all = kolokasi::store::ListFilter { limit: 100, ..Default::default() };
    let domains = |v: Vec<kolokasi::store::RequestSummary>| v.into_iter().map(|r| r.domain).collect::<Vec<_>>();
    assert_eq!(domains(restored.store.list_requests(&all).await.unwrap()), domains(svc.store.list_requests(&all).await.unwrap()));

    // A store that is not empty is refused unless forced.
    let err = store.restore_from(&file, false).await.unwrap_err();
    assert!(matches!(err, BackupError::NotEmpty(_)), "{err}");
    store.restore_from(&file, true).await.unwrap();
}

async fn same_backend(db: Db) {
    round_trip(db, db).await;
}

async fn damaged_and_forged_backups_are_refused(db: Db) {
    let source = fresh_db(db).await;
    let svc = populated(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kolokasi.backup");
    svc.store.backup_to(&file).await.unwrap();
    let text = std::fs::read_to_string(&file).unwrap();

    // One character of a request changed: the table no longer matches its checksum.
    let damaged = dir.path().join("damaged.backup");
    let line = text.lines().find(|l| l.starts_with("{\"r\":") && l.contains("\"t\":\"requests\"")).expect("a request line").to_string();
    std::fs::write(&damaged, text.replacen(&line, &line.replacen("kaltimprov", "kaltimprof", 1), 1)).unwrap();
    let target = fresh_db(db).await;
    let store = Store::connect(&target.url).await.unwrap();
    let err = store.restore_from(&damaged, false).await.unwrap_err();
    assert!(err.to_string().contains("damaged") && err.to_string().contains("requests"), "{err}");

    // An audit row edited and every checksum recomputed (a forger's copy): the restored chain
    // breaks at that row, and nothing is restored.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let i = lines.iter().position(|l| l.contains("\"t\":\"audit\"")).expect("an audit line") + 2;
    let mut row: Value = serde_json::from_str(&lines[i]).unwrap();
    let seq = row["r"][0].as_i64().unwrap();
    row["r"][2] = Value::String("someone.else".into());
    lines[i] = row.to_string();
    let mut manifest: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    let body = &lines[..lines.len() - 1];
    for t in manifest["manifest"]["tables"].as_array_mut().unwrap() {
        let name = t["name"].as_str().unwrap().to_string();
        let mut sha = Sha256::new();
        for l in body.iter().filter(|l| serde_json::from_str::<Value>(l).unwrap()["t"] == name.as_str()) {
            sha.update(format!("{l}\n").as_bytes());
        }
        t["sha256"] = Value::String(hex::encode(sha.finalize()));
    }
    let mut all = Sha256::new();
    for l in body {
        all.update(format!("{l}\n").as_bytes());
    }
    manifest["manifest"]["content_sha256"] = Value::String(hex::encode(all.finalize()));
    let n = lines.len();
    lines[n - 1] = manifest.to_string();
    let forged = dir.path().join("forged.backup");
    std::fs::write(&forged, lines.join("\n") + "\n").unwrap();
    let err = store.restore_from(&forged, false).await.unwrap_err();
    assert!(matches!(&err, BackupError::Chain { seq: s, .. } if *s == seq), "{err}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests").fetch_one(store.pool()).await.unwrap();
    assert_eq!(count, 0, "nothing was restored");

    // A cut-off copy has no manifest.
    let cut = dir.path().join("cut.backup");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    assert!(matches!(store.restore_from(&cut, false).await.unwrap_err(), BackupError::Format { .. }));
    // The untouched backup still restores.
    store.restore_from(&file, false).await.unwrap();
}

on_both_databases!(same_backend, damaged_and_forged_backups_are_refused);

/// SQLite's own online copy (`VACUUM INTO`) with its manifest: restores into PostgreSQL like
/// the portable format; a changed byte is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_copy_restores_and_is_checked() {
    let source = fresh_db(Db::Sqlite).await;
    let svc = populated(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("kolokasi-copy.db");
    let manifest = svc.store.sqlite_snapshot(&copy).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(manifest.rows["requests"], 2);
    assert!(dir.path().join("kolokasi-copy.db.manifest.json").exists());
    let logical = dir.path().join("logical.backup");
    svc.store.backup_to(&logical).await.unwrap();

    let target = fresh_db(Db::Postgres).await;
    let store = Store::connect(&target.url).await.unwrap();
    let report = store.restore_from(&copy, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.audit_rows_verified, manifest.audit_head.seq);
    let again = dir.path().join("again.backup");
    store.backup_to(&again).await.unwrap();
    assert_eq!(tables(&logical), tables(&again));

    let mut bytes = std::fs::read(&copy).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 1;
    std::fs::write(&copy, bytes).unwrap();
    let empty_db = fresh_db(Db::Sqlite).await;
    let empty = Store::connect(&empty_db.url).await.unwrap();
    let err = empty.restore_from(&copy, false).await.unwrap_err();
    assert!(err.to_string().contains("SHA-256"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_restores_into_postgresql() {
    round_trip(Db::Sqlite, Db::Postgres).await;
}

/// The commands as an operator runs them: `kolokasi backup -o`, `kolokasi restore`, then
/// `kolokasi audit verify` on the restored store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_commands() {
    let source = fresh_db(Db::Sqlite).await;
    populated(&source).await;
    let target = fresh_db(Db::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.jsonl");
    let kolokasi = |url: &str, args: &[&str]| {
        let out = Process::new(env!("CARGO_BIN_EXE_kolokasi"))
            .args(args)
            .env("KOLOKASI_DATABASE_URL", url)
            .env("KOLOKASI_MASTER_KEY", "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=")
            .env("KOLOKASI_ACTOR", "admin.tik")
            .env("KOLOKASI_ROLE", "admin")
            .output()
            .unwrap();
        (out.status, String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (s, out, err) = kolokasi(&source.url, &["backup", "-o", file.to_str().unwrap()]);
    assert!(s.success(), "{out}{err}");
    assert!(out.contains("backup written") && out.contains("sha256"), "{out}");
    let (s, out, err) = kolokasi(&target.url, &["restore", file.to_str().unwrap()]);
    assert!(s.success(), "{out}{err}");
    assert!(out.contains("audit chain intact"), "{out}");
    let (s, out, err) = kolokasi(&target.url, &["audit", "verify"]);
    assert!(s.success(), "{out}{err}");
    // The restore itself is on the record, after the restored chain.
    let (s, out, _) = kolokasi(&target.url, &["--json", "audit", "show", "--limit", "1"]);
    assert!(s.success());
    assert!(out.contains("store.restore"), "{out}");
    // Restoring again into the now non-empty store is refused.
    let (s, _, err) = kolokasi(&target.url, &["restore", file.to_str().unwrap()]);
    assert!(!s.success() && err.contains("not empty"), "{err}");
}
