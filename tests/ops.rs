//! Operations endpoints on both databases: `/health/live`, `/health/ready` (503 when a
//! migration is missing) and `/metrics` scraped after real runs — one that succeeds and one
//! that fails at its DNS step — parsed line by line.

mod common;
#[path = "support/quick_playbooks.rs"]
mod quick_playbooks;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::Value;
use tower::ServiceExt;

async fn get(svc: &kolokasi::service::Service, path: &str) -> (StatusCode, String, String) {
    let response = kolokasi::api::router(svc.clone()).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, content_type, String::from_utf8(body.to_vec()).unwrap())
}

async fn health_live_and_ready(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let (s, _, body) = get(&svc, "/health/live").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, body) = get(&svc, "/health/ready").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["schema_version"], kolokasi::store::expected_schema_version());
    let (s, _, _) = get(&svc, "/health").await;
    assert_eq!(s, StatusCode::OK);

    // A database behind this binary's schema is not ready; the process is still live.
    let latest = kolokasi::store::expected_schema_version();
    sqlx::query("DELETE FROM schema_migrations WHERE version = $1").bind(latest).execute(svc.store.pool()).await.unwrap();
    let (s, _, body) = get(&svc, "/health/ready").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["missing_migrations"], serde_json::json!([latest]));
    assert_eq!(get(&svc, "/health/live").await.0, StatusCode::OK);

    // A database that is gone: not ready, and no internals in the answer.
    svc.store.pool().close().await;
    let (s, _, body) = get(&svc, "/health/ready").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["database"], "unreachable");
    assert_eq!(get(&svc, "/health/live").await.0, StatusCode::OK);
}

/// `name{labels}` → value, for every sample line; checks the exposition format as it goes.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap();
            assert!(matches!(parts.next(), Some("gauge" | "counter" | "histogram")), "{line}");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).filter(|f| typed.contains(*f)).unwrap_or(name);
        assert!(typed.contains(family), "sample before its # TYPE: {line}");
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "{line}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        assert!(samples.insert(series.to_string(), value).is_none(), "duplicate series {series}");
    }
    samples
}

async fn metrics_after_runs(db: Db) {
    // The step counters are per process: one scrape-and-compare at a time in this binary.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _serial = SERIAL.lock().await;
    let db = fresh_db(db).await;
    // One run that succeeds (two addresses), one that fails at a DNS step (no DNS provider is
    // configured in this engine).
    let failing = "  - name: dns\n    action: dns_records\n    with:\n      provider: primary\n      domain: ${request.domain}\n      ipv4: ${steps.address-v4.address}\n";
    let good_dir = quick_playbooks::dir(&quick_playbooks::colocation(""));
    let bad_dir = quick_playbooks::dir(&quick_playbooks::colocation(failing));
    let good = quick_playbooks::engine(service(&db).await, good_dir.path());
    let bad = quick_playbooks::engine(service(&db).await, bad_dir.path());
    let (_, ok_run) = quick_playbooks::started_run(&good, sample_form()).await;
    let (_, bad_run) = quick_playbooks::started_run(&bad, sample_form()).await;
    let before = parse_exposition(&get(good.service(), "/metrics").await.2);
    assert_eq!(good.drive(&ok_run, &|_| {}).await.unwrap().status, kolokasi::engine::RunStatus::Succeeded);
    assert_eq!(bad.drive(&bad_run, &|_| {}).await.unwrap().status, kolokasi::engine::RunStatus::Failed);

    let (s, content_type, text) = get(good.service(), "/metrics").await;
    assert_eq!(s, StatusCode::OK);
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let m = parse_exposition(&text);
    let at = |k: &str| m.get(k).copied().unwrap_or_else(|| panic!("no series {k} in\n{text}"));
    let was = |k: &str| before.get(k).copied().unwrap_or(0.0);
    assert_eq!(at("kolokasi_runs{status=\"succeeded\"}"), 1.0);
    assert_eq!(at("kolokasi_runs{status=\"failed\"}"), 1.0);
    assert_eq!(at(&format!("kolokasi_build_info{{version=\"{}\"}}", env!("CARGO_PKG_VERSION"))), 1.0);
    assert_eq!(at("kolokasi_schema_version"), kolokasi::store::expected_schema_version() as f64);
    assert_eq!(at("kolokasi_sla_overdue"), 0.0);
    let requests: f64 = m.iter().filter(|(k, _)| k.starts_with("kolokasi_requests{")).map(|(_, v)| v).sum();
    assert_eq!(requests, 2.0);
    // Step histograms: four address steps (both runs), one failed DNS step. The counters are
    // per process, so compare with the scrape before the runs (other tests share it).
    let addr = "action=\"allocate_address\",driver=\"store\"";
    assert_eq!(at(&format!("kolokasi_step_duration_seconds_count{{{addr}}}")) - was(&format!("kolokasi_step_duration_seconds_count{{{addr}}}")), 4.0);
    assert_eq!(at(&format!("kolokasi_step_duration_seconds_bucket{{{addr},le=\"+Inf\"}}")), at(&format!("kolokasi_step_duration_seconds_count{{{addr}}}")));
    assert!(at(&format!("kolokasi_step_duration_seconds_sum{{{addr}}}")) > 0.0);
    let mut last = 0.0;
    for le in kolokasi::metrics::BUCKETS {
        let n = at(&format!("kolokasi_step_duration_seconds_bucket{{{addr},le=\"{le}\"}}"));
        assert!(n >= last, "buckets are cumulative");
        last = n;
    }
    let dns = "action=\"dns_records\",driver=\"dns\"";
    assert_eq!(at(&format!("kolokasi_step_failures_total{{{dns}}}")) - was(&format!("kolokasi_step_failures_total{{{dns}}}")), 1.0);
    assert_eq!(at(&format!("kolokasi_step_failures_total{{{addr}}}")) - was(&format!("kolokasi_step_failures_total{{{addr}}}")), 0.0);
}

on_both_databases!(health_live_and_ready, metrics_after_runs);
