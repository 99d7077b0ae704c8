//! Benchmark: write-and-verify A records on each DNS driver against the real lab.
//!
//! For BIND9 (RFC 2136 + TSIG) and PowerDNS (HTTP API), writes N records with
//! `replace_verified` (each one an update plus a read-back query), first one after another and
//! then from 8 concurrent tasks, and prints records per second for both. Every record is
//! deleted afterwards. `cargo bench --bench dns` (needs the lab: `bash deploy/lab/lab.sh up`).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kolokasi::dns::{DnsProvider, PowerDns, PowerDnsConfig, RecordKind, RecordSet, Rfc2136, Rfc2136Config};
use kolokasi::domain::Fqdn;
use kolokasi::lab::Lab;

const N: usize = 200;
const TASKS: usize = 8;
const TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() {
    let lab = Lab::load().expect("the DNS benchmark needs the lab");
    let zone = Fqdn::parse(&lab.zones.forward).expect("lab forward zone");
    let rfc2136 = Rfc2136::new(Rfc2136Config {
        server: lab.bind.server.parse().expect("lab bind.server"),
        key_name: lab.bind.tsig_key_name.clone(),
        algorithm: lab.bind.tsig_algorithm.clone(),
        secret: lab.tsig_secret().expect("lab TSIG secret"),
        timeout: TIMEOUT,
    })
    .expect("RFC 2136 provider");
    let powerdns = PowerDns::new(PowerDnsConfig {
        api_url: lab.powerdns.api_url.clone(),
        api_key: lab.powerdns_api_key().expect("lab PowerDNS API key"),
        server_id: lab.powerdns.server_id.clone(),
        dns_server: lab.powerdns.server.parse().expect("lab powerdns.server"),
        timeout: TIMEOUT,
    })
    .expect("PowerDNS provider");

    println!("write + read-back of {N} A records per mode, zone {zone}");
    println!("{:<10} {:<16} {:>10} {:>12}", "driver", "mode", "seconds", "records/s");
    for dns in [DnsProvider::from(rfc2136), DnsProvider::from(powerdns)] {
        let dns = Arc::new(dns);
        let sequential = records(&zone, dns.name(), "seq");
        let started = Instant::now();
        for set in &sequential {
            dns.replace_verified(&zone, set).await.unwrap_or_else(|e| panic!("{}: {}: {e}", dns.name(), set.name));
        }
        report(dns.name(), "sequential", started.elapsed());

        let concurrent = Arc::new(records(&zone, dns.name(), "par"));
        let started = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (dns, zone, sets) = (dns.clone(), zone.clone(), concurrent.clone());
                tokio::spawn(async move {
                    for set in sets.iter().skip(t).step_by(TASKS) {
                        dns.replace_verified(&zone, set).await.unwrap_or_else(|e| panic!("{}: {}: {e}", dns.name(), set.name));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("benchmark task");
        }
        report(dns.name(), &format!("{TASKS} concurrent"), started.elapsed());

        let started = Instant::now();
        for set in sequential.iter().chain(concurrent.iter()) {
            dns.delete_verified(&zone, &set.name, set.kind).await.unwrap_or_else(|e| panic!("{}: clean up {}: {e}", dns.name(), set.name));
        }
        println!("{:<10} cleaned up {} records in {:.2} s", dns.name(), 2 * N, started.elapsed().as_secs_f64());
    }
}

/// N distinct A records under names no earlier run used.
fn records(zone: &Fqdn, driver: &str, mode: &str) -> Vec<RecordSet> {
    let run = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis();
    (0..N)
        .map(|i| {
            let name = Fqdn::parse(&format!("bench-{run}-{driver}-{mode}-{i}.{zone}")).expect("bench name");
            let addr = Ipv4Addr::new(198, 51, 100, 129 + (i % 120) as u8);
            RecordSet::new(name, RecordKind::A, 60, vec![addr.to_string()])
        })
        .collect()
}

fn report(driver: &str, mode: &str, elapsed: Duration) {
    println!("{driver:<10} {mode:<16} {:>10.2} {:>12.1}", elapsed.as_secs_f64(), N as f64 / elapsed.as_secs_f64());
}
