//! Tamper evidence: editing, deleting or reordering one audit row directly in the database makes
//! `audit verify` fail and name the row, on SQLite and PostgreSQL, through the service and the
//! CLI.

mod common;

use common::*;
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::service::Command;

on_both_databases!(edited_deleted_and_reordered_rows_are_named, attackers_without_the_key_are_caught_by_mac_or_checkpoint, a_request_proof_verifies_offline_and_tampering_is_named);

/// A store with a few audit rows (pools, submit, verify, a read): returns the service.
async fn audited_store(db: &TestDb) -> kolokasi::service::Service {
    let svc = service(db).await;
    let id = svc.submit(&requester(), sample_form()).await.unwrap();
    svc.apply(&admin(), &id, Command::Verify { reason: Some("lengkap".into()) }).await.unwrap();
    svc.request(&admin(), &id).await.unwrap();
    let rows = svc.verify_audit(&admin()).await.unwrap().unwrap();
    assert!(rows >= 5, "{rows}");
    svc
}

async fn sql(svc: &kolokasi::service::Service, statements: &[&str]) {
    for s in statements {
        sqlx::query(sqlx::AssertSqlSafe(*s)).execute(svc.store.pool()).await.unwrap();
    }
}

async fn edited_deleted_and_reordered_rows_are_named(db: Db) {
    let auditor = Actor::new("inspektorat", Role::Auditor).unwrap();
    let cases: [(&str, &[&str], i64, &str); 4] = [
        ("edit", &["UPDATE audit SET reason = 'tidak ada apa-apa' WHERE seq = 4"], 4, "edited"),
        ("edit actor", &["UPDATE audit SET actor = 'someone.else' WHERE seq = 3"], 3, "edited"),
        ("delete", &["DELETE FROM audit WHERE seq = 3"], 3, "missing"),
        ("reorder", &["UPDATE audit SET seq = -1 WHERE seq = 3", "UPDATE audit SET seq = 3 WHERE seq = 4", "UPDATE audit SET seq = 4 WHERE seq = -1"], 3, "previous row"),
    ];
    for (what, statements, row, problem) in cases {
        let db = fresh_db(db).await;
        let svc = audited_store(&db).await;
        sql(&svc, statements).await;
        let broken = svc.verify_audit(&auditor).await.unwrap().expect_err(what);
        assert_eq!(broken.seq, row, "{what}: {broken:?}");
        assert!(broken.problem.contains(problem), "{what}: {broken:?}");
    }

    // The CLI says so too, naming the row, with a non-zero exit.
    let db = fresh_db(db).await;
    let svc = audited_store(&db).await;
    sql(&svc, &["UPDATE audit SET after_json = '{\"state\":\"approved\"}' WHERE seq = 4"]).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kolokasi"))
        .args(["audit", "verify", "--actor", "inspektorat", "--role", "auditor"])
        // Without the master key: hashes and links only, and it says so.
        // In the environment, not an argument: a URL with a password on the command line is refused.
        .env("KOLOKASI_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("BROKEN at row 4"), "{stdout}");
}


/// `kolokasi audit …` against `db` with the tests' master key, as the auditor.
fn cli(db: &TestDb, args: &[&str]) -> (i32, String) {
    use base64::Engine;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kolokasi"))
        .arg("audit")
        .args(args)
        .args(["--actor", "inspektorat", "--role", "auditor"])
        .env("KOLOKASI_DATABASE_URL", &db.url)
        .env("KOLOKASI_MASTER_KEY", base64::engine::general_purpose::STANDARD.encode([42u8; 32]))
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Recomputes every v2 digest and hash from `from` on, and the head, as an attacker with the
/// database but not the audit key can (the spec's formulas; MACs are left as they were).
async fn rechain(svc: &kolokasi::service::Service, from: i64) {
    use sha2::{Digest, Sha256};
    use sqlx::Row;
    let pool = svc.store.pool();
    let prev: String = sqlx::query("SELECT hash FROM audit WHERE seq = $1").bind(from - 1).fetch_one(pool).await.unwrap().get(0);
    let rows = sqlx::query("SELECT seq, at, actor, role, request_id, action, reason, before_json, after_json FROM audit WHERE seq >= $1 ORDER BY seq")
        .bind(from)
        .fetch_all(pool)
        .await
        .unwrap();
    let mut prev = prev;
    let mut last = from - 1;
    for r in rows {
        let seq: i64 = r.get(0);
        let canonical = serde_json::json!([
            seq,
            r.get::<i64, _>(1),
            r.get::<String, _>(2),
            r.get::<String, _>(3),
            r.get::<Option<String>, _>(4),
            r.get::<String, _>(5),
            r.get::<Option<String>, _>(6),
            r.get::<Option<String>, _>(7),
            r.get::<Option<String>, _>(8)
        ]);
        let digest = hex::encode(Sha256::digest(canonical.to_string().as_bytes()));
        let hash = hex::encode(Sha256::digest(format!("kolokasi-audit-v2\n{prev}\n{seq}\n{digest}").as_bytes()));
        sqlx::query("UPDATE audit SET prev_hash = $1, digest = $2, hash = $3 WHERE seq = $4").bind(&prev).bind(&digest).bind(&hash).bind(seq).execute(pool).await.unwrap();
        prev = hash;
        last = seq;
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1").bind(last).bind(&prev).execute(pool).await.unwrap();
}

async fn attackers_without_the_key_are_caught_by_mac_or_checkpoint(db: Db) {
    // Edit a reason and recompute every hash after it: the MAC of that row no longer fits.
    let t = fresh_db(db).await;
    let svc = audited_store(&t).await;
    sql(&svc, &["UPDATE audit SET reason = 'tidak ada apa-apa' WHERE seq = 4"]).await;
    rechain(&svc, 4).await;
    let (code, out) = cli(&t, &["verify"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("BROKEN at row 4") && out.contains("MAC does not match"), "{out}");

    // Delete a middle row and re-link the rest: the next row's MAC fails (its hash moved).
    let t = fresh_db(db).await;
    let svc = audited_store(&t).await;
    sql(&svc, &["DELETE FROM audit WHERE seq = 3", "UPDATE audit SET seq = -seq WHERE seq > 3", "UPDATE audit SET seq = -seq - 1 WHERE seq < 0"]).await;
    rechain(&svc, 3).await;
    let (code, out) = cli(&t, &["verify", "--json"]);
    assert_eq!(code, 2, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["break"]["seq"], 3, "{out}");

    // Insert a forged row at the end with good hashes: it has no MAC (or a made-up one).
    let t = fresh_db(db).await;
    let svc = audited_store(&t).await;
    let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head").fetch_one(svc.store.pool()).await.unwrap();
    let forged = format!(
        "INSERT INTO audit (seq, at, actor, role, request_id, action, reason, before_json, after_json, prev_hash, hash, version, digest, mac, key_id)
         SELECT {}, at, 'kepala', 'head', request_id, 'request.approve', 'palsu', NULL, NULL, '', '', 2, '', '', '' FROM audit WHERE seq = {head}",
        head + 1
    );
    sql(&svc, &[&forged]).await;
    rechain(&svc, head + 1).await;
    let broken = svc.verify_audit(&admin()).await.unwrap().unwrap_err();
    assert_eq!(broken.seq, head + 1, "{broken:?}");
    assert!(broken.problem.contains("no MAC"), "{broken:?}");
    sql(&svc, &[&format!("UPDATE audit SET mac = 'ab', key_id = 'deadbeef' WHERE seq = {}", head + 1)]).await;
    assert!(svc.verify_audit(&admin()).await.unwrap().unwrap_err().problem.contains("does not hold"));

    // Cut off the tail and fix the head: every MAC still fits, the checkpoint file says otherwise.
    let t = fresh_db(db).await;
    let svc = audited_store(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkpoints.jsonl");
    let (code, out) = cli(&t, &["checkpoint", "--to", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = cli(&t, &["verify", "--checkpoints", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("checkpoints checked 1"), "{out}");
    let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head").fetch_one(svc.store.pool()).await.unwrap();
    sql(&svc, &[&format!("DELETE FROM audit WHERE seq > {}", head - 2)]).await;
    sql(&svc, &[&format!("UPDATE audit_head SET seq = {0}, hash = (SELECT hash FROM audit WHERE seq = {0}) WHERE id = 1", head - 2)]).await;
    assert!(svc.verify_audit(&admin()).await.unwrap().is_ok(), "without the checkpoint the cut is invisible");
    let (code, out) = cli(&t, &["verify", "--checkpoints", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&format!("BROKEN at row {}", head - 1)) && out.contains("tail was cut off"), "{out}");
}

async fn a_request_proof_verifies_offline_and_tampering_is_named(db: Db) {
    use kolokasi::store::audit::proof::{self, AuditProof, ProofError, SignedBy};
    let t = fresh_db(db).await;
    let svc = service(&t).await;
    let id = svc.submit(&requester(), sample_form()).await.unwrap();
    let other = svc.submit(&requester(), sample_form()).await.unwrap();
    svc.apply(&admin(), &id, Command::Verify { reason: Some("lengkap".into()) }).await.unwrap();
    svc.apply(&admin(), &other, Command::Verify { reason: None }).await.unwrap();
    let text = serde_json::to_string(&svc.store.audit_proof(id.as_str()).await.unwrap()).unwrap();
    // Offline: only the JSON and the checkpoint key, taken from the store beforehand.
    let proof: AuditProof = serde_json::from_str(&text).unwrap();
    let keys = svc.store.audit_checkpoint_keys().await.unwrap();
    let trusted = keys.get(&proof.checkpoint.key_id).unwrap();
    let summary = proof::verify(&proof, Some(trusted)).unwrap();
    assert_eq!(summary.signed_by, SignedBy::TrustedKey);
    assert!(summary.rows > summary.entries && summary.entries >= 2, "{summary:?}");
    assert!(!text.contains(other.as_str()), "another request's rows carry no content");
    assert_eq!(proof::verify(&proof, None).unwrap().signed_by, SignedBy::EmbeddedKey);

    let own = proof.rows.iter().position(|r| r.entry.is_some()).unwrap();
    let mut p = proof.clone();
    p.rows[own].entry.as_mut().unwrap().actor = "mallory".into();
    assert_eq!(proof::verify(&p, None), Err(ProofError::Digest { seq: p.rows[own].seq }));
    let mut p = proof.clone();
    p.rows[1].digest = "00".repeat(32);
    assert_eq!(proof::verify(&p, None), Err(ProofError::Hash { seq: p.rows[1].seq }));
    let mut p = proof.clone();
    p.rows[2].prev_hash = p.rows[0].hash.clone();
    assert_eq!(proof::verify(&p, None), Err(ProofError::Link { seq: p.rows[2].seq }));
    let mut p = proof.clone();
    p.checkpoint.signature = "00".repeat(64);
    assert!(matches!(proof::verify(&p, None), Err(ProofError::Signature(_))));
    let other_key = hex::encode([1u8; 32]);
    assert!(matches!(proof::verify(&proof, Some(&other_key)), Err(ProofError::Signature(_))));
    let mut p = proof.clone();
    p.rows.pop();
    assert!(matches!(proof::verify(&p, None), Err(ProofError::Head { .. })));
}
