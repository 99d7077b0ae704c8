//! `kolokasi serve` as a separate process on the real lab, for the tests that must go through
//! the API and the console as users do, with its own worker driving the runs.
#![allow(dead_code)]

use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The master key every test service uses ([42; 32]).
pub const MASTER_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

pub struct Served {
    pub child: Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (the tiny window before `serve` binds it is acceptable in tests).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `serve` on `db_url` with the lab's drivers, a 2 s lease and the given extra environment;
/// returns once `/health/ready` answers.
pub async fn serve(db_url: &str, env: &[(&str, &str)]) -> Served {
    let port = free_port();
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_kolokasi"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("KOLOKASI_DATABASE_URL", db_url)
        .env("KOLOKASI_USE_LAB", "1")
        .env("KOLOKASI_LEASE_SECONDS", "2")
        .env("KOLOKASI_MASTER_KEY", MASTER_KEY)
        .env_remove("KOLOKASI_TEST_CRASH_AT")
        .env_remove("KOLOKASI_TEST_WORKER_PANIC")
        .env_remove("KOLOKASI_PLAYBOOK_DIR")
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("KOLOKASI_TEST_VERBOSE").is_some() { Stdio::inherit() } else { Stdio::null() });
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let served = Served { child, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = served.http.get(format!("{}/health/ready", served.base)).send().await
            && r.status().is_success()
        {
            return served;
        }
        assert!(Instant::now() < deadline, "serve did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Served {
    pub async fn get(&self, token: &str, path: &str) -> Value {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    /// POSTs JSON; returns the status and the body.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).bearer_auth(token).json(body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Waits until `check` holds for the request's runs (as the API reports them).
    pub async fn wait_runs(&self, token: &str, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let runs = self.get(token, &format!("/api/v1/requests/{id}/runs")).await;
            if check(&runs) {
                return runs;
            }
            assert!(Instant::now() < deadline, "waiting for {what}: {runs:#}");
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }
}

/// The run of `playbook` in a runs listing.
pub fn run_of<'a>(runs: &'a Value, playbook: &str) -> Option<&'a Value> {
    runs["items"].as_array()?.iter().find(|r| r["playbook"] == playbook)
}

/// The status of the run of `playbook`, or "" when it does not exist.
pub fn run_status<'a>(runs: &'a Value, playbook: &str) -> &'a str {
    run_of(runs, playbook).and_then(|r| r["view"]["status"].as_str()).unwrap_or("")
}
