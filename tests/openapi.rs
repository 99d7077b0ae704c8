//! The generated OpenAPI document against the API itself: every route the router serves is
//! documented and every documented operation is served; real responses of a running
//! `kolokasi serve` on the lab (successes and errors) validate against the schemas documented
//! for their status; the served document is OpenAPI 3.1 and reads back into utoipa's model.

mod common;
#[path = "support/served.rs"]
mod served;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use kolokasi::lifecycle::Role;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

/// Every `(method, path)` the document lists.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete", "head", "options", "trace"] {
            if item.get(method).is_some() {
                out.push((method.to_string(), path.clone()));
            }
        }
    }
    out
}

/// A concrete URL for a documented path (values that parse, so the handler, not the router,
/// answers).
fn concrete(path: &str) -> String {
    path.replace("{id}", "KLK-2026-00001").replace("{kind}", "pengajuan").replace("{nip}", "198503152010011002").replace("{playbook}", "colocation")
}

async fn call(app: &axum::Router, method: &Method, uri: &str) -> (u16, String) {
    let request = Request::builder().method(method.clone()).uri(uri).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Both directions. Documented → served: each documented operation reaches its handler (the
/// router's own answers are an empty 404 or a 405). Served → documented: on every documented
/// path each other method is a 405, and no file of `src/api/` adds a route except through
/// `utoipa_axum::routes!` (so no path exists that the document does not name); the console,
/// merged into the same router, has no route under `/api/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_documented_route_is_served() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let app = kolokasi::api::router(svc);
    let doc: Value = serde_json::from_str(kolokasi::api::openapi_json()).unwrap();
    let ops = operations(&doc);
    assert!(ops.len() >= 26, "{} operations documented: {ops:?}", ops.len());

    let mut failures = Vec::new();
    for (method, path) in &ops {
        let m: Method = method.to_uppercase().parse().unwrap();
        let (status, body) = call(&app, &m, &concrete(path)).await;
        let handler_answered = match status {
            405 => false,
            // The handler's 404 names what is missing in the API's error shape; the router's is empty.
            404 => serde_json::from_str::<Value>(&body).is_ok_and(|b| b["error"]["code"] == "not_found"),
            _ => true,
        };
        if !handler_answered {
            failures.push(format!("documented {} {path} is not served: {status} {body:.120}", method.to_uppercase()));
        }
    }
    let paths: std::collections::BTreeSet<&String> = ops.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if ops.iter().any(|(m, p)| m == method && p == path) {
                continue;
            }
            let (status, _) = call(&app, &method.to_uppercase().parse().unwrap(), &concrete(path)).await;
            if status != 405 {
                failures.push(format!("{} {path} is served ({status}) but not documented", method.to_uppercase()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        files += 1;
        for (n, line) in source.lines().enumerate() {
            assert!(
                !line.contains(".route(") && !line.contains(".route_service(") && !line.contains(".nest_service("),
                "{}:{}: a route outside utoipa_axum::routes! would not be documented: {line}",
                path.display(),
                n + 1
            );
        }
    }
    assert!(files >= 10, "read {files} files of src/api");
    let console = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    for entry in walk(&console) {
        let source = std::fs::read_to_string(&entry).unwrap();
        for line in source.lines().filter(|l| l.contains(".route(")) {
            assert!(!line.contains("\"/api/"), "{}: the console serves an API path: {line}", entry.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The served document is the generated one, is OpenAPI 3.1, reads back into utoipa's model
/// and names the bearer scheme; every operation but the public ones requires it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_openapi_3_1() {
    let db = fresh_db(Db::Sqlite).await;
    let svc = service(&db).await;
    let (status, body) = call(&kolokasi::api::router(svc), &Method::GET, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(body, kolokasi::api::openapi_json(), "the served document is the generated one");
    let parsed: utoipa::openapi::OpenApi = serde_json::from_str(&body).expect("the document reads back into utoipa's OpenApi");
    assert!(matches!(parsed.openapi, utoipa::openapi::OpenApiVersion::Version31));
    assert_eq!(serde_json::to_value(&parsed).unwrap(), serde_json::from_str::<Value>(&body).unwrap(), "nothing lost on the way back");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{ "bearer": [] }]));
    let mut operation_ids = std::collections::BTreeSet::new();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][&method];
        let id = op["operationId"].as_str().unwrap_or_default().to_string();
        assert!(!id.is_empty() && operation_ids.insert(id.clone()), "{method} {path}: operationId {id:?} is missing or not unique");
        for (status, response) in op["responses"].as_object().unwrap() {
            assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status}: a response needs a description");
        }
        let public = path == "/health" || path.starts_with("/health/") || path == "/metrics" || path == "/api/v1/openapi.json";
        assert_eq!(op["security"] == json!([{}]), public, "{method} {path}: public {public}, security {}", op["security"]);
        assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{method} {path} has no tag");
        assert!(op["responses"].as_object().is_some_and(|r| r.keys().any(|k| k.starts_with('2'))), "{method} {path} documents no success");
        if !public {
            for status in ["401", "429"] {
                assert!(op["responses"].get(status).is_some(), "{method} {path} does not document {status}");
            }
        }
    }
    // The domain newtypes are strings with their pattern.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["RequestId"]["pattern"], "^KLK-[0-9]{4}-[0-9]{5,9}$");
    assert_eq!(schemas["Nip"]["pattern"], "^[0-9]{18}$");
    assert_eq!(schemas["Fqdn"]["type"], "string");
}

/// Validates a response against what the document says of `method path status`: its headers,
/// its content type and, for JSON, its body against the schema.
struct Checker {
    doc: Value,
    /// The document's components, made strict: an object schema with properties allows no
    /// other property, so a field the document does not name fails too.
    components: Value,
    validated: Vec<String>,
    failures: Vec<String>,
}

impl Checker {
    fn new(doc: Value) -> Self {
        let mut components = doc["components"].clone();
        strict(&mut components);
        Self { doc, components, validated: Vec::new(), failures: Vec::new() }
    }

    fn check(&mut self, method: &str, path: &str, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) {
        let content_type = headers.get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let what = format!("{} {path} → {status}", method.to_uppercase());
        let op = &self.doc["paths"][path][method];
        if op.is_null() {
            self.failures.push(format!("{what}: not documented"));
            return;
        }
        let Some(response) = op["responses"].get(status.to_string()) else {
            self.failures.push(format!("{what}: status not documented"));
            return;
        };
        if let Some(documented) = response["headers"].as_object() {
            let missing: Vec<&String> = documented.keys().filter(|h| !headers.contains_key(h.as_str())).collect();
            if !missing.is_empty() {
                self.failures.push(format!("{what}: documented headers missing: {missing:?}"));
                return;
            }
        }
        let media = content_type.split(';').next().unwrap_or("").trim();
        let Some(content) = response["content"].as_object() else {
            self.failures.push(format!("{what}: no content documented"));
            return;
        };
        let Some((_, entry)) = content.iter().find(|(k, _)| k.split(';').next().unwrap_or("").trim() == media) else {
            self.failures.push(format!("{what}: content type {content_type} not documented ({:?})", content.keys().collect::<Vec<_>>()));
            return;
        };
        if media != "application/json" {
            return;
        }
        let mut schema = entry["schema"].clone();
        strict(&mut schema);
        let mut root = match schema {
            Value::Object(m) => m,
            other => Map::from_iter([("allOf".to_string(), json!([other]))]),
        };
        root.insert("components".into(), self.components.clone());
        let location = format!("http://kolokasi.test/schema-{}.json", self.validated.len() + self.failures.len());
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        let mut schemas = boon::Schemas::new();
        let compiled = match compiler.add_resource(&location, Value::Object(root)) {
            Ok(()) => compiler.compile(&location, &mut schemas),
            Err(e) => Err(e),
        };
        let index = match compiled {
            Ok(i) => i,
            Err(e) => {
                self.failures.push(format!("{what}: the documented schema does not compile: {e}"));
                return;
            }
        };
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                self.failures.push(format!("{what}: not JSON ({e}): {:.200}", String::from_utf8_lossy(body)));
                return;
            }
        };
        match schemas.validate(&value, index) {
            Ok(()) => self.validated.push(what),
            Err(e) => self.failures.push(format!("{what}: {e:#}\n  body: {:.400}", value.to_string())),
        }
    }
}

/// Marks every object schema that lists properties (and says nothing of others) closed.
fn strict(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (_, child) in m.iter_mut() {
                strict(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strict),
        _ => {}
    }
}

on_both_databases!(real_responses_validate_against_their_schemas);

async fn real_responses_validate_against_their_schemas(db: Db) {
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let admin = api_token(&svc, "admin.tik", Role::Admin).await;
    let operator = api_token(&svc, "pengelola", Role::Operator).await;
    let requester = api_token(&svc, "budi", Role::Requester).await;
    let auditor = api_token(&svc, "x", Role::Auditor).await;
    let serve = served::serve(&tdb.url, &[]).await;
    let doc: Value = serve.http.get(format!("{}/api/v1/openapi.json", serve.base)).send().await.unwrap().json().await.unwrap();
    let mut checker = Checker::new(doc);

    // One call: sends it, checks its status and validates the body against the document.
    macro_rules! call {
        ($method:ident $template:literal $url:expr, $token:expr, $body:expr => $want:literal) => {{
            let url = format!("{}{}", serve.base, $url);
            let mut r = serve.http.request(Method::$method, &url);
            if let Some(token) = $token {
                r = r.bearer_auth(token);
            }
            let body: Option<Value> = $body;
            if let Some(body) = body {
                r = r.json(&body);
            }
            let response = r.send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.unwrap();
            assert_eq!(status, $want, "{} {}: {:.300}", stringify!($method), $url, String::from_utf8_lossy(&bytes));
            checker.check(&stringify!($method).to_lowercase(), $template, status, &headers, &bytes);
            serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null)
        }};
    }
    let none: Option<&str> = None;
    let form = serde_json::to_value(sample_form()).unwrap();

    call!(GET "/health" "/health", none, None => 200);
    call!(GET "/health/live" "/health/live", none, None => 200);
    call!(GET "/health/ready" "/health/ready", none, None => 200);
    call!(GET "/metrics" "/metrics", none, None => 200);
    call!(GET "/api/v1/openapi.json" "/api/v1/openapi.json", none, None => 200);

    let submitted = call!(POST "/api/v1/requests" "/api/v1/requests", Some(&requester), Some(form.clone()) => 201);
    let id = submitted["id"].as_str().unwrap().to_string();
    let mut bad = form.clone();
    bad["servers"][0]["ram_gb"] = json!("banyak");
    call!(POST "/api/v1/requests" "/api/v1/requests", Some(&requester), Some(bad) => 400);
    call!(POST "/api/v1/requests" "/api/v1/requests", none, Some(form.clone()) => 401);
    call!(POST "/api/v1/requests" "/api/v1/requests", Some(&requester), Some(json!({ "notes": "x".repeat(300 * 1024) })) => 413);
    call!(GET "/api/v1/requests" "/api/v1/requests?limit=10", Some(&auditor), None => 200);
    call!(GET "/api/v1/requests" "/api/v1/requests?colour=blue", Some(&auditor), None => 400);

    let events = format!("/api/v1/requests/{id}/events");
    call!(POST "/api/v1/requests/{id}/events" &events, Some(&requester), Some(json!({ "event": "verify" })) => 403);
    call!(POST "/api/v1/requests/{id}/events" &events, Some(&admin), Some(json!({ "event": "verify", "reason": "lengkap" })) => 200);
    call!(POST "/api/v1/requests/{id}/events" &events, Some(&operator), Some(json!({ "event": "check_capacity" })) => 200);
    call!(POST "/api/v1/requests/{id}/events" &events, Some(&requester), Some(json!({ "event": "complete_form" })) => 200);
    let approve = json!({ "event": "approve", "place": "Samarinda", "reasons": ["ok"], "host_admin_user": "root", "host_admin_password": CANARY });
    call!(POST "/api/v1/requests/{id}/events" &events, Some(&admin), Some(approve) => 200);
    call!(POST "/api/v1/requests/{id}/events" &events, Some(&admin), Some(json!({ "event": "hand_over" })) => 409);
    call!(POST "/api/v1/requests/{id}/events" &events, Some(&admin), Some(json!({ "event": "self_destruct" })) => 400);

    let view = call!(GET "/api/v1/requests/{id}" &format!("/api/v1/requests/{id}"), Some(&requester), None => 200);
    assert_eq!(view["approval"]["colocation"]["host_admin"]["password"], "[redacted]");
    call!(GET "/api/v1/requests/{id}" "/api/v1/requests/KLK-2026-99999", Some(&auditor), None => 404);
    call!(GET "/api/v1/requests/{id}" "/api/v1/requests/1%27%20OR%201=1", Some(&auditor), None => 400);
    call!(GET "/api/v1/requests/{id}/capacity" &format!("/api/v1/requests/{id}/capacity"), Some(&operator), None => 200);
    call!(GET "/api/v1/requests/{id}/audit" &format!("/api/v1/requests/{id}/audit"), Some(&auditor), None => 200);
    call!(GET "/api/v1/requests/{id}/runs" &format!("/api/v1/requests/{id}/runs"), Some(&auditor), None => 200);
    let control = json!({ "action": "unwind", "reason": "uji" });
    call!(POST "/api/v1/requests/{id}/runs/{playbook}/control" &format!("/api/v1/requests/{id}/runs/colocation/control"), Some(&operator), Some(control) => 404);
    call!(POST "/api/v1/requests/{id}/host-admin-key" &format!("/api/v1/requests/{id}/host-admin-key"), Some(&operator), Some(json!({ "private_key": "not a key" })) => 400);

    call!(GET "/api/v1/datacenter" "/api/v1/datacenter", Some(&operator), None => 200);
    call!(GET "/api/v1/datacenter" "/api/v1/datacenter", Some(&requester), None => 403);
    let check = call!(GET "/api/v1/datacenter/check" "/api/v1/datacenter/check", Some(&operator), None => 200);
    assert!(!check["firewalls"].as_array().unwrap().is_empty(), "serve on the lab reads its firewalls: {check}");
    call!(GET "/api/v1/audit/verify" "/api/v1/audit/verify", Some(&auditor), None => 200);

    let documents = format!("/api/v1/requests/{id}/documents/pengajuan");
    call!(GET "/api/v1/requests/{id}/documents/{kind}" &format!("{documents}?format=html"), Some(&requester), None => 200);
    call!(GET "/api/v1/requests/{id}/documents/{kind}" &format!("{documents}?format=docx"), Some(&requester), None => 400);
    call!(GET "/api/v1/requests/{id}/evidence" &format!("/api/v1/requests/{id}/evidence"), Some(&admin), None => 200);
    call!(GET "/api/v1/requests/{id}/evidence" &format!("/api/v1/requests/{id}/evidence"), Some(&operator), None => 403);

    call!(GET "/api/v1/assets" "/api/v1/assets", Some(&auditor), None => 200);
    call!(GET "/api/v1/assets" "/api/v1/assets?due=true", Some(&auditor), None => 200);
    call!(GET "/api/v1/assets/export" "/api/v1/assets/export?format=csv", Some(&auditor), None => 200);
    call!(POST "/api/v1/assets/{id}/reviews" "/api/v1/assets/AST-none/reviews", Some(&operator), Some(json!({ "findings": "baik" })) => 404);
    let nip = sample_form().official.nip.to_string();
    call!(GET "/api/v1/privacy/{nip}" &format!("/api/v1/privacy/{nip}"), Some(&auditor), None => 200);

    call!(GET "/api/v1/requests/{id}/drift" &format!("/api/v1/requests/{id}/drift"), Some(&auditor), None => 200);
    call!(POST "/api/v1/requests/{id}/drift" &format!("/api/v1/requests/{id}/drift"), Some(&operator), None => 409);
    let allow = json!({ "name": "kaltimprov.go.id", "reason": "uji" });
    call!(POST "/api/v1/requests/{id}/allowed-names" &format!("/api/v1/requests/{id}/allowed-names"), Some(&admin), Some(allow) => 400);
    let adopt = json!({ "name": "lain.kaltimprov.go.id", "type": "A", "reason": "uji" });
    call!(POST "/api/v1/requests/{id}/adopted-records" &format!("/api/v1/requests/{id}/adopted-records"), Some(&operator), Some(adopt) => 403);

    // Last: guessing tokens from this address ends in 429 for everyone here.
    let mut limited = false;
    for i in 0..50 {
        let r = serve.http.get(format!("{}/api/v1/requests", serve.base)).bearer_auth(format!("klk_{i:064x}")).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        if status == 429 || i == 0 {
            checker.check("get", "/api/v1/requests", status, &headers, &bytes);
        }
        if status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "a burst of bad tokens is rate-limited");

    assert!(checker.failures.is_empty(), "{} responses differ from the document:\n{}", checker.failures.len(), checker.failures.join("\n"));
    // The checker itself: a field the document does not name, a wrong type, an unknown code.
    let validated = checker.validated.len();
    let json_headers = reqwest::header::HeaderMap::from_iter([
        (reqwest::header::CONTENT_TYPE, "application/json".parse().unwrap()),
        (reqwest::header::WWW_AUTHENTICATE, "Bearer".parse().unwrap()),
    ]);
    for (status, body) in [
        (200, r#"{"items": [], "next_after": null, "surprise": 1}"#),
        (200, r#"{"items": "none", "next_after": null}"#),
        (401, r#"{"error": {"code": "nope", "message": "x"}}"#),
    ] {
        checker.check("get", "/api/v1/requests", status, &json_headers, body.as_bytes());
    }
    assert_eq!((checker.validated.len(), checker.failures.len()), (validated, 3), "the checker accepted a wrong body: {:?}", checker.failures);
    let statuses: std::collections::BTreeSet<&str> = checker.validated.iter().filter_map(|w| w.rsplit(' ').next()).collect();
    eprintln!("{} JSON responses validated; statuses {statuses:?}", checker.validated.len());
    assert!(checker.validated.len() >= 20, "only {} JSON responses validated: {:?}", checker.validated.len(), checker.validated);
    for s in ["200", "201", "400", "401", "403", "404", "409", "413", "429"] {
        assert!(statuses.contains(s), "no {s} response was validated: {statuses:?}");
    }
}
