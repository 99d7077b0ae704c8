//! Tamper evidence: editing, deleting or reordering one audit row directly in the database makes
//! `audit verify` fail and name the row, on SQLite and PostgreSQL, through the service and the
//! CLI.

mod common;

use common::*;
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::service::Command;

on_both_databases!(edited_deleted_and_reordered_rows_are_named);

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
        // In the environment, not an argument: a URL with a password on the command line is refused.
        .env("KOLOKASI_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("BROKEN at row 4"), "{stdout}");
}
