//! The authorisation matrix: every REST endpoint × every role × own/other unit → the expected
//! status. Endpoints are read from the generated OpenAPI document (every route is in it, see
//! tests/openapi.rs), so a route added without a row in `expected` fails this test by name.

mod common;

use common::*;
use kolokasi::lifecycle::Role;
use serde_json::{Value, json};

/// What a caller in `role` gets from `method path`; `own` says whether the request in the path
/// belongs to the requester's unit. `None`: the endpoint has no row here yet.
fn expected(method: &str, path: &str, role: Role, own: bool) -> Option<u16> {
    use Role::*;
    let staff = matches!(role, Admin | Supervisor | Operator | Inspector | Head);
    // A request's own pages: a requester sees their unit's, never another's (not found).
    let scoped = |ok: u16| if role == Requester && !own { 404 } else { ok };
    Some(match (method, path) {
        ("get", "/health" | "/health/live" | "/health/ready" | "/metrics" | "/api/v1/openapi.json") => 200,
        ("get", "/api/v1/requests") => 200,
        ("post", "/api/v1/requests") => match role {
            Admin => 201,
            Requester if own => 201,
            _ => 403,
        },
        ("get", "/api/v1/requests/{id}" | "/api/v1/requests/{id}/capacity" | "/api/v1/requests/{id}/audit" | "/api/v1/requests/{id}/runs") => scoped(200),
        ("get", "/api/v1/requests/{id}/documents/{kind}") => scoped(200),
        // Evidence holds every record of the request: the admin and the auditor only.
        ("get", "/api/v1/requests/{id}/evidence") => if matches!(role, Admin | Auditor) { 200 } else { 403 },
        // The body asks to verify a submitted request: the SOP gives that to the admin.
        ("post", "/api/v1/requests/{id}/events") => scoped(if role == Admin { 200 } else { 403 }),
        // The body is not a key: operator and admin get as far as "invalid", others no further.
        ("post", "/api/v1/requests/{id}/host-admin-key") => if matches!(role, Operator | Admin) { 400 } else { 403 },
        ("get", "/api/v1/datacenter" | "/api/v1/datacenter/check" | "/api/v1/assets" | "/api/v1/assets/export") => {
            if staff || role == Auditor { 200 } else { 403 }
        }
        ("get", "/api/v1/audit/verify") => if matches!(role, Admin | Head | Auditor) { 200 } else { 403 },
        // No such asset: the reviewers get as far as "not found".
        ("post", "/api/v1/assets/{id}/reviews") => if matches!(role, Operator | Inspector | Admin | Head) { 404 } else { 403 },
        // A fresh request has no run: those who may operate runs get as far as "not found".
        ("post", "/api/v1/requests/{id}/runs/{playbook}/control") => if matches!(role, Operator | Inspector | Admin) { 404 } else { 403 },
        // A fresh request was never checked (report null); checking one needs it live.
        ("get", "/api/v1/requests/{id}/drift") => scoped(200),
        ("post", "/api/v1/requests/{id}/drift") => if matches!(role, Operator | Admin) { 409 } else { 403 },
        // The body names a name the request does not claim: the admin gets as far as "invalid".
        ("post", "/api/v1/requests/{id}/allowed-names" | "/api/v1/requests/{id}/adopted-records") => if role == Admin { 400 } else { 403 },
        ("get", "/api/v1/privacy/{nip}") => if matches!(role, Admin | Auditor) { 200 } else { 403 },
        _ => return None,
    })
}

fn public(path: &str) -> bool {
    matches!(path, "/health" | "/health/live" | "/health/ready" | "/metrics" | "/api/v1/openapi.json")
}

struct Caller {
    role: Role,
    token: String,
    read_only: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_every_role_own_and_other_unit() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let root = kolokasi::lifecycle::Actor::new("root", Role::Admin).unwrap();
    let mut callers = Vec::new();
    for role in Role::ALL {
        let name = format!("u-{role}");
        let token = api_token(&svc, &name, role).await;
        let (_, read_only) = svc.create_token(&root, &name, true, time::Duration::hours(1)).await.unwrap();
        callers.push(Caller { role, token, read_only: read_only.expose().to_string() });
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve(svc.clone(), listener, std::future::pending()));
    let http = reqwest::Client::new();

    let spec: Value = serde_json::from_str(kolokasi::api::openapi_json()).unwrap();
    let mut routes = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if ops.get(method).is_some() {
                routes.push((method.to_string(), path.clone()));
            }
        }
    }
    let missing: Vec<String> =
        routes.iter().filter(|(m, p)| expected(m, p, Role::Admin, true).is_none()).map(|(m, p)| format!("{} {p}", m.to_uppercase())).collect();
    assert!(missing.is_empty(), "endpoints without a row in tests/authz.rs `expected` (add one): {missing:?}");

    let other_form = hosting_form();
    let official_nip = sample_form().official.nip.to_string();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (method, path) in &routes {
        for c in &callers {
            for own in [true, false] {
                // Fresh requests for each call, so that one call's change cannot decide another's.
                // Each with a name of its own: a name is claimed by one active request only.
                let mut form = if own { sample_form() } else { other_form.clone() };
                form.domain = sample_form().domain;
                let id = svc.submit(&admin(), form.clone()).await.unwrap();
                let url = format!(
                    "{base}{}",
                    path.replace("{id}", if path.starts_with("/api/v1/assets") { "AST-none" } else { id.as_str() })
                        .replace("{kind}", "pengajuan")
                        .replace("{nip}", &official_nip)
                        .replace("{playbook}", "colocation")
                );
                let url = if path.contains("{kind}") { format!("{url}?format=html") } else { url };
                let build = |token: &str| {
                    let r = if method == "get" { http.get(&url) } else { http.post(&url) };
                    let r = r.bearer_auth(token);
                    match path.as_str() {
                        "/api/v1/requests" if method == "post" => {
                            let mut fresh = form.clone();
                            fresh.domain = sample_form().domain;
                            r.json(&serde_json::to_value(&fresh).unwrap())
                        }
                        "/api/v1/requests/{id}/events" => r.json(&json!({ "event": "verify" })),
                        "/api/v1/requests/{id}/host-admin-key" => r.json(&json!({ "private_key": "not a key" })),
                        "/api/v1/assets/{id}/reviews" => r.json(&json!({ "findings": "baik" })),
                        "/api/v1/requests/{id}/allowed-names" => r.json(&json!({ "name": "kaltimprov.go.id", "reason": "uji" })),
                        "/api/v1/requests/{id}/adopted-records" => r.json(&json!({ "name": "lain.kaltimprov.go.id", "type": "A", "reason": "uji" })),
                        "/api/v1/requests/{id}/runs/{playbook}/control" => r.json(&json!({ "action": "unwind", "reason": "uji" })),
                        _ => r,
                    }
                };
                let want = expected(method, path, c.role, own).unwrap();
                let got = build(&c.token).send().await.unwrap();
                let status = got.status().as_u16();
                if status != want {
                    let body = got.text().await.unwrap_or_default();
                    failures.push(format!("{} {path} as {} ({} unit): want {want}, got {status}: {body:.160}", method.to_uppercase(), c.role, if own { "own" } else { "other" }));
                } else if method == "get" && path == "/api/v1/requests" && c.role == Role::Requester {
                    let body: Value = got.json().await.unwrap();
                    let units: Vec<&str> = body["items"].as_array().unwrap().iter().map(|r| r["unit"].as_str().unwrap()).collect();
                    if units.iter().any(|u| *u != SAMPLE_UNIT) {
                        failures.push(format!("GET /api/v1/requests as requester lists another unit's request: {units:?}"));
                    }
                }
                checked += 1;
                if !public(path) {
                    // No token: 401. A read-only token: only GET.
                    let anonymous = if method == "get" { http.get(&url) } else { http.post(&url) };
                    let s = anonymous.send().await.unwrap().status().as_u16();
                    if s != 401 {
                        failures.push(format!("{} {path} without a token: want 401, got {s}", method.to_uppercase()));
                    }
                    let s = build(&c.read_only).send().await.unwrap().status().as_u16();
                    let want_ro = if method == "get" { want } else { 403 };
                    if s != want_ro {
                        failures.push(format!("{} {path} as {} with a read-only token: want {want_ro}, got {s}", method.to_uppercase(), c.role));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cases differ:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= routes.len() * Role::ALL.len() * 2);
}

/// Guessing tokens: after a burst of failures from one address the API answers 429 with
/// Retry-After, even for a valid token from that address; the audit keeps a bounded number of
/// rows for the flood.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_rate_limited_and_audited_within_a_budget() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let good = api_token(&svc, "admin.tik", Role::Admin).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve(svc.clone(), listener, std::future::pending()));
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..200 {
        let bogus = format!("klk_{:064x}", i);
        let r = http.get(format!("{base}/api/v1/requests")).bearer_auth(&bogus).send().await.unwrap();
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(retry >= 1, "{retry}");
        }
        statuses.push(r.status().as_u16());
    }
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    assert!((1..=10).contains(&unauthorized), "a few 401s, then 429: {statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 429);
    let r = http.get(format!("{base}/api/v1/requests")).bearer_auth(&good).send().await.unwrap();
    assert_eq!(r.status(), 429, "the address is limited whatever token it sends now");
    let failures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE action = 'auth.failure'").fetch_one(svc.store.pool()).await.unwrap();
    assert!((1..=31).contains(&failures), "{failures} audit rows for 200 attempts");
    assert!(svc.verify_audit(&admin()).await.unwrap().is_ok());
}
