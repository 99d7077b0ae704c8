//! An emulator of OPNsense's firewall filter API (`/api/firewall/filter/…`) for the driver's
//! tests: rules in memory, HTTP Basic authentication with API key and secret, and the JSON
//! shapes of OPNsense's documentation and core source (ApiControllerBase for 401/403,
//! ApiMutableModelControllerBase for add/del/get, FilterController for search and apply).
//!
//! OPNsense is a FreeBSD appliance and cannot run on the test machines. The emulator keeps
//! the saved configuration (`rules`) apart from what is in force (`applied`, a copy taken by
//! `apply`), so tests can see that changes were applied, and it validates rules as the model
//! does for the fields kolokasi uses (option values are case-sensitive: `TCP`, not `tcp`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The interfaces the emulated firewall has.
pub const INTERFACES: &[&str] = &["wan", "lan", "opt1"];

type Rule = Map<String, Value>;
type Shared = Arc<Mutex<Firewall>>;

#[derive(Default)]
struct Firewall {
    /// API key → (secret, may use the firewall filter pages).
    keys: HashMap<String, (String, bool)>,
    /// The saved configuration, in insertion order.
    rules: Vec<(String, Rule)>,
    /// What the last `apply` loaded.
    applied: Vec<(String, Rule)>,
    applies: usize,
    /// Requests that reached the server, authenticated or not.
    calls: usize,
    /// For the next authenticated requests, first first: pass (`None`) or fail with a status.
    plan: Vec<Option<StatusCode>>,
}

/// A running emulator on 127.0.0.1; stops when dropped.
pub struct Emulator {
    pub addr: SocketAddr,
    firewall: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Listens on 127.0.0.1:0, accepting one API key with full rights.
    pub async fn start(key: &str, secret: &str) -> Self {
        let firewall: Shared = Arc::default();
        firewall.lock().unwrap().keys.insert(key.into(), (secret.into(), true));
        let api = Router::new()
            .route("/api/firewall/filter/addRule", post(add_rule))
            .route("/api/firewall/filter/searchRule", get(search_rule).post(search_rule))
            .route("/api/firewall/filter/getRule/{uuid}", get(get_rule))
            .route("/api/firewall/filter/delRule/{uuid}", post(del_rule))
            // FilterBaseController::applyAction answers a GET with a status, not a 405.
            .route("/api/firewall/filter/apply", post(apply).get(|| async { Json(json!({"status": "error"})) }))
            .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"errorMessage": "Endpoint not found"}))) })
            .layer(middleware::from_fn_with_state(firewall.clone(), authenticate))
            .with_state(firewall.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, api)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .expect("emulator serves");
        });
        Self { addr, firewall, shutdown: Some(tx), task: Some(task) }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Another API key; `privileged: false` authenticates but may not use the filter API (403).
    pub fn add_key(&self, key: &str, secret: &str, privileged: bool) {
        self.firewall.lock().unwrap().keys.insert(key.into(), (secret.into(), privileged));
    }

    /// Saves a rule directly, as an operator in the web interface would (not applied).
    /// `fields` overrides the model's defaults; returns the new uuid.
    pub fn insert_rule(&self, fields: Value) -> String {
        let mut rule = defaults();
        for (k, v) in fields.as_object().expect("an object of fields") {
            rule.insert(k.clone(), v.clone());
        }
        let uuid = new_uuid();
        self.firewall.lock().unwrap().rules.push((uuid.clone(), rule));
        uuid
    }

    /// The saved rules (uuid, fields), in insertion order.
    pub fn rules(&self) -> Vec<(String, Rule)> {
        self.firewall.lock().unwrap().rules.clone()
    }

    /// The rules the last `apply` put in force.
    pub fn applied(&self) -> Vec<(String, Rule)> {
        self.firewall.lock().unwrap().applied.clone()
    }

    pub fn descriptions(&self) -> Vec<String> {
        self.rules().iter().map(|(_, r)| r["description"].as_str().unwrap_or_default().to_string()).collect()
    }

    pub fn applies(&self) -> usize {
        self.firewall.lock().unwrap().applies
    }

    pub fn calls(&self) -> usize {
        self.firewall.lock().unwrap().calls
    }

    /// The next authenticated request is answered with `status` and an OPNsense error body.
    pub fn fail_next(&self, status: StatusCode) {
        self.fail_after(0, status);
    }

    /// Lets `passing` authenticated requests through, then fails one with `status`.
    pub fn fail_after(&self, passing: usize, status: StatusCode) {
        let mut fw = self.firewall.lock().unwrap();
        fw.plan.extend(std::iter::repeat_n(None, passing));
        fw.plan.push(Some(status));
    }

    /// Stops listening and closes every connection.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// ApiControllerBase: `Authorization: Basic base64(key:secret)`; a wrong key or secret is 401,
/// a key whose user may not use the page is 403.
async fn authenticate(State(fw): State<Shared>, request: Request, next: Next) -> Response {
    let failure = {
        let mut fw = fw.lock().unwrap();
        fw.calls += 1;
        let credentials = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let verdict = match credentials.as_deref().and_then(|c| c.split_once(':')) {
            Some((key, secret)) => match fw.keys.get(key) {
                Some((s, true)) if s == secret => None,
                Some((s, false)) if s == secret => Some((StatusCode::FORBIDDEN, json!({"status": 403, "message": "Forbidden"}))),
                _ => Some((StatusCode::UNAUTHORIZED, json!({"status": 401, "message": "Authentication Failed"}))),
            },
            None => Some((StatusCode::UNAUTHORIZED, json!({"status": 401, "message": "Authentication Failed"}))),
        };
        verdict.or_else(|| {
            let status = if fw.plan.is_empty() { None } else { fw.plan.remove(0) }?;
            Some((status, json!({"errorMessage": "Unexpected error, check log for details", "errorTitle": "An error occurred"})))
        })
    };
    match failure {
        Some((status, body)) => (status, Json(body)).into_response(),
        None => next.run(request).await,
    }
}

/// The model's defaults (Filter.xml) for the fields the emulator knows.
fn defaults() -> Rule {
    let fields = [
        ("enabled", "1"),
        ("statetype", "keep"),
        ("sequence", "1"),
        ("action", "pass"),
        ("quick", "1"),
        ("interfacenot", "0"),
        ("interface", ""),
        ("direction", "in"),
        ("ipprotocol", "inet"),
        ("protocol", "any"),
        ("source_net", "any"),
        ("source_not", "0"),
        ("source_port", ""),
        ("destination_net", "any"),
        ("destination_not", "0"),
        ("destination_port", ""),
        ("log", "0"),
        ("categories", ""),
        ("description", ""),
    ];
    fields.into_iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect()
}

/// addBase: `{"rule": {…}}` → `{"result":"saved","uuid"}` or `{"result":"failed","validations"}`.
async fn add_rule(State(fw): State<Shared>, body: Bytes) -> Json<Value> {
    let post: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(input) = post.get("rule").and_then(Value::as_object) else {
        return Json(json!({"result": "failed"}));
    };
    let mut rule = defaults();
    for (k, v) in input {
        // setNodes ignores fields the model does not have.
        if rule.contains_key(k) {
            rule.insert(k.clone(), v.clone());
        }
    }
    let validations = validate(&rule);
    if !validations.is_empty() {
        return Json(json!({"result": "failed", "validations": validations}));
    }
    let uuid = new_uuid();
    fw.lock().unwrap().rules.push((uuid.clone(), rule));
    Json(json!({"result": "saved", "uuid": uuid}))
}

/// searchRecordsetBase: `current`, `rowCount` (default 9999, -1 for all) and `searchPhrase`
/// (whitespace-separated clauses, each a case-insensitive substring of some field) from the
/// JSON body of a POST, or the query of a GET.
async fn search_rule(
    State(fw): State<Shared>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Json<Value> {
    let params: Map<String, Value> = if method == Method::POST {
        serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default()
    } else {
        query.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
    };
    let int = |name: &str, default: i64| match params.get(name) {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(default),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    };
    let phrase = params.get("searchPhrase").and_then(Value::as_str).unwrap_or_default().to_lowercase();
    let clauses: Vec<&str> = phrase.split_whitespace().collect();
    let mut matching: Vec<(u64, usize, Value)> = fw
        .lock()
        .unwrap()
        .rules
        .iter()
        .enumerate()
        .filter(|(_, (_, rule))| {
            clauses.iter().all(|c| rule.values().any(|v| v.as_str().is_some_and(|s| s.to_lowercase().contains(c))))
        })
        .map(|(i, (uuid, rule))| {
            let mut row = rule.clone();
            row.insert("uuid".into(), json!(uuid));
            (rule["sequence"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0), i, Value::Object(row))
        })
        .collect();
    matching.sort_by_key(|(sequence, i, _)| (*sequence, *i));
    let total = matching.len();
    let per_page = match int("rowCount", 9999) {
        -1 => total.max(1),
        n => n.max(1) as usize,
    };
    let current = int("current", 1).max(1) as usize;
    let rows: Vec<Value> = matching.into_iter().skip((current - 1) * per_page).take(per_page).map(|(_, _, row)| row).collect();
    Json(json!({"total": total, "rowCount": rows.len(), "current": current, "rows": rows}))
}

/// getBase: `{"rule": {…}}` with option fields as `{option: {"value", "selected"}}`, or `[]`.
async fn get_rule(State(fw): State<Shared>, Path(uuid): Path<String>) -> Json<Value> {
    let fw = fw.lock().unwrap();
    let Some((_, rule)) = fw.rules.iter().find(|(u, _)| *u == uuid) else {
        return Json(json!([]));
    };
    let mut nodes = Map::new();
    for (field, value) in rule {
        let value = value.as_str().unwrap_or_default();
        let shown = match options(field) {
            Some(list) => {
                let chosen: Vec<&str> = value.split(',').collect();
                let map: Map<String, Value> = list
                    .iter()
                    .map(|o| (o.to_string(), json!({"value": o, "selected": u8::from(chosen.contains(o))})))
                    .collect();
                Value::Object(map)
            }
            None => json!(value),
        };
        nodes.insert(field.clone(), shown);
    }
    Json(json!({"rule": nodes}))
}

/// delBase: `{"result":"deleted"}` or `{"result":"not found"}`.
async fn del_rule(State(fw): State<Shared>, Path(uuid): Path<String>) -> Json<Value> {
    let mut fw = fw.lock().unwrap();
    let before = fw.rules.len();
    fw.rules.retain(|(u, _)| *u != uuid);
    Json(json!({"result": if fw.rules.len() < before { "deleted" } else { "not found" }}))
}

/// applyAction: configd's `filter reload` output as the status (OPNsense does not trim it).
async fn apply(State(fw): State<Shared>) -> Json<Value> {
    let mut fw = fw.lock().unwrap();
    fw.applied = fw.rules.clone();
    fw.applies += 1;
    Json(json!({"status": "OK\n\n"}))
}

fn options(field: &str) -> Option<&'static [&'static str]> {
    Some(match field {
        "action" => &["pass", "block", "reject"],
        "direction" => &["in", "out"],
        "ipprotocol" => &["inet", "inet6", "inet46"],
        "protocol" => &["any", "TCP", "UDP", "TCP/UDP", "ICMP", "IPV6-ICMP", "ESP", "AH", "GRE"],
        "interface" => INTERFACES,
        "statetype" => &["keep", "sloppy", "modulate", "synproxy", "none"],
        _ => return None,
    })
}

/// The model's validation, for the fields the emulator knows; keys are `rule.<field>`.
fn validate(rule: &Rule) -> Map<String, Value> {
    let mut problems = Map::new();
    let mut problem = |field: &str, message: String| {
        problems.insert(format!("rule.{field}"), Value::String(message));
    };
    let text = |field: &str| rule.get(field).and_then(Value::as_str);
    for (field, value) in rule {
        if !value.is_string() {
            problem(field, "Value must be text.".into());
        }
    }
    for field in ["enabled", "quick", "interfacenot", "source_not", "destination_not", "log"] {
        if !matches!(text(field), Some("0" | "1")) {
            problem(field, "Value should be a boolean (0,1).".into());
        }
    }
    for field in ["action", "direction", "ipprotocol", "protocol", "statetype"] {
        let allowed = options(field).unwrap();
        if !text(field).is_some_and(|v| allowed.contains(&v)) {
            problem(field, "Option not in list.".into());
        }
    }
    let interfaces = text("interface").unwrap_or_default();
    if !interfaces.is_empty() && !interfaces.split(',').all(|i| INTERFACES.contains(&i)) {
        problem("interface", "Option not in list.".into());
    }
    if !text("sequence").and_then(|s| s.parse::<u32>().ok()).is_some_and(|n| (1..=999_999).contains(&n)) {
        problem("sequence", "Sequence shall be between 1 and 999999.".into());
    }
    let family = text("ipprotocol").unwrap_or_default();
    for field in ["source_net", "destination_net"] {
        let value = text(field).unwrap_or_default();
        if !value.split(',').all(|item| network_ok(item, family)) {
            problem(field, format!("{value} is not a valid network or alias for {family}."));
        }
    }
    let ports_allowed = matches!(text("protocol"), Some("TCP" | "UDP" | "TCP/UDP"));
    for field in ["source_port", "destination_port"] {
        let value = text(field).unwrap_or_default();
        if value.is_empty() {
            continue;
        }
        if !ports_allowed {
            problem(field, "Ports are only valid for tcp or udp type protocols.".into());
        } else if !port_ok(value) {
            problem(field, "Please specify a valid portnumber, name, alias or range.".into());
        }
    }
    let description = text("description").unwrap_or_default();
    if description.chars().count() > 255 || description.chars().any(char::is_control) {
        problem("description", "Description should be a string between 1 and 255 characters.".into());
    }
    problems
}

/// `any`, an address or a network (host bits clear), of the rule's address family.
fn network_ok(item: &str, family: &str) -> bool {
    if item == "any" {
        return true;
    }
    let address = match item.parse::<ipnet::IpNet>() {
        Ok(net) if net.trunc() == net => net.addr(),
        Ok(_) => return false,
        Err(_) => match item.parse::<IpAddr>() {
            Ok(a) => a,
            Err(_) => return false,
        },
    };
    match family {
        "inet" => address.is_ipv4(),
        "inet6" => address.is_ipv6(),
        _ => true,
    }
}

/// A port or a range `low-high` (well-known names and aliases are not emulated).
fn port_ok(value: &str) -> bool {
    let port = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0);
    match value.split_once('-') {
        Some((low, high)) => port(low) && port(high) && low.parse::<u16>().unwrap() <= high.parse::<u16>().unwrap(),
        None => port(value),
    }
}

/// A random (version 4) UUID, as OPNsense gives each rule.
fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
