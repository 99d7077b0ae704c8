//! Devices from the inventory with credentials from the sealed secret store: the store seals,
//! audits and never shows a value; `Drivers::from_inventory` wires the lab's real switch,
//! firewall and DNS servers, an IOS switch (emulator) and an OPNsense firewall (emulator), the
//! last two driven through the `switch_port` and `firewall_rules` actions. Needs the lab and
//! PostgreSQL.

mod common;
#[path = "support/ios_emulator.rs"]
mod ios_emulator;
#[path = "support/opnsense_emulator.rs"]
mod opnsense_emulator;

use common::{Db, admin, operator, requester};
use kolokasi::capacity::Inventory;
use kolokasi::dns::RecordKind;
use kolokasi::domain::{Fqdn, RequestId};
use kolokasi::engine::devices::DeviceSpec;
use kolokasi::engine::{ActionCtx, Drivers, Env, Outcome};
use kolokasi::lab::Lab;
use kolokasi::secrets::{Secret, SecretKind};
use kolokasi::service::{Service, ServiceError};
use kolokasi::store::RequestRow;
use serde_json::{Value, json};

const PEM_CANARY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-s3cret-key-b0dy\n-----END OPENSSH PRIVATE KEY-----\n";

fn lab() -> Lab {
    Lab::load().unwrap_or_else(|e| panic!("{e}"))
}

fn inventory(devices: Value) -> Inventory {
    let mut inv = Inventory::example();
    inv.devices = serde_json::from_value::<Vec<DeviceSpec>>(devices).unwrap();
    inv
}

fn request_row(number: i64) -> RequestRow {
    common::request_row(RequestId::new(2099, number))
}

async fn env(service: Service, inventory: &Inventory) -> Env {
    let drivers = Drivers::from_inventory(&service, inventory).await.unwrap_or_else(|e| panic!("{e}: {:?}", std::error::Error::source(&e)));
    Env { service, drivers, locks: Default::default(), registry: kolokasi::actions::builtin() }
}

async fn secrets_are_sealed_audited_and_never_shown(db: Db) {
    let db = common::fresh_db(db).await;
    let svc = common::service(&db).await;

    svc.set_secret(&operator(), "sw-r01-ssh", SecretKind::SshKey, &Secret::new(PEM_CANARY)).await.unwrap();
    svc.set_secret(&admin(), "bind-tsig", SecretKind::Tsig, &Secret::new("CANARY-tsig")).await.unwrap();
    let refused = svc.set_secret(&requester(), "x", SecretKind::Password, &Secret::new("CANARY-x")).await.unwrap_err();
    assert!(matches!(refused, ServiceError::Forbidden(_)), "{refused:?}");
    for bad in ["", "a b", "$(id)", "../etc"] {
        assert!(matches!(svc.set_secret(&admin(), bad, SecretKind::Password, &Secret::new("v")).await, Err(ServiceError::Invalid(_))), "{bad:?}");
    }
    assert!(matches!(svc.set_secret(&admin(), "empty", SecretKind::Password, &Secret::new(" \n")).await, Err(ServiceError::Invalid(_))));

    // list: names and kinds only
    let list = svc.secrets(&admin()).await.unwrap();
    assert_eq!(list.iter().map(|s| (s.name.as_str(), s.kind)).collect::<Vec<_>>(), [("bind-tsig", SecretKind::Tsig), ("sw-r01-ssh", SecretKind::SshKey)]);
    let shown = format!("{list:?} {}", serde_json::to_string(&list).unwrap());
    assert!(!shown.contains("CANARY"), "{shown}");
    // at rest: sealed
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT sealed FROM secrets ORDER BY name").fetch_all(svc.store.pool()).await.unwrap();
    assert!(stored.iter().all(|s| s.starts_with("kv1:") && !s.contains("CANARY")), "{stored:?}");

    // machine use: opens, unaudited, redacted
    let audit_rows = svc.store.audit_recent(1000).await.unwrap().len();
    let opened = svc.secret("sw-r01-ssh").await.unwrap();
    assert_eq!(opened.expose(), PEM_CANARY);
    assert_eq!(format!("{opened:?} {opened}"), "[redacted] [redacted]");
    assert_eq!(svc.store.audit_recent(1000).await.unwrap().len(), audit_rows, "opening for a driver is not audited");
    assert!(matches!(svc.secret("nope").await, Err(ServiceError::NotFound(_))));

    // reveal: admin only, audited
    for who in [requester(), operator()] {
        let e = svc.reveal_secret(&who, "bind-tsig").await.unwrap_err();
        assert!(matches!(e, ServiceError::Forbidden(_)), "{e:?}");
    }
    assert_eq!(svc.store.audit_recent(1000).await.unwrap().len(), audit_rows, "a refused reveal writes nothing");
    assert_eq!(svc.reveal_secret(&admin(), "bind-tsig").await.unwrap().expose(), "CANARY-tsig");
    assert!(matches!(svc.reveal_secret(&admin(), "nope").await, Err(ServiceError::NotFound(_))));

    // replace: the audit row keeps what it replaced (without the value)
    svc.set_secret(&admin(), "bind-tsig", SecretKind::Tsig, &Secret::new("CANARY-tsig-2")).await.unwrap();
    assert_eq!(svc.secret("bind-tsig").await.unwrap().expose(), "CANARY-tsig-2");

    let audit = svc.store.audit_recent(1000).await.unwrap();
    let ours: Vec<_> = audit.iter().filter(|a| a.action.starts_with("secret.")).rev().collect();
    let summary: Vec<(&str, &str, Value)> = ours.iter().map(|a| (a.action.as_str(), a.actor.as_str(), a.after.clone().unwrap())).collect();
    let key_id = svc.store.sealed_secret(&kolokasi::secrets::SecretName::parse("bind-tsig").unwrap()).await.unwrap().unwrap().1.key_id().unwrap().to_string();
    let after = |name: &str, kind: &str| json!({"name": name, "kind": kind, "key_id": key_id});
    assert_eq!(
        summary,
        [
            ("secret.set", "pengelola", after("sw-r01-ssh", "ssh-key")),
            ("secret.set", "admin.tik", after("bind-tsig", "tsig")),
            ("secret.reveal", "admin.tik", after("bind-tsig", "tsig")),
            ("secret.set", "admin.tik", after("bind-tsig", "tsig")),
        ]
    );
    assert_eq!(ours[3].before, Some(after("bind-tsig", "tsig")));
    let everything = format!("{audit:?} {}", serde_json::to_string(&audit).unwrap());
    assert!(!everything.contains("CANARY"), "no value in the audit trail");
    assert!(svc.store.audit_verify().await.unwrap().is_ok());

    // a sealed value moved to another name does not open there
    sqlx::query("INSERT INTO secrets (name, kind, sealed, updated_at, updated_by) SELECT 'stolen', kind, sealed, updated_at, updated_by FROM secrets WHERE name = 'bind-tsig'")
        .execute(svc.store.pool())
        .await
        .unwrap();
    assert!(matches!(svc.secret("stolen").await, Err(ServiceError::Cipher(_))));
}

/// The lab's switch (OVS over SSH and OVSDB), firewall (nftables) and DNS servers (BIND over
/// RFC 2136, PowerDNS), configured from an inventory with every credential in the store.
async fn lab_devices_are_wired_from_the_inventory(db: Db) {
    let db = common::fresh_db(db).await;
    let svc = common::service(&db).await;
    let lab = lab();
    let key = std::fs::read_to_string(&lab.ssh.private_key_file).unwrap();
    svc.set_secret(&admin(), "lab-ssh", SecretKind::SshKey, &Secret::new(key)).await.unwrap();
    svc.set_secret(&admin(), "bind-tsig", SecretKind::Tsig, &lab.tsig_secret().unwrap()).await.unwrap();
    svc.set_secret(&admin(), "pdns-api", SecretKind::ApiKey, &lab.powerdns_api_key().unwrap()).await.unwrap();
    let (sw, fw) = (lab.host("sw").unwrap(), lab.host("fw").unwrap());
    let zones = json!({"forward": [lab.zones.forward], "reverse": [lab.zones.reverse_v4, lab.zones.reverse_v6]});
    let inv = inventory(json!([
        {"name": "sw-r01", "kind": "ovs-ssh", "address": format!("{}:{}", sw.address, sw.ssh_port), "user": lab.ssh.user, "host_key": sw.host_key, "secret": "lab-ssh"},
        {"name": "sw-r01-ovsdb", "kind": "ovsdb", "address": sw.ovsdb},
        {"name": "fw-1", "kind": "nftables", "address": format!("{}:{}", fw.address, fw.ssh_port), "user": lab.ssh.user, "host_key": fw.host_key, "secret": "lab-ssh"},
        {"name": "bind", "kind": "rfc2136", "address": lab.bind.server, "tsig_key_name": lab.bind.tsig_key_name, "secret": "bind-tsig", "zones": zones, "aliases": ["primary"]},
        {"name": "powerdns", "kind": "powerdns", "address": lab.powerdns.api_url, "dns_server": lab.powerdns.server, "secret": "pdns-api", "zones": zones},
    ]));
    let d = Drivers::from_inventory(&svc, &inv).await.unwrap();
    assert_eq!(d.switches.keys().collect::<Vec<_>>(), ["sw-r01", "sw-r01-ovsdb"]);
    assert_eq!(d.dns.keys().collect::<Vec<_>>(), ["bind", "powerdns", "primary"]);
    assert!(!format!("{:?}", d.dns).contains(lab.tsig_secret().unwrap().expose()));

    for name in ["sw-r01", "sw-r01-ovsdb"] {
        let switch = &d.switches[name];
        let state = switch.read(&switch.port("r1p3").unwrap()).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(state.exists, "{name}: r1p3 is on the lab switch");
    }
    assert_eq!(d.ssh.connections_opened(), 1, "the key from the store logged in");
    d.firewalls["fw-1"].rules().await.unwrap();
    let existing = Fqdn::parse("existing.kaltimprov.go.id").unwrap();
    assert_eq!(d.dns["primary"].provider.read(&existing, RecordKind::A).await.unwrap(), ["198.51.100.250"]);

    // what goes wrong says which device and which secret
    let missing = inventory(json!([{"name": "fw-2", "kind": "nftables", "address": "198.51.100.3:22", "user": "root", "host_key": fw.host_key, "secret": "no-such"}]));
    let e = Drivers::from_inventory(&svc, &missing).await.err().unwrap();
    assert_eq!(e.to_string(), "driver fw-2: cannot open secret no-such");
    let wrong_kind = inventory(json!([{"name": "fw-2", "kind": "nftables", "address": "198.51.100.3:22", "user": "root", "host_key": fw.host_key, "secret": "bind-tsig"}]));
    assert!(Drivers::from_inventory(&svc, &wrong_kind).await.err().unwrap().to_string().contains("not an ssh-key or a password"));
    let twice = inventory(json!([{"name": "sw-r01-ovsdb", "kind": "ovsdb", "address": sw.ovsdb}, {"name": "sw-r01-ovsdb", "kind": "ovsdb", "address": sw.ovsdb}]));
    assert!(Drivers::from_inventory(&svc, &twice).await.is_err());
}

/// An IOS switch with a password login and an enable password, both from the store, driven
/// by the `switch_port` action forward and back.
async fn ios_switch_from_the_inventory_runs_switch_port(db: Db) {
    use ios_emulator::{Emulator, Login, Options, Port};
    let db = common::fresh_db(db).await;
    let svc = common::service(&db).await;
    let emu = Emulator::start(Options { user: "admin".into(), login: Login::Password("pa55-word".into()), enable_secret: Some("En4ble".into()) }).await;
    svc.set_secret(&operator(), "sw-ios-login", SecretKind::Password, &Secret::new("pa55-word")).await.unwrap();
    svc.set_secret(&operator(), "sw-ios-enable", SecretKind::Password, &Secret::new("En4ble")).await.unwrap();
    let inv = inventory(json!([{
        "name": "sw-ios", "kind": "ios-cli", "address": emu.address.to_string(), "user": "admin",
        "host_key": emu.host_key, "secret": "sw-ios-login", "secret2": "sw-ios-enable",
    }]));
    let env = env(svc, &inv).await;
    let request = request_row(90_801);
    let action = env.registry.get("switch_port").unwrap().clone();
    let params = json!({"device": "sw-ios", "port": "GigabitEthernet1/0/5", "vlan": 170});
    let ctx = ActionCtx { run_id: "test-run", step: "switch_port", request: &request, params: &params, env: &env };

    let Outcome::Done(output) = action.run(&ctx).await.unwrap() else { panic!("not done") };
    assert_eq!(output["vlan"], json!(170));
    let port = emu.port(5);
    assert_eq!((port.vlan, port.mode_access, port.shutdown), (170, true, false));
    assert!(port.description.as_deref().is_some_and(|d| d.starts_with("kolokasi KLK-2099-90801")), "{port:?}");
    assert!(emu.log().iter().any(|l| l == "enable"), "the enable password from the store was used");

    action.undo(&ctx, Some(&output)).await.unwrap();
    let port = emu.port(5);
    assert_eq!((port.vlan, port.description, port.shutdown), (1, None, false), "{:?}", Port::default());
}

/// An OPNsense firewall with its API key and secret from the store, driven by the
/// `firewall_rules` action forward and back.
async fn opnsense_from_the_inventory_runs_firewall_rules(db: Db) {
    let db = common::fresh_db(db).await;
    let svc = common::service(&db).await;
    let em = opnsense_emulator::Emulator::start("CANARY-opn-key", "CANARY-opn-secret").await;
    svc.set_secret(&admin(), "opn-key", SecretKind::ApiKey, &Secret::new("CANARY-opn-key")).await.unwrap();
    svc.set_secret(&admin(), "opn-secret", SecretKind::ApiKey, &Secret::new("CANARY-opn-secret")).await.unwrap();
    let inv = inventory(json!([{"name": "fw-opn-1", "kind": "opnsense", "address": em.url(), "secret": "opn-key", "secret2": "opn-secret"}]));
    let env = env(svc, &inv).await;
    let request = request_row(90_802);
    let action = env.registry.get("firewall_rules").unwrap().clone();
    let params = json!({"device": "fw-opn-1", "address": "198.51.100.161", "services": ["tcp/443"]});
    let ctx = ActionCtx { run_id: "test-run", step: "firewall_rules", request: &request, params: &params, env: &env };

    let Outcome::Done(output) = action.run(&ctx).await.unwrap() else { panic!("not done") };
    assert_eq!((&output["device"], &output["address"]), (&json!("fw-opn-1"), &json!("198.51.100.161")));
    let applied: Vec<String> = em.applied().iter().map(|(_, r)| r["description"].as_str().unwrap().to_string()).collect();
    assert_eq!(json!(applied.len()), output["rules"], "every rule is saved and in force: {applied:?}");
    assert!(!applied.is_empty());
    assert!(applied.iter().all(|d| d.contains("KLK-2099-90802")), "{applied:?}");

    action.undo(&ctx, Some(&output)).await.unwrap();
    assert!(em.applied().is_empty(), "{:?}", em.applied());
    em.stop().await;
}

/// The commented `devices:` example of the shipped inventory is valid once uncommented.
#[test]
fn the_documented_devices_example_loads() {
    let text = include_str!("../deploy/examples/datacenter.yaml");
    let at = text.find("# devices:").expect("the example documents devices:");
    let uncommented: String = text[at..].lines().map(|l| l.strip_prefix("# ").unwrap_or(l)).collect::<Vec<_>>().join("\n");
    let inv = Inventory::from_yaml(&format!("{}\n{uncommented}\n", &text[..at]), "example").unwrap();
    assert_eq!(inv.devices.len(), 8, "every kind, and fw-2 in jump mode");
    assert!(Inventory::example().devices.is_empty(), "the example itself drives no devices");
}

on_both_databases!(
    secrets_are_sealed_audited_and_never_shown,
    lab_devices_are_wired_from_the_inventory,
    ios_switch_from_the_inventory_runs_switch_port,
    opnsense_from_the_inventory_runs_firewall_rules,
);
