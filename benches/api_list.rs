//! Benchmark: list and filter 100,000 requests through the REST API.
//!
//! Seeds the store directly (one transaction), serves the API on a loopback port, and times
//! sequential HTTP calls per query shape. Prints p50/p99 in milliseconds.
//! `cargo bench --bench api_list` (SQLite); `KOLOKASI_BENCH_DATABASE_URL=postgres://… cargo bench --bench api_list`.

use std::time::{Duration, Instant};

use kolokasi::capacity::Inventory;
use kolokasi::domain::RequestForm;
use kolokasi::lifecycle::{Calendar, State};
use kolokasi::service::Service;
use kolokasi::store::{Store, micros};

const N: usize = 100_000;
const CALLS: usize = 300;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("KOLOKASI_BENCH_DATABASE_URL").unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.path().display()));
    let store = Store::connect(&url).await.unwrap();
    let t = Instant::now();
    seed(&store).await;
    println!("seeded {N} requests in {:.1} s ({})", t.elapsed().as_secs_f64(), if url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" });

    let svc = Service::new(store, Inventory::example(), Calendar::builtin_2026(), None);
    let root = kolokasi::lifecycle::Actor::new("root", kolokasi::lifecycle::Role::Admin).unwrap();
    let bench = kolokasi::service::NewUser { username: "bench".into(), display_name: "bench".into(), role: kolokasi::lifecycle::Role::Auditor, unit: None, password: None };
    svc.create_user(&root, bench).await.unwrap();
    let (_, token) = svc.create_token(&root, "bench", true, time::Duration::hours(1)).await.unwrap();
    let token = token.expose().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kolokasi::api::serve(svc, listener, std::future::pending()));
    let http = reqwest::Client::new();

    let shapes = [
        ("first page (100)", "/api/v1/requests?limit=100".to_string()),
        ("state=verified", "/api/v1/requests?state=verified&limit=100".to_string()),
        ("unit filter", "/api/v1/requests?unit=Unit%2007&limit=100".to_string()),
        ("overdue", "/api/v1/requests?overdue=true&limit=100".to_string()),
        ("deep page", "/api/v1/requests?after=KLK-2026-75000&limit=100".to_string()),
        ("state+unit, rare", "/api/v1/requests?state=active&unit=Unit%2013&limit=100".to_string()),
    ];
    let mut all = Vec::new();
    println!("{:<20} {:>9} {:>9} {:>6}", "query", "p50 ms", "p99 ms", "rows");
    for (name, path) in &shapes {
        let mut times = Vec::with_capacity(CALLS);
        let mut rows = 0;
        for _ in 0..CALLS {
            let t = Instant::now();
            let r = http.get(format!("{base}{path}")).bearer_auth(&token).send().await.unwrap();
            assert!(r.status().is_success());
            let body: serde_json::Value = r.json().await.unwrap();
            times.push(t.elapsed());
            rows = body["items"].as_array().unwrap().len();
        }
        all.extend(times.iter().copied());
        println!("{name:<20} {:>9.2} {:>9.2} {rows:>6}", ms(pct(&mut times, 50)), ms(pct(&mut times, 99)));
    }
    println!("{:<20} {:>9.2} {:>9.2}", "all", ms(pct(&mut all, 50)), ms(pct(&mut all, 99)));
}

fn pct(v: &mut [Duration], p: usize) -> Duration {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn seed(store: &Store) {
    let form = RequestForm::from_yaml(include_str!("../deploy/examples/colocation-request.yaml")).unwrap();
    let json = serde_json::to_string(&form).unwrap();
    let states = [State::Submitted, State::Verified, State::FormCompleted, State::Approved, State::Active, State::Decommissioned];
    let now = micros(time::OffsetDateTime::now_utc());
    let mut tx = store.pool().begin().await.unwrap();
    for i in 1..=N {
        let state = states[i % states.len()];
        let due = (state != State::Active && state != State::Decommissioned).then_some(if i % 50 == 0 { now - 1 } else { now + 86_400_000_000 });
        sqlx::query(
            "INSERT INTO requests (id, kind, state, unit_name, domain, official_nip, submitted_at, updated_at, sla_due_at, form_json, version)
             VALUES ($1, 'colocation', $2, $3, $4, '198503152010011002', $5, $5, $6, $7, 1)",
        )
        .bind(format!("KLK-2026-{i:05}"))
        .bind(state.as_str())
        .bind(format!("Unit {:02}", i % 20))
        .bind(format!("app{i}.kaltimprov.go.id"))
        .bind(now - i as i64 * 1_000_000)
        .bind(due)
        .bind(&json)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}
