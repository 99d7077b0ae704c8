//! IPAM on SQLite and PostgreSQL: idempotent, race-free, never hands out reserved addresses,
//! says clearly when a pool is full, and keeps the history of who held what.

mod common;

use std::collections::HashSet;
use std::net::IpAddr;

use common::*;
use kolokasi::ipam::{PoolSpec, Vlan};
use kolokasi::service::ServiceError;

on_both_databases!(
    concurrent_allocations_never_duplicate,
    allocation_is_idempotent_and_release_keeps_history,
    reserved_gateway_and_excluded_are_never_handed_out_and_full_is_clear,
    ipv6_pool_allocates_from_the_bottom,
);

fn small_pool(name: &str, cidr: &str) -> PoolSpec {
    PoolSpec { name: name.into(), noc: "NOC-SMD".into(), vlan: Vlan::new(130).unwrap(), cidr: cidr.parse().unwrap(), gateway: None, reserved: vec![], excluded: vec![] }
}

async fn concurrent_allocations_never_duplicate(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    svc.create_pool(&operator(), small_pool("race", "10.99.0.0/16")).await.unwrap();
    let mut seen: HashSet<IpAddr> = HashSet::new();
    for round in 0..10 {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let svc = svc.clone();
                tokio::spawn(async move { svc.allocate_address(&operator(), &format!("KLK-2026-{:05}", round * 64 + i), "race", "server").await })
            })
            .collect();
        for t in tasks {
            let a = t.await.unwrap().unwrap();
            assert!(seen.insert(a.address), "duplicate address {}", a.address);
        }
    }
    assert_eq!(seen.len(), 640);
    let pools = svc.store.pools().await.unwrap();
    let race = pools.iter().find(|p| p.spec.name == "race").unwrap();
    assert_eq!((race.used, race.free), (640, 65_534 - 640));
}

async fn allocation_is_idempotent_and_release_keeps_history(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let a = svc.allocate_address(&operator(), "KLK-2026-00001", "dc-v4", "srv-sipd/v4").await.unwrap();
    let again = svc.allocate_address(&operator(), "KLK-2026-00001", "dc-v4", "srv-sipd/v4").await.unwrap();
    assert_eq!(a, again);
    assert_eq!(a.address.to_string(), "198.51.100.140");
    assert_eq!((a.prefix_len, a.vlan.get()), (25, 120));
    let b = svc.allocate_address(&operator(), "KLK-2026-00002", "dc-v4", "srv-x/v4").await.unwrap();
    assert_eq!(b.address.to_string(), "198.51.100.141");
    let released = svc.release_address(&operator(), "KLK-2026-00001", "srv-sipd/v4").await.unwrap().unwrap();
    assert_eq!(released.address, a.address);
    assert!(svc.release_address(&operator(), "KLK-2026-00001", "srv-sipd/v4").await.unwrap().is_none());
    // The freed address is the lowest again and goes to the next request.
    let c = svc.allocate_address(&operator(), "KLK-2026-00003", "dc-v4", "srv-y/v4").await.unwrap();
    assert_eq!(c.address, a.address);
    let history = svc.store.allocations(None, Some("dc-v4"), 10).await.unwrap();
    assert_eq!(history.len(), 3);
    let old = history.iter().find(|h| h.request_id == "KLK-2026-00001").unwrap();
    assert_eq!((old.released_by.as_deref(), old.allocated_by.as_str()), (Some("pengelola"), "pengelola"));
    let mine = svc.store.allocations(Some("KLK-2026-00003"), None, 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    // Audited: allocations and the release, not the idempotent repeat.
    let audit = svc.store.audit_for_request("KLK-2026-00001").await.unwrap();
    assert_eq!(audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["ipam.allocate", "ipam.release"]);
    // Requesters may not touch addresses.
    assert!(matches!(svc.allocate_address(&requester(), "KLK-2026-00009", "dc-v4", "x").await, Err(ServiceError::Forbidden(_))));
}

async fn reserved_gateway_and_excluded_are_never_handed_out_and_full_is_clear(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let mut spec = small_pool("tiny", "198.51.100.0/28");
    spec.gateway = Some("198.51.100.1".parse().unwrap());
    spec.reserved = vec!["198.51.100.2-198.51.100.5".parse().unwrap()];
    spec.excluded = vec!["198.51.100.9".parse().unwrap()];
    svc.create_pool(&admin(), spec).await.unwrap();
    let mut got = vec![];
    for i in 0..100 {
        match svc.allocate_address(&operator(), &format!("KLK-2026-{i:05}"), "tiny", "server").await {
            Ok(a) => got.push(a.address.to_string()),
            Err(ServiceError::Conflict(m)) => {
                assert!(m.contains("tiny is full"), "{m}");
                break;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    // .0 network, .1 gateway, .2-.5 reserved, .9 excluded, .15 broadcast: 8 usable.
    assert_eq!(got, ["198.51.100.6", "198.51.100.7", "198.51.100.8", "198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.14"]);
    // Duplicate pool names and bad pools are refused clearly.
    assert!(matches!(svc.create_pool(&admin(), small_pool("tiny", "198.51.100.64/28")).await, Err(ServiceError::Conflict(_))));
    let mut bad = small_pool("bad", "198.51.100.64/28");
    bad.gateway = Some("198.51.100.1".parse().unwrap());
    assert!(matches!(svc.create_pool(&admin(), bad).await, Err(ServiceError::Invalid(m)) if m.contains("not inside")));
}

async fn ipv6_pool_allocates_from_the_bottom(db: Db) {
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let a = svc.allocate_address(&operator(), "KLK-2026-00001", "dc-v6", "srv-sipd/v6").await.unwrap();
    assert_eq!(a.address.to_string(), "2001:db8:100::2");
    assert_eq!(a.prefix_len, 64);
}
