//! The REST API on a real port against a fresh database: the SOP over HTTP, error bodies,
//! hostile bodies, the OpenAPI document, and no password in responses or trace-level logs.

mod common;

use common::*;
use serde_json::{Value, json};

struct App {
    base: String,
    http: reqwest::Client,
    /// An API token per (user, role) the tests act as.
    tokens: std::collections::HashMap<(String, String), String>,
    _db: TestDb,
}

impl App {
    async fn start(db: Db) -> Self {
        let _ = captured_logs();
        let db = fresh_db(db).await;
        let svc = service(&db).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut tokens = std::collections::HashMap::new();
        for (who, role) in [("budi", "requester"), ("admin.tik", "admin"), ("pengelola", "operator"), ("x", "auditor")] {
            tokens.insert((who.to_string(), role.to_string()), api_token(&svc, who, role.parse().unwrap()).await);
        }
        tokio::spawn(kolokasi::api::serve(svc, listener, std::future::pending()));
        Self { base, http: reqwest::Client::new(), tokens, _db: db }
    }

    fn as_(&self, method: reqwest::Method, path: &str, who: &str, role: &str) -> reqwest::RequestBuilder {
        let token = self.tokens.get(&(who.to_string(), role.to_string())).map_or("klk_not-a-token", String::as_str);
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token)
    }

    async fn event(&self, id: &str, who: &str, role: &str, body: Value) -> (u16, Value) {
        let r = self.as_(reqwest::Method::POST, &format!("/api/v1/requests/{id}/events"), who, role).json(&body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

fn form_json() -> Value {
    serde_json::to_value(sample_form()).unwrap()
}

on_both_databases!(sop_over_http);

async fn sop_over_http(db: Db) {
    let app = App::start(db).await;
    let r = app.as_(reqwest::Method::POST, "/api/v1/requests", "budi", "requester").json(&form_json()).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    assert_eq!(app.event(&id, "admin.tik", "admin", json!({"event": "verify", "reason": "lengkap"})).await.0, 200);
    let (s, body) = app.event(&id, "pengelola", "operator", json!({"event": "check_capacity"})).await;
    assert_eq!((s, body["state"].as_str()), (200, Some("capacity_confirmed")));
    assert_eq!(app.event(&id, "budi", "requester", json!({"event": "complete_form"})).await.0, 200);
    let (s, body) = app
        .event(&id, "admin.tik", "admin", json!({"event": "approve", "place": "Samarinda", "reasons": ["ok"], "host_admin_user": "root", "host_admin_password": CANARY}))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["state"], "approved");

    let r = app.as_(reqwest::Method::GET, &format!("/api/v1/requests/{id}"), "budi", "requester").send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(!text.contains(CANARY));
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["approval"]["colocation"]["host_admin"]["password"], "[redacted]");
    assert_eq!(view["history"].as_array().unwrap().len(), 4);
    assert_eq!(view["sla"]["budget_seconds"], 4 * 86_400);

    let list: Value = app.as_(reqwest::Method::GET, "/api/v1/requests?state=approved", "x", "auditor").send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let audit = app.as_(reqwest::Method::GET, &format!("/api/v1/requests/{id}/audit"), "x", "auditor").send().await.unwrap().text().await.unwrap();
    assert!(!audit.contains(CANARY));
    let runs: Value = app.as_(reqwest::Method::GET, &format!("/api/v1/requests/{id}/runs"), "x", "auditor").send().await.unwrap().json().await.unwrap();
    assert_eq!(runs["items"], json!([]), "no run before provisioning starts");
    let verify: Value = app.as_(reqwest::Method::GET, "/api/v1/audit/verify", "x", "auditor").send().await.unwrap().json().await.unwrap();
    assert_eq!(verify["ok"], true);

    let logs = String::from_utf8_lossy(&captured_logs().lock().unwrap()).to_string();
    assert!(logs.contains("request moved"), "trace logs were captured");
    assert!(!logs.contains(CANARY), "the password leaked into the logs");
}

#[tokio::test]
async fn errors_are_clear_and_typed() {
    let app = App::start(Db::Sqlite).await;
    // No identity.
    let r = app.http.get(format!("{}/api/v1/requests", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    // A token nobody issued.
    let r = app.as_(reqwest::Method::GET, "/api/v1/requests", "x", "root").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    // A bad field names its path.
    let mut f = form_json();
    f["servers"][0]["ram_gb"] = json!("banyak");
    let r = app.as_(reqwest::Method::POST, "/api/v1/requests", "budi", "requester").json(&f).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let msg = r.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("servers[0].ram_gb"), "{msg}");
    // A bad NIP says what is wrong.
    let mut f = form_json();
    f["official"]["nip"] = json!("198503152010013002");
    let r = app.as_(reqwest::Method::POST, "/api/v1/requests", "budi", "requester").json(&f).send().await.unwrap();
    assert!(r.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("sex"));
    // Malformed UTF-8, oversized and deeply nested bodies get 4xx, not 500.
    let r = app.as_(reqwest::Method::POST, "/api/v1/requests", "budi", "requester").body(vec![0xff, 0xfe, b'{']).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = app.as_(reqwest::Method::POST, "/api/v1/requests", "budi", "requester").body(vec![b' '; 2 * 1024 * 1024]).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = app.as_(reqwest::Method::POST, "/api/v1/requests", "budi", "requester").body(deep).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // Unknown request, bad request number.
    let r = app.as_(reqwest::Method::GET, "/api/v1/requests/KLK-2026-99999", "x", "auditor").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = app.as_(reqwest::Method::GET, "/api/v1/requests/1%27%20OR%201=1", "x", "auditor").send().await.unwrap();
    assert_eq!(r.status(), 400);
    // Illegal move: 409; wrong role: 403; unknown event: 400.
    let r = app.as_(reqwest::Method::POST, "/api/v1/requests", "budi", "requester").json(&form_json()).send().await.unwrap();
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let (s, b) = app.event(&id, "admin.tik", "admin", json!({"event": "complete_form"})).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"]["message"], "cannot complete_form a request that is submitted");
    // A run outcome by hand: 409, saying that the run decides it.
    let (s, b) = app.event(&id, "admin.tik", "admin", json!({"event": "hand_over"})).await;
    assert_eq!(s, 409, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("follows the request's run"), "{b}");
    assert_eq!(app.event(&id, "budi", "requester", json!({"event": "verify"})).await.0, 403);
    assert_eq!(app.event(&id, "admin.tik", "admin", json!({"event": "self_destruct"})).await.0, 400);
    let (s, b) = app.event(&id, "admin.tik", "admin", json!({"event": "verify", "surprise": 1})).await;
    assert_eq!(s, 400, "{b}");
}

#[tokio::test]
async fn health_and_openapi_cover_every_route() {
    let app = App::start(Db::Sqlite).await;
    let h: Value = app.http.get(format!("{}/health", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(h["database"], "ok");
    let spec: Value = app.http.get(format!("{}/api/v1/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    // The document is generated from the router's own routes; tests/openapi.rs checks both
    // directions and the responses against it.
    let paths = spec["paths"].as_object().unwrap();
    for path in ["/api/v1/requests", "/api/v1/requests/{id}", "/api/v1/requests/{id}/events", "/api/v1/requests/{id}/runs", "/api/v1/assets"] {
        assert!(paths.contains_key(path), "route {path} is missing from openapi.json");
    }
    assert!(paths.len() >= 20, "{} paths", paths.len());
}
