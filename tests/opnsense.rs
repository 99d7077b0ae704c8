//! The OPNsense driver against an emulator of OPNsense's documented firewall filter API
//! (`support/opnsense_emulator.rs`). OPNsense is a FreeBSD appliance and cannot run on this
//! machine, so these tests show that the driver uses the API as documented — one rule per
//! service, idempotent, exact removal, apply, clear errors — not that OPNsense enforces it.

#[path = "support/opnsense_emulator.rs"]
mod opnsense_emulator;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use kolokasi::firewall::{
    FirewallDriver, FirewallError, FirewallRule, Opnsense, OpnsenseConfig, OpnsenseInterface, RuleComment, Service, parse_source,
};
use kolokasi::secrets::Secret;
use kolokasi::ssh::RequestTag;
use opnsense_emulator::Emulator;
use serde_json::{Value, json};

const KEY: &str = "w86XNZob8Oq8aC5r0kbNarNtdpoQU781fyoeaOBQsBwkXUt";
const SECRET: &str = "CANARY-XeD26XVrJ5ilAcEmglCRC0j2e57tRsjHwFepOseySWLM53pJASeTA3";
const WEB: &str = "198.51.100.140";
const MAIL: &str = "198.51.100.141";

fn tag(s: &str) -> RequestTag {
    RequestTag::parse(s).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rule(request: &str, destination: &str, service: &str, sources: &[&str]) -> FirewallRule {
    let sources = sources.iter().map(|s| parse_source(s).unwrap()).collect();
    FirewallRule::new(tag(request), ip(destination), service.parse::<Service>().unwrap(), sources).unwrap()
}

fn config(url: &str, key: &str, secret: &str, timeout: Duration) -> OpnsenseConfig {
    OpnsenseConfig {
        device: "fw-opn-1".into(),
        api_url: url.into(),
        api_key: Secret::new(key),
        api_secret: Secret::new(secret),
        interface: OpnsenseInterface::parse("wan").unwrap(),
        timeout,
        ca_certificate_pem: None,
        sequence: None,
    }
}

fn driver_with(url: &str, key: &str, secret: &str, timeout: Duration) -> FirewallDriver {
    FirewallDriver::Opnsense(Opnsense::new(config(url, key, secret, timeout)).unwrap())
}

fn driver(em: &Emulator) -> FirewallDriver {
    driver_with(&em.url(), KEY, SECRET, Duration::from_secs(5))
}

/// Descriptions of the rules in force (loaded by the last apply), sorted.
fn applied_descriptions(em: &Emulator) -> Vec<String> {
    let mut d: Vec<String> = em.applied().iter().map(|(_, r)| r["description"].as_str().unwrap().to_string()).collect();
    d.sort();
    d
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn allow_adds_one_pass_rule_per_service_and_applies() {
    let em = Emulator::start(KEY, SECRET).await;
    let fw = driver(&em);
    let request = tag("KLK-2026-00042");
    let rules = vec![
        rule("KLK-2026-00042", WEB, "tcp/443", &[]),
        rule("KLK-2026-00042", WEB, "tcp/80", &[]),
        rule("KLK-2026-00042", WEB, "udp/53", &["10.0.0.0/8", "203.0.113.7"]),
        rule("KLK-2026-00042", "2001:db8:100::7", "tcp/443", &[]),
    ];

    let allowed = fw.allow(&request, &rules).await.unwrap();

    assert_eq!(allowed.written.len(), 4);
    assert_eq!(allowed.total, 4);
    assert_eq!(em.applies(), 1);
    let saved = em.rules();
    assert_eq!(saved.len(), 4);
    assert_eq!(sorted(em.descriptions()), sorted(rules.iter().map(FirewallRule::comment).collect()));
    assert_eq!(applied_descriptions(&em), sorted(em.descriptions()), "everything saved is in force");
    for (uuid, r) in &saved {
        assert!(allowed.written.iter().any(|a| a.chain == *uuid), "the driver reports uuid {uuid}");
        let comment = RuleComment::parse(r["description"].as_str().unwrap()).unwrap();
        assert_eq!(comment.request, request);
        assert_eq!((r["enabled"].as_str(), r["action"].as_str(), r["quick"].as_str()), (Some("1"), Some("pass"), Some("1")));
        assert_eq!((r["interface"].as_str(), r["direction"].as_str()), (Some("wan"), Some("in")));
        assert_eq!(r["destination_net"].as_str().unwrap().parse::<IpAddr>().ok(), comment.destination());
    }
    let dns = saved.iter().map(|(_, r)| r).find(|r| r["destination_port"] == "53").unwrap();
    assert_eq!((dns["protocol"].as_str(), dns["ipprotocol"].as_str()), (Some("UDP"), Some("inet")));
    assert_eq!(dns["source_net"], "10.0.0.0/8,203.0.113.7/32");
    let v6 = saved.iter().map(|(_, r)| r).find(|r| r["ipprotocol"] == "inet6").unwrap();
    assert_eq!((v6["destination_net"].as_str(), v6["source_net"].as_str()), (Some("2001:db8:100::7"), Some("any")));

    // Read one back through getRule, independently of the driver.
    let (uuid, _) = &saved[0];
    let got: Value = reqwest::Client::new()
        .get(format!("{}/api/firewall/filter/getRule/{uuid}", em.url()))
        .basic_auth(KEY, Some(SECRET))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["rule"]["action"]["pass"]["selected"], 1);
    assert_eq!(got["rule"]["interface"]["wan"]["selected"], 1);
    assert!(RuleComment::parse(got["rule"]["description"].as_str().unwrap()).is_some());
}

#[tokio::test]
async fn rerunning_allow_adds_nothing_and_still_applies() {
    let em = Emulator::start(KEY, SECRET).await;
    let fw = driver(&em);
    let request = tag("KLK-2026-00043");
    let rules = vec![rule("KLK-2026-00043", WEB, "tcp/443", &[]), rule("KLK-2026-00043", WEB, "tcp/22", &["192.0.2.0/24"])];

    let first = fw.allow(&request, &rules).await.unwrap();
    let uuids_before: Vec<String> = em.rules().into_iter().map(|(u, _)| u).collect();
    let second = fw.allow(&request, &rules).await.unwrap();

    assert_eq!(first.written.len(), 2);
    assert!(second.written.is_empty(), "a re-run adds nothing: {:?}", second.written);
    assert_eq!(second.total, 2);
    assert_eq!(em.rules().into_iter().map(|(u, _)| u).collect::<Vec<_>>(), uuids_before);
    assert_eq!(em.applies(), 2);

    // A crash after addRule saved a rule but before apply: the re-run finds the saved rule,
    // adds nothing, and applies so it is in force.
    let crashed = rule("KLK-2026-00043", MAIL, "tcp/25", &[]);
    em.insert_rule(json!({
        "interface": "wan", "protocol": "TCP", "destination_net": MAIL, "destination_port": "25", "description": crashed.comment(),
    }));
    assert!(!applied_descriptions(&em).contains(&crashed.comment()));
    let mut all = rules.clone();
    all.push(crashed.clone());
    let third = fw.allow(&request, &all).await.unwrap();
    assert!(third.written.is_empty());
    assert_eq!(third.total, 3);
    assert_eq!(em.rules().len(), 3);
    assert!(applied_descriptions(&em).contains(&crashed.comment()));

    // The same rule twice in one call is added once.
    let twice = vec![rule("KLK-2026-00043", MAIL, "udp/53", &[]), rule("KLK-2026-00043", MAIL, "udp/53", &[])];
    assert_eq!(fw.allow(&request, &twice).await.unwrap().written.len(), 1);
    assert_eq!(em.rules().len(), 4);
}

#[tokio::test]
async fn remove_deletes_exactly_the_requests_rules() {
    let em = Emulator::start(KEY, SECRET).await;
    let fw = driver(&em);
    // KLK-2026-1 is a prefix of KLK-2026-10: searchRule finds both, the driver must not.
    let (mine, other) = (tag("KLK-2026-1"), tag("KLK-2026-10"));
    let my_rules =
        vec![rule("KLK-2026-1", WEB, "tcp/443", &[]), rule("KLK-2026-1", WEB, "tcp/80", &[]), rule("KLK-2026-1", MAIL, "tcp/25", &[])];
    let other_rules = vec![rule("KLK-2026-10", WEB, "tcp/443", &[])];
    fw.allow(&mine, &my_rules).await.unwrap();
    fw.allow(&other, &other_rules).await.unwrap();
    let foreign = em.insert_rule(json!({"interface": "lan", "description": "office VPN"}));
    let copied = em.insert_rule(json!({"interface": "wan", "description": format!("copy of {}", my_rules[0].comment())}));
    let applies = em.applies();

    // Only those guarding one destination first.
    assert_eq!(fw.remove(&mine, Some(ip(MAIL))).await.unwrap(), 1);
    assert!(!em.descriptions().contains(&my_rules[2].comment()));
    assert!(em.descriptions().contains(&my_rules[0].comment()));
    assert_eq!(em.applies(), applies + 1);

    assert_eq!(fw.remove(&mine, None).await.unwrap(), 2);
    let left: Vec<String> = em.rules().into_iter().map(|(u, _)| u).collect();
    assert_eq!(em.rules().len(), 3, "{:?}", em.descriptions());
    assert!(left.contains(&foreign) && left.contains(&copied), "foreign rules stay");
    assert!(em.descriptions().contains(&other_rules[0].comment()), "the other request's rule stays");
    assert_eq!(applied_descriptions(&em), sorted(em.descriptions()), "the removal is in force");

    // Again: nothing left to delete, nothing else touched.
    assert_eq!(fw.remove(&mine, None).await.unwrap(), 0);
    assert_eq!(em.rules().len(), 3);
    let listed = fw.rules().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].comment.request, other);
}

#[tokio::test]
async fn rules_lists_every_kolokasi_rule_across_pages() {
    let em = Emulator::start(KEY, SECRET).await;
    let fw = driver(&em);
    for i in 0..1234u32 {
        let r = rule("KLK-2026-00500", &format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256), "tcp/443", &[]);
        em.insert_rule(json!({"description": r.comment(), "destination_net": r.destination.to_string()}));
    }
    em.insert_rule(json!({"description": "someone else's"}));
    let calls = em.calls();

    let listed = fw.rules().await.unwrap();

    assert_eq!(listed.len(), 1234);
    assert_eq!(em.calls() - calls, 3, "three pages of searchRule");
    // remove finds them all too, across pages.
    assert_eq!(fw.remove(&tag("KLK-2026-00500"), None).await.unwrap(), 1234);
    assert_eq!(em.descriptions(), vec!["someone else's".to_string()]);
}

#[tokio::test]
async fn wrong_credentials_give_a_clear_non_retryable_error() {
    let em = Emulator::start(KEY, SECRET).await;
    em.add_key("readonly-key", "CANARY-readonly-secret", false);
    let rules = vec![rule("KLK-2026-00044", WEB, "tcp/443", &[])];
    let attempts =
        [(KEY, "CANARY-wrong-secret", "401"), ("CANARY-unknown-key", SECRET, "401"), ("readonly-key", "CANARY-readonly-secret", "403")];
    for (key, secret, status) in attempts {
        let fw = driver_with(&em.url(), key, secret, Duration::from_secs(5));
        let e = fw.allow(&tag("KLK-2026-00044"), &rules).await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains("OPNsense API key was rejected"), "{text}");
        assert!(text.contains(status), "{text}");
        assert!(!text.contains("CANARY") && !format!("{e:?}").contains("CANARY"), "no credentials in {e:?}");
        assert!(!e.is_retryable(), "{text}");
        assert!(fw.remove(&tag("KLK-2026-00044"), None).await.is_err());
    }
    assert!(em.rules().is_empty());
    assert_eq!(em.applies(), 0);
}

#[tokio::test]
async fn server_errors_are_retryable_and_a_retry_completes() {
    let em = Emulator::start(KEY, SECRET).await;
    let fw = driver(&em);
    let request = tag("KLK-2026-00045");
    let rules = vec![rule("KLK-2026-00045", WEB, "tcp/443", &[]), rule("KLK-2026-00045", WEB, "tcp/80", &[])];

    // searchRule and the first addRule pass, the second addRule fails: a half-done allow,
    // saved in part and not applied.
    em.fail_after(2, StatusCode::SERVICE_UNAVAILABLE);
    let e = fw.allow(&request, &rules).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(matches!(e, FirewallError::Opnsense(_)), "{e:?}");
    assert_eq!(em.rules().len(), 1);
    assert_eq!(em.applies(), 0);
    // The retry adds only what is missing and applies.
    let retried = fw.allow(&request, &rules).await.unwrap();
    assert_eq!((retried.written.len(), retried.total), (1, 2));
    assert_eq!(em.rules().len(), 2);
    assert_eq!(applied_descriptions(&em), sorted(rules.iter().map(FirewallRule::comment).collect()));

    // A 200 that is no API answer (a proxy's page, say) is not worth retrying.
    em.fail_next(StatusCode::OK);
    assert!(!fw.allow(&request, &rules).await.unwrap_err().is_retryable());

    em.fail_next(StatusCode::INTERNAL_SERVER_ERROR);
    assert!(fw.allow(&request, &rules).await.unwrap_err().is_retryable());
    em.fail_next(StatusCode::BAD_GATEWAY);
    assert!(fw.remove(&request, None).await.unwrap_err().is_retryable());
    assert_eq!(em.rules().len(), 2, "nothing changed by the failed calls");
}

#[tokio::test]
async fn a_stopped_api_gives_a_retryable_error_within_the_timeout() {
    let em = Emulator::start(KEY, SECRET).await;
    let timeout = Duration::from_secs(2);
    let fw = driver_with(&em.url(), KEY, SECRET, timeout);
    let request = tag("KLK-2026-00046");
    let rules = vec![rule("KLK-2026-00046", WEB, "tcp/443", &[])];
    fw.allow(&request, &rules).await.unwrap(); // leaves a pooled connection behind
    em.stop().await;

    let started = Instant::now();
    let e = fw.allow(&request, &rules).await.unwrap_err();

    assert!(started.elapsed() < timeout, "took {:?}", started.elapsed());
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("fw-opn-1"), "{e}");
}

#[tokio::test]
async fn an_api_that_never_answers_times_out_retryably() {
    // Accepts connections (the kernel completes the handshake) but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let timeout = Duration::from_millis(800);
    let fw = driver_with(&url, KEY, SECRET, timeout);

    let started = Instant::now();
    let e = fw.remove(&tag("KLK-2026-00047"), None).await.unwrap_err();

    let took = started.elapsed();
    assert!(took >= timeout && took < timeout * 3, "took {took:?}");
    assert!(e.is_retryable(), "{e}");
    assert!(e.to_string().contains("no answer"), "{e}");
    drop(silent);
}

#[tokio::test]
async fn injection_attempts_are_rejected_by_the_types_before_any_call() {
    let em = Emulator::start(KEY, SECRET).await;
    let fw = driver(&em);

    // The request tag goes into the description: no `:` (field separator), quotes, spaces,
    // or anything that could fake another request's prefix.
    for bad in ["KLK-1:accept/tcp/22/0.0.0.0", "KLK-1\",\"action\":\"block", "KLK-1 KLK-2", "kolokasi:KLK-1", "", "KLK\n1"] {
        assert!(RequestTag::parse(bad).is_err(), "{bad:?}");
    }
    // Services and sources are typed: no lists, names or `any` smuggled into port or net fields.
    for bad in ["tcp/22,80", "tcp/1-65535", "tcp/ssh", "any/443", "tcp/443\"}"] {
        assert!(bad.parse::<Service>().is_err(), "{bad:?}");
    }
    for bad in ["any", "10.0.0.0/8,0.0.0.0/0", "wanip", "(self)"] {
        assert!(parse_source(bad).is_err(), "{bad:?}");
    }
    for bad in ["wan,lan", "wan\"", "lo 0", ""] {
        assert!(OpnsenseInterface::parse(bad).is_err(), "{bad:?}");
    }
    // A rule of another request never reaches the API.
    let e = fw.allow(&tag("KLK-2026-00048"), &[rule("KLK-2026-00049", WEB, "tcp/443", &[])]).await.unwrap_err();
    assert!(matches!(e, FirewallError::OtherRequest { .. }), "{e:?}");
    // Credentials in the URL are refused at construction.
    let with_credentials = format!("http://{KEY}:{SECRET}@{}", em.addr);
    let bad_url = Opnsense::new(config(&with_credentials, KEY, SECRET, Duration::from_secs(1))).unwrap_err();
    assert!(!bad_url.to_string().contains("CANARY"), "{bad_url}");

    assert_eq!(em.calls(), 0, "nothing was sent");
}

#[tokio::test]
async fn debug_never_shows_the_credentials() {
    let em = Emulator::start(KEY, SECRET).await;
    let opnsense = Opnsense::new(config(&em.url(), KEY, SECRET, Duration::from_secs(1))).unwrap();
    let text = format!("{opnsense:?} {:?}", config(&em.url(), KEY, SECRET, Duration::from_secs(1)));
    assert!(text.contains(&em.url()));
    assert!(!text.contains(KEY) && !text.contains(SECRET), "{text}");
}

/// With a `sequence` configured, every rule kolokasi adds carries it, so OPNsense (which
/// evaluates filter rules in sequence order, first quick match wins) checks them before the
/// operator's rules with a higher sequence; the emulator's searchRule lists them first.
#[tokio::test]
async fn rules_are_placed_before_the_operators_rules_by_sequence() {
    let em = Emulator::start(KEY, SECRET).await;
    let mut cfg = config(&em.url(), KEY, SECRET, Duration::from_secs(5));
    cfg.sequence = Some(90);
    let fw = FirewallDriver::Opnsense(Opnsense::new(cfg).unwrap());
    let request = tag("KLK-2026-00077");
    fw.allow(&request, &[rule("KLK-2026-00077", WEB, "tcp/443", &[])]).await.unwrap();
    let applied = em.applied();
    assert!(!applied.is_empty() && applied.iter().all(|(_, r)| r["sequence"] == json!("90")), "{applied:?}");
    let mut bad = config(&em.url(), KEY, SECRET, Duration::from_secs(5));
    bad.sequence = Some(0);
    assert!(Opnsense::new(bad).is_err(), "sequence 0 is refused");
}

/// `datacenter check` on OPNsense reads the operator's rules: a quick block-all on the WAN at
/// sequence 50 shadows kolokasi's passes at sequence 90 (cannot work, and says which rule and
/// what to set), not at sequence 10; a block on another interface and kolokasi's own rules do
/// not count; an earlier pass-all is reported as restricting nothing.
#[tokio::test]
async fn the_check_reads_the_operators_rules_and_their_sequences() {
    let em = Emulator::start(KEY, SECRET).await;
    em.insert_rule(json!({"sequence": "50", "action": "block", "interface": "wan", "description": "default deny WAN"}));
    em.insert_rule(json!({"sequence": "5", "action": "block", "interface": "lan", "description": "lan lockdown"}));
    let check = |sequence: Option<u32>| {
        let mut cfg = config(&em.url(), KEY, SECRET, Duration::from_secs(5));
        cfg.sequence = sequence;
        async move { FirewallDriver::Opnsense(Opnsense::new(cfg).unwrap()).check().await.unwrap() }
    };
    let late = check(Some(90)).await;
    assert!(!late.works, "{late:?}");
    assert!(late.findings[0].message.contains("\"default deny WAN\" (sequence 50)") && late.findings[0].message.contains("below 50"), "{late:?}");
    assert!(late.findings[0].pesan.contains("memblokir semua lalu lintas"), "{late:?}");
    let early = check(Some(10)).await;
    assert!(early.works && early.findings.len() == 1, "{early:?}");
    assert!(early.findings[0].message.contains("default block"), "{early:?}");

    // kolokasi's own rules are not operator rules.
    let mut cfg = config(&em.url(), KEY, SECRET, Duration::from_secs(5));
    cfg.sequence = Some(10);
    let fw = FirewallDriver::Opnsense(Opnsense::new(cfg).unwrap());
    fw.allow(&tag("KLK-2026-00078"), &[rule("KLK-2026-00078", WEB, "tcp/443", &[])]).await.unwrap();
    assert!(fw.check().await.unwrap().works);

    em.insert_rule(json!({"sequence": "2", "action": "pass", "interface": "wan", "description": "allow everything"}));
    let open = check(Some(10)).await;
    assert!(open.works && open.findings.iter().any(|f| f.message.contains("restrict nothing")), "{open:?}");
}
