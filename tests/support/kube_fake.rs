//! A protocol-level fake of the Kubernetes API server for the hosting tests: plain HTTP on
//! 127.0.0.1:0 with a bearer token, objects kept in memory by (apiVersion, resource,
//! namespace, name), answering the calls kube makes for typed resources — GET, LIST with
//! label selectors, server-side apply (PATCH `application/apply-patch+yaml` with
//! `fieldManager` and `force`), DELETE — with errors in the API's `Status` format.
//!
//! No API server can run on the test machines. The fake follows the API's rules where they
//! matter to kolokasi: names and labels are validated (422 Invalid), a namespaced object needs
//! its namespace (404) and cannot be created while it terminates (403), a second field manager
//! without `force` conflicts (409), a no-op apply keeps the resourceVersion, and a deleted
//! namespace goes Terminating first and disappears, with its contents, after a delay. It is not
//! a real merge of managed fields: an apply replaces the object's content with what was sent.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const TOKEN: &str = "kube-fake-token";

/// (apiVersion, resource plural, namespace or "", name)
pub type Key = (String, String, String, String);

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub content_type: Option<String>,
}

#[derive(Default)]
struct Cluster {
    objects: BTreeMap<Key, Value>,
    calls: Vec<Call>,
    next: u64,
}

#[derive(Clone)]
struct Shared {
    cluster: Arc<Mutex<Cluster>>,
    delete_delay: Arc<Mutex<Duration>>,
}

/// A running fake; stops when dropped.
pub struct KubeFake {
    pub addr: SocketAddr,
    shared: Shared,
    dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

/// The resources the fake serves: (apiVersion, plural) → (kind, namespaced).
fn resource(api_version: &str, plural: &str) -> Option<(&'static str, bool)> {
    Some(match (api_version, plural) {
        ("v1", "namespaces") => ("Namespace", false),
        ("v1", "resourcequotas") => ("ResourceQuota", true),
        ("v1", "limitranges") => ("LimitRange", true),
        ("networking.k8s.io/v1", "networkpolicies") => ("NetworkPolicy", true),
        ("networking.k8s.io/v1", "ingresses") => ("Ingress", true),
        ("rbac.authorization.k8s.io/v1", "rolebindings") => ("RoleBinding", true),
        _ => return None,
    })
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn ok(code: StatusCode, body: &Value) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn not_found(plural: &str, api_version: &str, name: &str) -> Response {
    let group = api_version.split_once('/').map(|(g, _)| format!(".{g}")).unwrap_or_default();
    status(StatusCode::NOT_FOUND, "NotFound", format!("{plural}{group} \"{name}\" not found"))
}

fn dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let an = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && b.len() <= 63 && b.iter().all(|&c| an(c) || c == b'-') && an(b[0]) && an(b[b.len() - 1])
}

fn dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(dns1123_label)
}

fn label_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.is_empty()
        || (b.len() <= 63
            && b.iter().all(|&c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric())
}

fn qualified_key(s: &str) -> bool {
    let (prefix, name) = s.split_once('/').map_or((None, s), |(p, n)| (Some(p), n));
    prefix.is_none_or(dns1123_subdomain) && !name.is_empty() && label_value(name)
}

/// `a=b,c!=d,e` as the API understands it (equality, inequality, existence).
fn selector_matches(selector: &str, labels: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        let get = |k: &str| labels.get(k.trim()).and_then(Value::as_str);
        if let Some((k, v)) = term.split_once("!=") {
            get(k) != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            get(k) == Some(v.trim())
        } else {
            get(term).is_some()
        }
    })
}

fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    let q = uri.query().unwrap_or("");
    url_pairs(q)
}

fn url_pairs(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl KubeFake {
    pub async fn start() -> Self {
        let shared = Shared {
            cluster: Arc::default(),
            delete_delay: Arc::new(Mutex::new(Duration::from_millis(300))),
        };
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let fake = Self { addr, shared, dir, task };
        std::fs::write(fake.kubeconfig(), fake.kubeconfig_text(TOKEN)).unwrap();
        fake
    }

    /// A kubeconfig file for this fake (context `fake`).
    pub fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub fn kubeconfig_text(&self, token: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\nusers:\n- name: fake\n  user:\n    token: {token}\n",
            self.addr
        )
    }

    /// How long a deleted namespace stays Terminating.
    pub fn set_delete_delay(&self, d: Duration) {
        *self.shared.delete_delay.lock().unwrap() = d;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.cluster.lock().unwrap().calls.clone()
    }

    pub fn objects(&self) -> BTreeMap<Key, Value> {
        self.shared.cluster.lock().unwrap().objects.clone()
    }

    pub fn get(&self, api_version: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.shared
            .cluster
            .lock()
            .unwrap()
            .objects
            .get(&(api_version.into(), plural.into(), namespace.into(), name.into()))
            .cloned()
    }

    /// Puts an object in place as if someone else had created it.
    pub fn insert(&self, api_version: &str, plural: &str, namespace: &str, object: Value) {
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        self.shared
            .cluster
            .lock()
            .unwrap()
            .objects
            .insert((api_version.into(), plural.into(), namespace.into(), name), object);
    }
}

impl Drop for KubeFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let query = query_map(&uri);
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    shared.cluster.lock().unwrap().calls.push(Call {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: query.clone(),
        content_type: content_type.clone(),
    });
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized".into());
    }
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let (api_version, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("v1".to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource".into()),
    };
    // (plural, namespace, name)
    let (plural, namespace, name) = match rest {
        ["namespaces"] => ("namespaces", String::new(), None),
        ["namespaces", n] => ("namespaces", String::new(), Some(*n)),
        ["namespaces", ns, plural] => (*plural, ns.to_string(), None),
        ["namespaces", ns, plural, n] => (*plural, ns.to_string(), Some(*n)),
        [plural] => (*plural, String::new(), None),
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource".into()),
    };
    let Some((kind, namespaced)) = resource(&api_version, plural) else {
        return status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource".into());
    };
    if namespaced && name.is_some() && namespace.is_empty() {
        return status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource".into());
    }
    let key = |n: &str| (api_version.clone(), plural.to_string(), namespace.clone(), n.to_string());
    match (&method, name) {
        (&Method::GET, Some(n)) => match shared.cluster.lock().unwrap().objects.get(&key(n)) {
            Some(o) => ok(StatusCode::OK, o),
            None => not_found(plural, &api_version, n),
        },
        (&Method::GET, None) => {
            let selector = query.get("labelSelector").cloned().unwrap_or_default();
            let c = shared.cluster.lock().unwrap();
            let items: Vec<Value> = c
                .objects
                .iter()
                .filter(|((gv, p, ns, _), _)| *gv == api_version && p == plural && (namespace.is_empty() || *ns == namespace))
                .filter(|(_, o)| selector_matches(&selector, &o["metadata"]["labels"]))
                .map(|(_, o)| o.clone())
                .collect();
            ok(
                StatusCode::OK,
                &json!({"apiVersion": api_version, "kind": format!("{kind}List"), "metadata": {"resourceVersion": c.next.to_string()}, "items": items}),
            )
        }
        (&Method::PATCH, Some(n)) => apply(
            &shared,
            &api_version,
            plural,
            kind,
            namespaced,
            &namespace,
            n,
            &query,
            content_type.as_deref(),
            &body,
        ),
        (&Method::DELETE, Some(n)) => delete(&shared, &api_version, plural, &namespace, n),
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not supported by the fake"),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn apply(
    shared: &Shared,
    api_version: &str,
    plural: &str,
    kind: &str,
    namespaced: bool,
    namespace: &str,
    name: &str,
    query: &BTreeMap<String, String>,
    content_type: Option<&str>,
    body: &[u8],
) -> Response {
    if content_type != Some("application/apply-patch+yaml") {
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("the fake only takes server-side apply, not {content_type:?}"),
        );
    }
    let Some(manager) = query.get("fieldManager").filter(|m| !m.is_empty()) else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
        );
    };
    let force = query.get("force").map(String::as_str) == Some("true");
    // The body is YAML (JSON is YAML).
    let mut object: Value = match serde_yaml_ng::from_slice(body) {
        Ok(v) => v,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", format!("error decoding YAML: {e}")),
    };
    let invalid = |m: String| status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", format!("{kind} \"{name}\" is invalid: {m}"));
    if object["apiVersion"] != json!(api_version) || object["kind"] != json!(kind) {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("the body is a {}/{}, not a {api_version}/{kind}", object["apiVersion"], object["kind"]),
        );
    }
    if object["metadata"]["name"] != json!(name) {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the name of the object does not match the name on the URL".into(),
        );
    }
    if namespaced {
        match object["metadata"].get("namespace") {
            None => {
                object["metadata"]["namespace"] = json!(namespace);
            }
            Some(ns) if *ns == json!(namespace) => {}
            Some(_) => {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the namespace of the object does not match the namespace on the URL".into(),
                );
            }
        }
    }
    let name_ok = if kind == "Namespace" { dns1123_label(name) } else { dns1123_subdomain(name) };
    if !name_ok {
        return invalid(format!("metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 name"));
    }
    for (k, v) in object["metadata"]["labels"].as_object().cloned().unwrap_or_default() {
        if !qualified_key(&k) || !v.as_str().is_some_and(label_value) {
            return invalid(format!("metadata.labels: Invalid value: \"{k}\": {v}"));
        }
    }
    for k in object["metadata"]["annotations"]
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if !qualified_key(&k) {
            return invalid(format!("metadata.annotations: Invalid value: \"{k}\""));
        }
    }
    let mut c = shared.cluster.lock().unwrap();
    if namespaced {
        match c.objects.get(&("v1".into(), "namespaces".into(), String::new(), namespace.into())) {
            None => return not_found("namespaces", "v1", namespace),
            Some(ns) if !ns["metadata"]["deletionTimestamp"].is_null() => {
                return status(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    format!("{plural} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated"),
                );
            }
            Some(_) => {}
        }
    }
    let key: Key = (api_version.into(), plural.into(), namespace.into(), name.into());
    let existing = c.objects.get(&key).cloned();
    if let Some(old) = &existing {
        let owner = old["metadata"]["managedFields"][0]["manager"].as_str().unwrap_or_default();
        if owner != manager && !force {
            return status(
                StatusCode::CONFLICT,
                "Conflict",
                format!("Apply failed with 1 conflict: conflict with \"{owner}\""),
            );
        }
        object["metadata"]["uid"] = old["metadata"]["uid"].clone();
        object["metadata"]["creationTimestamp"] = old["metadata"]["creationTimestamp"].clone();
        object["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if !old["metadata"]["deletionTimestamp"].is_null() {
            object["metadata"]["deletionTimestamp"] = old["metadata"]["deletionTimestamp"].clone();
        }
    } else {
        c.next += 1;
        object["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{:012}", c.next));
        object["metadata"]["creationTimestamp"] = json!("2026-11-28T00:00:00Z");
    }
    object["metadata"]["managedFields"] = json!([{"manager": manager, "operation": "Apply", "apiVersion": api_version, "fieldsType": "FieldsV1"}]);
    if kind == "Namespace" {
        object["spec"] = json!({"finalizers": ["kubernetes"]});
        let phase = if object["metadata"]["deletionTimestamp"].is_null() {
            "Active"
        } else {
            "Terminating"
        };
        object["status"] = json!({"phase": phase});
    }
    // A no-op apply keeps the resourceVersion, as the API server does.
    if existing.as_ref() == Some(&object) {
        return ok(StatusCode::OK, &object);
    }
    c.next += 1;
    object["metadata"]["resourceVersion"] = json!(c.next.to_string());
    c.objects.insert(key, object.clone());
    ok(if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED }, &object)
}

fn delete(shared: &Shared, api_version: &str, plural: &str, namespace: &str, name: &str) -> Response {
    let key: Key = (api_version.into(), plural.into(), namespace.into(), name.into());
    let mut c = shared.cluster.lock().unwrap();
    let Some(mut object) = c.objects.get(&key).cloned() else {
        return not_found(plural, api_version, name);
    };
    if plural != "namespaces" {
        c.objects.remove(&key);
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "kind": plural, "uid": object["metadata"]["uid"]}});
        return ok(StatusCode::OK, &body);
    }
    if object["metadata"]["deletionTimestamp"].is_null() {
        object["metadata"]["deletionTimestamp"] = json!("2026-11-28T00:00:01Z");
        object["status"]["phase"] = json!("Terminating");
        c.next += 1;
        object["metadata"]["resourceVersion"] = json!(c.next.to_string());
        c.objects.insert(key.clone(), object.clone());
        // The namespace controller empties the namespace, then the finalizer lets it go.
        let delay = *shared.delete_delay.lock().unwrap();
        let cluster = shared.cluster.clone();
        let ns = name.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut c = cluster.lock().unwrap();
            c.objects.retain(|(_, _, n, _), _| *n != ns);
            c.objects.remove(&key);
        });
    }
    ok(StatusCode::OK, &object)
}
