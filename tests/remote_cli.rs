//! The CLI against a served instance: `--server` with a token from a file or `KOLOKASI_TOKEN`,
//! never from an argument; the server's scope and roles apply.

mod common;

use std::process::Command as Process;

use common::*;
use kolokasi::lifecycle::Role;
use serde_json::Value;

fn kolokasi(server: &str, token_file: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Process::new(env!("CARGO_BIN_EXE_kolokasi"))
        .args(["--server", server, "--token-file", token_file.to_str().unwrap()])
        .args(args)
        // No database here: everything must go through the API.
        .env("KOLOKASI_DATABASE_URL", "sqlite:///nonexistent/dir/never.db")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_drives_a_served_instance_with_a_token() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<std::path::PathBuf> = [("budi", Role::Requester), ("admin.tik", Role::Admin), ("inspektorat", Role::Auditor)]
        .iter()
        .map(|(name, role)| {
            let path = dir.path().join(format!("{name}.token"));
            (path, *name, *role)
        })
        .map(|(path, name, role)| {
            let svc = svc.clone();
            let p = path.clone();
            let token = std::thread::spawn(move || tokio::runtime::Runtime::new().unwrap().block_on(async move { api_token(&svc, name, role).await })).join().unwrap();
            std::fs::write(&p, format!("{token}\n")).unwrap();
            path
        })
        .collect();
    let (requester, admin, auditor) = (&files[0], &files[1], &files[2]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve(svc.clone(), listener, std::future::pending()));

    let run = |file: std::path::PathBuf, args: Vec<String>| {
        let server = server.clone();
        tokio::task::spawn_blocking(move || kolokasi(&server, &file, &args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    let (code, out, err) = run(requester.clone(), s(&["request", "submit", "deploy/examples/colocation-request.yaml", "--json"])).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_string();

    let (code, out, err) = run(requester.clone(), s(&["request", "list"])).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&id), "{out}");
    let (code, out, _) = run(auditor.clone(), s(&["request", "show", &id])).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("Diajukan") || out.contains("submitted"), "{out}");

    // The SOP's roles hold remotely: the requester cannot verify, the admin can.
    let (code, _, err) = run(requester.clone(), s(&["request", "verify", &id])).await.unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("403"), "{err}");
    let (code, out, err) = run(admin.clone(), s(&["request", "verify", &id, "--reason", "lengkap"])).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("verified"), "{out}");
    let (code, out, err) = run(auditor.clone(), s(&["run", "status", &id])).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no run yet"), "{out}");

    // A bad token is refused by the server; the token never shows in output.
    let bad = dir.path().join("bad.token");
    std::fs::write(&bad, format!("klk_{}", "0".repeat(64))).unwrap();
    let (code, _, err) = run(bad, s(&["request", "list"])).await.unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("401"), "{err}");
    let token = std::fs::read_to_string(admin).unwrap();
    assert!(!err.contains(token.trim()));
    let audit: Vec<String> = sqlx::query_scalar("SELECT actor FROM audit WHERE request_id = $1 ORDER BY seq").bind(&id).fetch_all(svc.store.pool()).await.unwrap();
    assert!(audit.contains(&"budi".to_string()) && audit.contains(&"admin.tik".to_string()), "{audit:?}");
}
