//! Benchmark: allocation latency on a /16 with 50,000 addresses in use (SQLite by default;
//! `KOLOKASI_BENCH_DATABASE_URL=postgres://…` for PostgreSQL). Every allocation goes through
//! the service layer: audited, in its own transaction, as in production.

use std::time::{Duration, Instant};

use kolokasi::capacity::Inventory;
use kolokasi::ipam::{PoolSpec, Vlan};
use kolokasi::lifecycle::{Actor, Calendar, Role};
use kolokasi::service::Service;
use kolokasi::store::Store;

const USED: usize = 50_000;
const MEASURED: usize = 2_000;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("KOLOKASI_BENCH_DATABASE_URL").unwrap_or_else(|_| format!("sqlite://{}/ipam.db", dir.path().display()));
    let svc = Service::new(Store::connect(&url).await.unwrap(), Inventory::example(), Calendar::builtin_2026(), None);
    let op = Actor::new("bench", Role::Operator).unwrap();
    let pool = PoolSpec { name: "big".into(), noc: "NOC-SMD".into(), vlan: Vlan::new(200).unwrap(), cidr: "10.20.0.0/16".parse().unwrap(), gateway: Some("10.20.0.1".parse().unwrap()), reserved: vec![], excluded: vec![] };
    svc.create_pool(&op, pool).await.unwrap();

    let t = Instant::now();
    for i in 0..USED {
        svc.allocate_address(&op, &format!("KLK-2026-{i:06}"), "big", "server").await.unwrap();
    }
    let fill = t.elapsed();
    // Fragment the pool: release every 7th address, so allocation must find holes.
    for i in (0..USED).step_by(7) {
        svc.release_address(&op, &format!("KLK-2026-{i:06}"), "server").await.unwrap();
    }
    let holes = USED.div_ceil(7);
    println!("filled {USED} addresses in {:.1} s ({:.0}/s), released {holes} to fragment the pool", fill.as_secs_f64(), USED as f64 / fill.as_secs_f64());

    let mut times = Vec::with_capacity(MEASURED);
    for i in 0..MEASURED {
        let t = Instant::now();
        svc.allocate_address(&op, &format!("KLK-2027-{i:06}"), "big", "server").await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    let p = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "allocate on a /16 with ~{} in use ({}): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        USED - holes,
        if url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" },
        ms(p(50)),
        ms(p(99)),
        ms(*times.last().unwrap())
    );
}
