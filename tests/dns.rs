//! DNS providers against the real lab (BIND9 over RFC 2136 + TSIG, PowerDNS over its API):
//! create, re-create, change and delete a request's records with read-back; foreign records
//! survive; wrong keys and dead servers fail clearly, quickly and with the right retry advice.
//!
//! Never skips: without the lab these tests fail and say how to start it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use kolokasi::dns::{
    DnsError, DnsProvider, PowerDns, PowerDnsConfig, RecordKind, RecordSet, Rfc2136, Rfc2136Config, ZoneSet, plan_request_records,
    reverse_name,
};
use kolokasi::domain::Fqdn;
use kolokasi::lab::Lab;
use kolokasi::secrets::Secret;

const TIMEOUT: Duration = Duration::from_secs(5);
const SHORT_TIMEOUT: Duration = Duration::from_secs(1);
const EXISTING_NAME: &str = "existing";
const EXISTING_ADDR: &str = "198.51.100.250";

fn lab() -> Lab {
    Lab::load().expect("the DNS tests need the lab")
}

fn fqdn(s: &str) -> Fqdn {
    Fqdn::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

struct Zones {
    forward: Fqdn,
    reverse_v4: Fqdn,
    reverse_v6: Fqdn,
}

impl Zones {
    fn of(lab: &Lab) -> Self {
        Self { forward: fqdn(&lab.zones.forward), reverse_v4: fqdn(&lab.zones.reverse_v4), reverse_v6: fqdn(&lab.zones.reverse_v6) }
    }
    fn set(&self) -> ZoneSet {
        ZoneSet { forward: vec![self.forward.clone()], reverse: vec![self.reverse_v4.clone(), self.reverse_v6.clone()] }
    }
}

fn rfc2136_config(lab: &Lab) -> Rfc2136Config {
    Rfc2136Config {
        server: lab.bind.server.parse().expect("lab bind.server"),
        key_name: lab.bind.tsig_key_name.clone(),
        algorithm: lab.bind.tsig_algorithm.clone(),
        secret: lab.tsig_secret().expect("lab TSIG secret"),
        timeout: TIMEOUT,
    }
}

fn powerdns_config(lab: &Lab) -> PowerDnsConfig {
    PowerDnsConfig {
        api_url: lab.powerdns.api_url.clone(),
        api_key: lab.powerdns_api_key().expect("lab PowerDNS API key"),
        server_id: lab.powerdns.server_id.clone(),
        dns_server: lab.powerdns.server.parse().expect("lab powerdns.server"),
        timeout: TIMEOUT,
    }
}

fn rfc2136(lab: &Lab) -> DnsProvider {
    DnsProvider::Rfc2136(Rfc2136::new(rfc2136_config(lab)).unwrap())
}

fn powerdns(lab: &Lab) -> DnsProvider {
    DnsProvider::PowerDns(PowerDns::new(powerdns_config(lab)).unwrap())
}

/// A name and addresses no other test (in this run or a parallel one) uses.
struct Unique {
    label: String,
    v4: [Ipv4Addr; 2],
    v6: Ipv6Addr,
}

fn unique(tag: &str) -> Unique {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let pid = std::process::id();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // 198.51.100.129–249 inside the lab's /25: .250 is the foreign `existing` record.
    let slot = |k: u32| Ipv4Addr::new(198, 51, 100, (129 + (pid.wrapping_mul(31).wrapping_add(n * 2 + k)) % 121) as u8);
    Unique {
        label: format!("t-{pid}-{nanos}-{tag}"),
        v4: [slot(0), slot(1)],
        v6: Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0x7e57, (pid & 0xffff) as u16, (nanos >> 16) as u16, nanos as u16 | 1),
    }
}

fn one(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

async fn assert_foreign_records_intact(dns: &DnsProvider, zones: &Zones) {
    let existing = fqdn(&format!("{EXISTING_NAME}.{}", zones.forward));
    assert_eq!(dns.read(&existing, RecordKind::A).await.unwrap(), one(&[EXISTING_ADDR]), "{}: foreign A", dns.name());
    let ptr = reverse_name(EXISTING_ADDR.parse().unwrap());
    assert_eq!(dns.read(&ptr, RecordKind::Ptr).await.unwrap(), one(&[&existing.to_absolute()]), "{}: foreign PTR", dns.name());
}

/// The whole life of one request's records on one provider.
async fn request_records_lifecycle(dns: DnsProvider, tag: &str) {
    let lab = lab();
    let zones = Zones::of(&lab);
    let u = unique(tag);
    let domain = fqdn(&format!("{}.{}", u.label, zones.forward));
    let www = fqdn(&format!("www.{domain}"));
    let target = domain.to_absolute();
    let ttl = 300;

    // Create everything a request needs.
    let plan = plan_request_records(&domain, Some(u.v4[0]), Some(u.v6), std::slice::from_ref(&www), ttl, &zones.set()).unwrap();
    assert_eq!(plan.len(), 5);
    for (zone, set) in &plan {
        dns.replace_verified(zone, set).await.unwrap_or_else(|e| panic!("{}: create {} {}: {e}", dns.name(), set.name, set.kind));
    }

    // Re-create: the same end state, exactly one record each.
    for (zone, set) in &plan {
        dns.replace_verified(zone, set).await.unwrap_or_else(|e| panic!("{}: re-create {} {}: {e}", dns.name(), set.name, set.kind));
    }
    let ptr4 = reverse_name(IpAddr::V4(u.v4[0]));
    let ptr6 = reverse_name(IpAddr::V6(u.v6));
    assert_eq!(dns.read(&domain, RecordKind::A).await.unwrap(), one(&[&u.v4[0].to_string()]));
    assert_eq!(dns.read(&domain, RecordKind::Aaaa).await.unwrap(), one(&[&u.v6.to_string()]));
    assert_eq!(dns.read(&ptr4, RecordKind::Ptr).await.unwrap(), one(&[&target]));
    assert_eq!(dns.read(&ptr6, RecordKind::Ptr).await.unwrap(), one(&[&target]));
    assert_eq!(dns.read(&www, RecordKind::Cname).await.unwrap(), one(&[&target]));

    // A TXT rrset with quotes, a backslash and more than one 255-byte character-string.
    let text = format!("kolokasi \"test\" \\ {}", "x".repeat(300));
    let txt = RecordSet::new(domain.clone(), RecordKind::Txt, ttl, vec![text.clone(), "second".into()]);
    dns.replace_verified(&zones.forward, &txt).await.unwrap();
    let mut expected = vec![text, "second".to_string()];
    expected.sort();
    assert_eq!(dns.read(&domain, RecordKind::Txt).await.unwrap(), expected);
    // Other types at the same name were not touched by the TXT change.
    assert_eq!(dns.read(&domain, RecordKind::A).await.unwrap(), one(&[&u.v4[0].to_string()]));

    // Move to a new IPv4 address: A replaced, PTR moved.
    let plan2 = plan_request_records(&domain, Some(u.v4[1]), Some(u.v6), std::slice::from_ref(&www), ttl, &zones.set()).unwrap();
    for (zone, set) in &plan2 {
        dns.replace_verified(zone, set).await.unwrap_or_else(|e| panic!("{}: change {} {}: {e}", dns.name(), set.name, set.kind));
    }
    dns.delete_verified(&zones.reverse_v4, &ptr4, RecordKind::Ptr).await.unwrap();
    assert_eq!(dns.read(&domain, RecordKind::A).await.unwrap(), one(&[&u.v4[1].to_string()]));
    assert_eq!(dns.read(&reverse_name(IpAddr::V4(u.v4[1])), RecordKind::Ptr).await.unwrap(), one(&[&target]));
    assert!(dns.read(&ptr4, RecordKind::Ptr).await.unwrap().is_empty());

    // Writing outside the given zone is refused before anything is sent.
    let stray = RecordSet::new(domain.clone(), RecordKind::A, ttl, vec!["198.51.100.1".into()]);
    let err = dns.replace(&zones.reverse_v4, &stray).await.unwrap_err();
    assert!(matches!(err, DnsError::OutsideZone { .. }), "{err}");

    // Delete everything; deleting again (absent rrsets) is fine.
    for (zone, set) in &plan2 {
        dns.delete_verified(zone, &set.name, set.kind)
            .await
            .unwrap_or_else(|e| panic!("{}: delete {} {}: {e}", dns.name(), set.name, set.kind));
        dns.delete(zone, &set.name, set.kind).await.unwrap();
    }
    dns.delete_verified(&zones.forward, &domain, RecordKind::Txt).await.unwrap();
    for kind in [RecordKind::A, RecordKind::Aaaa, RecordKind::Txt] {
        assert!(dns.read(&domain, kind).await.unwrap().is_empty(), "{kind} left behind");
    }
    assert!(dns.read(&www, RecordKind::Cname).await.unwrap().is_empty());
    assert!(dns.read(&ptr6, RecordKind::Ptr).await.unwrap().is_empty());

    assert_foreign_records_intact(&dns, &zones).await;
}

#[tokio::test]
async fn rfc2136_request_records_lifecycle() {
    let dns = rfc2136(&lab());
    assert_eq!(dns.name(), "rfc2136");
    request_records_lifecycle(dns, "rfc").await;
}

#[tokio::test]
async fn powerdns_request_records_lifecycle() {
    let dns = powerdns(&lab());
    assert_eq!(dns.name(), "powerdns");
    request_records_lifecycle(dns, "pdns").await;
}

fn probe_set(zones: &Zones, tag: &str) -> RecordSet {
    let u = unique(tag);
    RecordSet::new(fqdn(&format!("{}.{}", u.label, zones.forward)), RecordKind::A, 60, vec![u.v4[0].to_string()])
}

#[tokio::test]
async fn rfc2136_wrong_tsig_secret_or_key_name_is_a_clear_auth_error() {
    let lab = lab();
    let zones = Zones::of(&lab);
    let set = probe_set(&zones, "badkey");
    let wrong_secret = base64::engine::general_purpose::STANDARD.encode([0x5a_u8; 32]);

    let mut cfg = rfc2136_config(&lab);
    cfg.secret = Secret::new(wrong_secret.clone());
    let dns = DnsProvider::Rfc2136(Rfc2136::new(cfg).unwrap());
    let err = dns.replace(&zones.forward, &set).await.unwrap_err();
    assert!(matches!(&err, DnsError::Auth { key_name, .. } if key_name == &lab.bind.tsig_key_name), "{err:?}");
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(text.contains("was rejected by") && text.contains("check the key name and secret"), "{text}");
    assert!(!text.contains(&wrong_secret) && !format!("{err:?}").contains(&wrong_secret));

    let mut cfg = rfc2136_config(&lab);
    cfg.key_name = "no-such-key".into();
    let dns = DnsProvider::Rfc2136(Rfc2136::new(cfg).unwrap());
    let err = dns.delete(&zones.forward, &set.name, set.kind).await.unwrap_err();
    assert!(matches!(&err, DnsError::Auth { key_name, .. } if key_name == "no-such-key"), "{err:?}");

    assert!(rfc2136(&lab).read(&set.name, RecordKind::A).await.unwrap().is_empty(), "a rejected update changed the zone");
}

#[tokio::test]
async fn powerdns_wrong_api_key_is_a_clear_auth_error() {
    let lab = lab();
    let zones = Zones::of(&lab);
    let set = probe_set(&zones, "badapikey");
    let mut cfg = powerdns_config(&lab);
    cfg.api_key = Secret::new("not-the-key-0123456789");
    let dns = DnsProvider::PowerDns(PowerDns::new(cfg).unwrap());
    let err = dns.replace(&zones.forward, &set).await.unwrap_err();
    assert!(matches!(err, DnsError::ApiKeyRejected { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("PowerDNS API key was rejected"), "{err}");
    assert!(!err.to_string().contains("not-the-key") && !format!("{err:?}").contains("not-the-key"));
}

#[tokio::test]
async fn powerdns_unknown_zone_is_a_clear_error_with_the_servers_message() {
    let lab = lab();
    let dns = powerdns(&lab);
    let zone = fqdn("no-such-zone.example");
    let set = RecordSet::new(fqdn("a.no-such-zone.example"), RecordKind::A, 60, vec!["198.51.100.1".into()]);
    let err = dns.replace(&zone, &set).await.unwrap_err();
    assert!(matches!(err, DnsError::ZoneNotFound { .. } | DnsError::PowerDnsRejected { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("no-such-zone.example"), "{err}");
}

/// A port nothing listens on: bind an ephemeral one and let it go.
fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn assert_quick_retryable(what: &str, started: Instant, result: Result<impl std::fmt::Debug, DnsError>) {
    let elapsed = started.elapsed();
    let err = result.expect_err(what);
    assert!(err.is_retryable(), "{what}: {err:?} should be retryable");
    assert!(elapsed < Duration::from_secs(3), "{what}: took {elapsed:?} with a 1 s timeout");
}

#[tokio::test]
async fn rfc2136_server_down_is_a_retryable_error_within_the_timeout() {
    let lab = lab();
    let zones = Zones::of(&lab);
    let set = probe_set(&zones, "down");
    let mut cfg = rfc2136_config(&lab);
    cfg.server = "127.0.0.1:1".parse().unwrap();
    cfg.timeout = SHORT_TIMEOUT;
    let dns = DnsProvider::Rfc2136(Rfc2136::new(cfg).unwrap());

    let started = Instant::now();
    let result = dns.replace(&zones.forward, &set).await;
    assert!(matches!(result, Err(DnsError::Timeout { .. } | DnsError::Unreachable { .. })), "{result:?}");
    assert_quick_retryable("update to a dead server", started, result);

    let started = Instant::now();
    assert_quick_retryable("read from a dead server", started, dns.read(&set.name, RecordKind::A).await);
    let started = Instant::now();
    assert_quick_retryable("verified replace on a dead server", started, dns.replace_verified(&zones.forward, &set).await);
}

#[tokio::test]
async fn powerdns_api_down_is_a_retryable_error_within_the_timeout() {
    let lab = lab();
    let zones = Zones::of(&lab);
    let set = probe_set(&zones, "pdnsdown");
    let mut cfg = powerdns_config(&lab);
    cfg.api_url = format!("http://127.0.0.1:{}", unused_port());
    cfg.dns_server = SocketAddr::from(([127, 0, 0, 1], 1));
    cfg.timeout = SHORT_TIMEOUT;
    let dns = DnsProvider::PowerDns(PowerDns::new(cfg).unwrap());

    let started = Instant::now();
    assert_quick_retryable("PATCH to a dead API", started, dns.replace(&zones.forward, &set).await);
    let started = Instant::now();
    assert_quick_retryable("delete on a dead API", started, dns.delete(&zones.forward, &set.name, set.kind).await);
    let started = Instant::now();
    assert_quick_retryable("read from a dead DNS port", started, dns.read(&set.name, RecordKind::A).await);
}

#[test]
fn debug_output_never_shows_a_secret() {
    let lab = lab();
    let tsig = lab.tsig_secret().unwrap();
    let api_key = lab.powerdns_api_key().unwrap();
    assert!(!tsig.expose().is_empty() && !api_key.expose().is_empty());

    let rfc_cfg = rfc2136_config(&lab);
    let pdns_cfg = powerdns_config(&lab);
    let shown = [
        format!("{rfc_cfg:?}"),
        format!("{pdns_cfg:?}"),
        format!("{:?}", Rfc2136::new(rfc_cfg.clone()).unwrap()),
        format!("{:?}", PowerDns::new(pdns_cfg.clone()).unwrap()),
        format!("{:?}", DnsProvider::Rfc2136(Rfc2136::new(rfc_cfg).unwrap())),
        format!("{:?}", DnsProvider::PowerDns(PowerDns::new(pdns_cfg).unwrap())),
    ];
    for text in shown {
        assert!(!text.contains(tsig.expose()), "TSIG secret in {text}");
        assert!(!text.contains(api_key.expose()), "API key in {text}");
    }
}

#[test]
fn bad_provider_configuration_is_refused_up_front() {
    let lab = lab();
    let mut cfg = rfc2136_config(&lab);
    cfg.algorithm = "hmac-md5".into();
    assert!(matches!(Rfc2136::new(cfg), Err(DnsError::Config(_))));
    let mut cfg = rfc2136_config(&lab);
    cfg.secret = Secret::new("not base64!");
    let err = Rfc2136::new(cfg).unwrap_err();
    assert!(matches!(err, DnsError::Config(_)) && !err.to_string().contains("not base64!"), "{err}");
    let mut cfg = powerdns_config(&lab);
    cfg.api_url = "127.0.0.1:8081".into();
    assert!(matches!(PowerDns::new(cfg), Err(DnsError::Config(_))));
}

#[test]
fn plan_uses_the_lab_zones() {
    let lab = lab();
    let zones = Zones::of(&lab);
    let domain = fqdn(&format!("sipd.{}", zones.forward));
    let plan = plan_request_records(
        &domain,
        Some("198.51.100.140".parse().unwrap()),
        Some("2001:db8:100::2".parse().unwrap()),
        &[fqdn(&format!("www.{domain}"))],
        300,
        &zones.set(),
    )
    .unwrap();
    let found: Vec<(Fqdn, Fqdn, RecordKind)> = plan.iter().map(|(z, s)| (z.clone(), s.name.clone(), s.kind)).collect();
    assert_eq!(
        found,
        vec![
            (zones.forward.clone(), domain.clone(), RecordKind::A),
            (zones.forward.clone(), domain.clone(), RecordKind::Aaaa),
            (zones.reverse_v4.clone(), reverse_name("198.51.100.140".parse().unwrap()), RecordKind::Ptr),
            (zones.reverse_v6.clone(), reverse_name("2001:db8:100::2".parse().unwrap()), RecordKind::Ptr),
            (zones.forward.clone(), fqdn(&format!("www.{domain}")), RecordKind::Cname),
        ]
    );
    assert!(
        plan.iter()
            .filter(|(_, s)| s.kind != RecordKind::A && s.kind != RecordKind::Aaaa)
            .all(|(_, s)| s.values == vec![domain.to_absolute()])
    );
    let err = plan_request_records(&fqdn("sipd.example.org"), None, None, &[], 300, &zones.set()).unwrap_err();
    assert!(matches!(err, DnsError::NoZone { .. }) && err.to_string().contains("sipd.example.org"), "{err}");
}

#[tokio::test]
async fn rfc2136_update_of_a_zone_the_server_lacks_is_a_clear_error() {
    let lab = lab();
    let dns = rfc2136(&lab);
    let zone = fqdn("no-such-zone.example");
    let set = RecordSet::new(fqdn("a.no-such-zone.example"), RecordKind::A, 60, vec!["198.51.100.1".into()]);
    let err = dns.replace(&zone, &set).await.unwrap_err();
    assert!(matches!(err, DnsError::NotAuthoritative { .. } | DnsError::Refused { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("no-such-zone.example"), "{err}");
}
