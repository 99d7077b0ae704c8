//! Benchmark: a drift check of N live requests (default 500, `KOLOKASI_BENCH_DRIFT_N`) on the
//! local lab (`deploy/lab/lab.sh up`). Each request has what provisioning writes: A, AAAA, a
//! PTR for the IPv6 address and a `www` CNAME on BIND (RFC 2136), a firewall chain with an
//! accept, a drop and its map entry on fw-1 (nftables over SSH), and — for the first 60 — a
//! switch port (bp1–bp60, OVSDB). The state is written first (not timed), then the check's
//! reads and comparison are timed: one OVSDB select, one `nft -j list ruleset`, concurrent DNS
//! queries, all at once. Prints the wall time of each round and the best.
//!
//! Run: `cargo bench --profile dev --bench drift` (release works too, it only builds longer).
//! Uses names `drift-bench-N.kaltimprov.go.id`, requests `KLK-2099-7NNNN`, addresses
//! 10.77.0.0/16 and 2001:db8:100::d:0/112; cleans up after itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use kolokasi::dns::{RecordKind, RecordSet, reverse_name};
use kolokasi::domain::Fqdn;
use kolokasi::drift::service::{Subject, evaluate};
use kolokasi::drift::{Expectation, Probe};
use kolokasi::engine::Drivers;
use kolokasi::firewall::rule::drop_kind;
use kolokasi::firewall::{FirewallRule, Service};
use kolokasi::lab::Lab;
use kolokasi::ssh::RequestTag;
use kolokasi::switch::{PortDescription, PortMode, SwitchPortConfig};

const PORTS: usize = 60;
const SWITCH: &str = "sw-r01-ovsdb";
const FIREWALL: &str = "fw-1";

struct Seeded {
    tag: RequestTag,
    domain: Fqdn,
    v4: Ipv4Addr,
    v6: Ipv6Addr,
    port: Option<String>,
}

fn seeded(i: usize) -> Seeded {
    Seeded {
        tag: RequestTag::parse(&format!("KLK-2099-7{i:04}")).unwrap(),
        domain: Fqdn::parse(&format!("drift-bench-{i}.kaltimprov.go.id")).unwrap(),
        v4: Ipv4Addr::new(10, 77, (i / 256) as u8, (i % 256) as u8),
        v6: format!("2001:db8:100::d:{i:x}").parse().unwrap(),
        port: (i < PORTS).then(|| format!("bp{}", i + 1)),
    }
}

fn records(s: &Seeded) -> Vec<(Fqdn, RecordSet)> {
    let zone = Fqdn::parse("kaltimprov.go.id").unwrap();
    let rev6 = Fqdn::parse("0.0.1.0.8.b.d.0.1.0.0.2.ip6.arpa").unwrap();
    let www = Fqdn::parse(&format!("www.{}", s.domain)).unwrap();
    vec![
        (zone.clone(), RecordSet::new(s.domain.clone(), RecordKind::A, 300, vec![s.v4.to_string()])),
        (zone.clone(), RecordSet::new(s.domain.clone(), RecordKind::Aaaa, 300, vec![s.v6.to_string()])),
        (zone, RecordSet::new(www, RecordKind::Cname, 300, vec![format!("{}.", s.domain)])),
        (rev6, RecordSet::new(reverse_name(IpAddr::V6(s.v6)), RecordKind::Ptr, 300, vec![format!("{}.", s.domain)])),
    ]
}

fn rule(s: &Seeded) -> FirewallRule {
    FirewallRule::new(s.tag.clone(), IpAddr::V4(s.v4), "tcp/443".parse::<Service>().unwrap(), vec![]).unwrap()
}

/// What the drift check derives from the run log, for one seeded request.
fn subject(d: &Drivers, s: &Seeded) -> Subject {
    let mut e = Vec::new();
    for (_, set) in records(s) {
        let values = set.normalized_values().unwrap();
        e.push(Expectation { item: format!("dns:{}/{}", set.name, set.kind), step: "dns".into(), device: "dns:primary".into(), probe: Probe::Dns { provider: "primary".into(), name: set.name, kind: set.kind, values } });
    }
    if let Some(port) = &s.port {
        let probe = Probe::SwitchPort { port: port.clone(), vlan: 120, description: format!("kolokasi {}", s.tag), request: s.tag.clone() };
        e.push(Expectation { item: format!("switch:{SWITCH}/{port}"), step: "switch".into(), device: SWITCH.into(), probe });
    }
    let fw = |what: String, probe| Expectation { item: format!("firewall:{FIREWALL}/{what}"), step: "firewall".into(), device: FIREWALL.into(), probe };
    let address = IpAddr::V4(s.v4);
    for kind in [rule(s).kind(), drop_kind(address)] {
        e.push(fw(kind.clone(), Probe::FirewallRule { request: s.tag.clone(), kind }));
    }
    let chain = d.firewalls[FIREWALL].expected_chain(&s.tag, address).unwrap();
    e.push(fw(format!("map/{address}"), Probe::FirewallMap { address, chain }));
    Subject { request: s.tag.to_string(), expectations: e, accepted: vec![] }
}

async fn seed(d: &Drivers, all: &[Seeded]) {
    let dns = &d.dns["primary"].provider;
    let mut tasks = tokio::task::JoinSet::new();
    for s in all {
        for (zone, set) in records(s) {
            let dns = dns.clone();
            tasks.spawn(async move { dns.replace(&zone, &set).await.unwrap() });
        }
        while tasks.len() >= 32 {
            tasks.join_next().await;
        }
    }
    while tasks.join_next().await.is_some() {}
    let fw = &d.firewalls[FIREWALL];
    for s in all {
        fw.allow(&s.tag, &[rule(s)]).await.unwrap();
    }
    let sw = &d.switches[SWITCH];
    for s in all {
        if let Some(port) = &s.port {
            let config = SwitchPortConfig {
                port: sw.port(port).unwrap(),
                mode: PortMode::Access(kolokasi::ipam::Vlan::new(120).unwrap()),
                description: PortDescription::parse(&format!("kolokasi {}", s.tag)).unwrap(),
                enabled: true,
                request: s.tag.clone(),
            };
            sw.apply(&config).await.unwrap();
        }
    }
}

async fn clean(lab: &Lab, d: &Drivers, all: &[Seeded]) {
    let dns = &d.dns["primary"].provider;
    for s in all {
        for (zone, set) in records(s) {
            let _ = dns.delete(&zone, &set.name, set.kind).await;
        }
        let _ = d.firewalls[FIREWALL].remove(&s.tag, None).await;
    }
    let db = format!("--db=tcp:{}", lab.host("sw").unwrap().ovsdb.as_deref().unwrap());
    let mut args = vec![db];
    for n in 1..=PORTS {
        let port = format!("bp{n}");
        if n > 1 {
            args.push("--".into());
        }
        args.extend(["set", "port", &port, "tag=1", "--", "clear", "port", &port, "trunks", "vlan_mode", "external_ids"].map(String::from));
    }
    let status = std::process::Command::new("ovs-vsctl").args(&args).status().expect("ovs-vsctl (installed by the lab)");
    assert!(status.success(), "cannot reset the benchmark's switch ports");
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("KOLOKASI_BENCH_DRIFT_N").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let lab = Lab::load().unwrap_or_else(|e| panic!("{e}"));
    let drivers = Drivers::from_lab(&lab).unwrap();
    let all: Vec<Seeded> = (0..n).map(seeded).collect();
    clean(&lab, &drivers, &all).await;
    let started = Instant::now();
    seed(&drivers, &all).await;
    println!("seeded {n} live requests in {:.1} s (not timed below)", started.elapsed().as_secs_f64());
    let subjects: Vec<Subject> = all.iter().map(|s| subject(&drivers, s)).collect();
    let items: usize = subjects.iter().map(|s| s.expectations.len()).sum();
    let mut best = f64::MAX;
    for round in 1..=5 {
        let t = Instant::now();
        let reports = evaluate(&drivers, &subjects).await;
        let secs = t.elapsed().as_secs_f64();
        best = best.min(secs);
        let drifted = reports.iter().filter(|r| !r.drifted.is_empty() || !r.unreadable.is_empty()).count();
        println!("round {round}: {n} requests, {items} items checked in {:.0} ms ({drifted} not in sync)", secs * 1000.0);
        assert_eq!(drifted, 0, "{}", reports.iter().find(|r| !r.drifted.is_empty() || !r.unreadable.is_empty()).unwrap().to_text());
    }
    println!("drift check of {n} live requests: best {:.0} ms ({:.2} ms per request)", best * 1000.0, best * 1000.0 / n as f64);
    clean(&lab, &drivers, &all).await;
}
