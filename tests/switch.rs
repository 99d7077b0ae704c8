//! Switch-port drivers against the lab's Open vSwitch: each driver's writes are read back with
//! both drivers (ovs-vsctl over SSH and OVSDB JSON-RPC), re-applying changes nothing, restoring
//! puts the lab default back, and hostile text never reaches the switch as syntax.
//! Each test uses its own port, so they run in parallel. Needs the lab.

mod common;

use std::sync::Arc;

use kolokasi::domain::RequestId;
use kolokasi::engine::{ActionCtx, Drivers, Env, Outcome};
use serde_json::json;
use kolokasi::ipam::Vlan;
use kolokasi::lab::Lab;
use kolokasi::ssh::{RemoteCommand, RequestTag, SshTarget};
use kolokasi::switch::{
    InterfaceName, PortDescription, PortMode, PortPattern, SwitchDriver, SwitchError, SwitchPortConfig, SwitchPortState, VlanMode,
};

fn lab() -> Lab {
    Lab::load().unwrap_or_else(|e| panic!("{e}"))
}

fn drivers() -> Drivers {
    Drivers::from_lab(&lab()).unwrap_or_else(|e| panic!("{e}"))
}

fn sw(d: &Drivers, name: &str) -> Arc<SwitchDriver> {
    d.switches[name].clone()
}

fn port(name: &str) -> InterfaceName {
    InterfaceName::parse(PortPattern::Ovs, name).unwrap()
}

fn tag(s: &str) -> RequestTag {
    RequestTag::parse(s).unwrap()
}

fn vlan(n: u32) -> Vlan {
    Vlan::new(n).unwrap()
}

/// A raw `ovs-vsctl` on the switch, for checks independent of both drivers.
async fn vsctl(d: &Drivers, args: &[&str]) -> String {
    let target = SshTarget::from_lab(&lab(), "sw", "sw-r01").unwrap();
    d.ssh.exec_ok(&target, &RemoteCommand::new("ovs-vsctl").args(args), None).await.unwrap().stdout.trim().to_string()
}

/// Puts a port back to the lab default if an earlier, interrupted run left it changed.
async fn reset(d: &Drivers, p: &InterfaceName) {
    let driver = sw(d, "sw-r01-ovsdb");
    let now = driver.read(p).await.unwrap();
    if let Some(prev) = &now.previous {
        driver.restore(prev).await.unwrap();
    }
    let clean = driver.read(p).await.unwrap();
    if clean.request.is_some() || clean.description.is_some() || clean.access_vlan() != Some(vlan(1)) {
        let mut default = SwitchPortState::missing(p.clone());
        default.exists = true;
        default.vlans.tag = Some(vlan(1));
        driver.restore(&default).await.unwrap();
    }
}

/// The whole cycle with `writer`, checking with both drivers after every step.
async fn access_vlan_cycle(writer: &str, port_name: &str, request: &str) {
    let d = drivers();
    let p = port(port_name);
    reset(&d, &p).await;
    let (w, both) = (sw(&d, writer), [sw(&d, "sw-r01"), sw(&d, "sw-r01-ovsdb")]);
    let before = w.read(&p).await.unwrap();
    assert!(before.exists && before.request.is_none());
    assert_eq!(before.access_vlan(), Some(vlan(1)));

    let config = SwitchPortConfig {
        port: p.clone(),
        mode: PortMode::Access(vlan(120)),
        description: PortDescription::parse(&format!("kolokasi {request} srv (rack 1/U12)")).unwrap(),
        enabled: true,
        request: tag(request),
    };
    let applied = w.apply(&config).await.unwrap();
    assert!(applied.changed);
    assert_eq!(applied.previous, before);
    assert_eq!(applied.state.access_vlan(), Some(vlan(120)));
    assert_eq!(applied.state.vlans.vlan_mode, Some(VlanMode::Access));
    for reader in &both {
        assert_eq!(reader.read(&p).await.unwrap(), applied.state, "{} reads what {writer} wrote", reader.device());
    }
    assert_eq!(vsctl(&d, &["get", "Port", port_name, "tag"]).await, "120");
    assert_eq!(vsctl(&d, &["get", "Port", port_name, "external_ids:kolokasi-request"]).await.trim_matches('"'), request);

    // Again: nothing changes, and the saved previous state is still the original one.
    let again = w.apply(&config).await.unwrap();
    assert!(!again.changed);
    assert_eq!(again.previous, before);
    assert_eq!(again.state, applied.state);

    let restored = w.restore(&applied.previous).await.unwrap();
    assert_eq!(restored, before);
    for reader in &both {
        let s = reader.read(&p).await.unwrap();
        assert_eq!(s.access_vlan(), Some(vlan(1)));
        assert_eq!((s.description.as_deref(), s.request.as_ref(), s.previous.as_ref()), (None, None, None));
    }
    assert_eq!(vsctl(&d, &["get", "Port", port_name, "external_ids"]).await, "{}");
    // Restoring twice is harmless.
    assert_eq!(w.restore(&applied.previous).await.unwrap(), before);
}

#[tokio::test]
async fn ovs_over_ssh_sets_reads_and_restores_an_access_port() {
    access_vlan_cycle("sw-r01", "r1p3", "TEST-SW-SSH").await;
}

#[tokio::test]
async fn ovsdb_sets_reads_and_restores_an_access_port() {
    access_vlan_cycle("sw-r01-ovsdb", "r1p4", "TEST-SW-OVSDB").await;
}

/// Disabled = parked in VLAN 4094, remembering the trunk it returns to; both drivers agree.
#[tokio::test]
async fn a_disabled_trunk_is_parked_and_read_alike_by_both_drivers() {
    let d = drivers();
    let p = port("r1p5");
    reset(&d, &p).await;
    for (writer, reader) in [("sw-r01", "sw-r01-ovsdb"), ("sw-r01-ovsdb", "sw-r01")] {
        let config = SwitchPortConfig {
            port: p.clone(),
            mode: PortMode::Trunk(vec![vlan(30), vlan(10), vlan(20)]),
            description: PortDescription::parse("uplink srv-lama").unwrap(),
            enabled: false,
            request: tag("TEST-SW-PARK"),
        };
        let applied = sw(&d, writer).apply(&config).await.unwrap();
        assert!(!applied.state.enabled);
        assert_eq!(applied.state.vlans.trunks, vec![vlan(10), vlan(20), vlan(30)]);
        assert_eq!(sw(&d, reader).read(&p).await.unwrap(), applied.state);
        assert_eq!(vsctl(&d, &["get", "Port", "r1p5", "tag"]).await, "4094");
        assert_eq!(vsctl(&d, &["get", "Port", "r1p5", "trunks"]).await, "[]");

        // Enabling it puts the trunk live.
        let on = sw(&d, writer).apply(&SwitchPortConfig { enabled: true, ..config }).await.unwrap();
        assert!(on.changed && on.state.enabled);
        assert_eq!(vsctl(&d, &["get", "Port", "r1p5", "trunks"]).await, "[10, 20, 30]");
        assert_eq!(sw(&d, reader).read(&p).await.unwrap(), on.state);
        sw(&d, reader).restore(&on.previous).await.unwrap();
        assert_eq!(vsctl(&d, &["get", "Port", "r1p5", "tag"]).await, "1");
    }
}

/// A port another request holds is refused; the holder's undo still restores it.
#[tokio::test]
async fn a_port_held_by_another_request_is_refused() {
    let d = drivers();
    let p = port("r1p6");
    reset(&d, &p).await;
    let w = sw(&d, "sw-r01");
    let mine = SwitchPortConfig {
        port: p.clone(),
        mode: PortMode::Access(vlan(130)),
        description: PortDescription::parse("kolokasi TEST-SW-A").unwrap(),
        enabled: true,
        request: tag("TEST-SW-A"),
    };
    let applied = w.apply(&mine).await.unwrap();
    let theirs = SwitchPortConfig { request: tag("TEST-SW-B"), mode: PortMode::Access(vlan(140)), ..mine.clone() };
    let err = sw(&d, "sw-r01-ovsdb").apply(&theirs).await.unwrap_err();
    assert!(matches!(err, SwitchError::PortHeld { .. }) && !err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("TEST-SW-A"), "{err}");
    assert_eq!(vsctl(&d, &["get", "Port", "r1p6", "tag"]).await, "130");
    w.restore(&applied.previous).await.unwrap();
    assert_eq!(vsctl(&d, &["get", "Port", "r1p6", "tag"]).await, "1");
}

const CORPUS: &[&str] = &[
    "x; ovs-vsctl del-br br0",
    "$(reboot)",
    "`id`",
    "a\nb",
    "a\rb",
    "a'b",
    "a\"b",
    "r1p3 -- del-port r1p4",
    "r1p3;del-port r1p4",
    "x | ovs-vsctl del-br br0",
    "x && reboot",
    "x > /etc/passwd",
    "${IFS}reboot",
    "\u{0}",
    "--",
    "-- del-br br0",
    "\\\"",
];

/// Hostile text is refused by the types before anything is sent; text that *is* data (a
/// description found on a port) is stored verbatim through both drivers' quoting; afterwards
/// the bridge and all its ports are still there, checked on the device itself.
#[tokio::test]
async fn injection_is_refused_or_inert_and_the_bridge_survives() {
    let d = drivers();
    for text in CORPUS {
        // Dashes and spaces are fine in a description (it is data, and quoted as such);
        // everything a shell or ovs-vsctl would read as syntax is not.
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || " -".contains(c)) {
            assert!(PortDescription::parse(text).is_err(), "description {text:?} accepted");
        }
        for driver in d.switches.values() {
            assert!(driver.port(text).is_err(), "port name {text:?} accepted by {}", driver.device());
        }
        assert!(RequestTag::parse(text).is_err(), "request tag {text:?} accepted");
    }
    assert!(PortDescription::parse(&format!("ok{}", "x".repeat(64))).is_err());
    assert_eq!(d.ssh.connections_opened(), 0, "nothing may be sent for refused input");

    // A description read from a device is plain text: writing it back must store it verbatim.
    let p = port("r1p8");
    reset(&d, &p).await;
    for (writer, reader) in [("sw-r01", "sw-r01-ovsdb"), ("sw-r01-ovsdb", "sw-r01")] {
        let mut state = sw(&d, reader).read(&p).await.unwrap();
        for text in CORPUS.iter().filter(|t| !t.contains('\0')) {
            state.description = Some(text.to_string());
            sw(&d, writer).restore(&state).await.unwrap();
            assert_eq!(sw(&d, reader).read(&p).await.unwrap().description.as_deref(), Some(*text), "written by {writer}");
        }
        state.description = None;
        sw(&d, writer).restore(&state).await.unwrap();
    }

    assert_eq!(vsctl(&d, &["br-exists", "br0"]).await, "");
    let ports = vsctl(&d, &["list-ports", "br0"]).await;
    let ports: Vec<&str> = ports.lines().collect();
    for i in 1..=8 {
        assert!(ports.contains(&format!("r1p{i}").as_str()), "r1p{i} is gone: {ports:?}");
    }
}

#[tokio::test]
async fn a_missing_port_is_reported_not_created() {
    let d = drivers();
    for driver in d.switches.values() {
        let ghost = port("r9p9");
        assert!(!driver.read(&ghost).await.unwrap().exists);
        let config = SwitchPortConfig {
            port: ghost,
            mode: PortMode::Access(vlan(120)),
            description: PortDescription::parse("ghost").unwrap(),
            enabled: true,
            request: tag("TEST-SW-GHOST"),
        };
        let err = driver.apply(&config).await.unwrap_err();
        assert!(matches!(err, SwitchError::PortMissing { .. }), "{err:?}");
    }
}

use common::request_row;

/// The `switch_port` action: forward twice gives the same output, undo (from its output, or
/// from the port alone when the output was never saved) restores, undo twice is harmless, and
/// bad parameters are fatal before anything is sent.
#[tokio::test]
async fn the_switch_port_action_is_idempotent_and_undoes() {
    let db = common::fresh_db(common::Db::Sqlite).await;
    let env = Env { service: common::service(&db).await, drivers: drivers(), locks: Default::default(), registry: kolokasi::actions::builtin() };
    let p = port("r1p7");
    reset(&env.drivers, &p).await;
    let request = request_row(RequestId::new(2099, 90_701));
    let action = env.registry.get("switch_port").expect("registered").clone();
    let params = json!({"device": "sw-r01", "port": "r1p7", "vlan": 170});
    let ctx = ActionCtx { run_id: "test-run", step: "switch_port", request: &request, params: &params, env: &env };
    assert_eq!(action.devices(&params), vec!["sw-r01".to_string()]);

    let Outcome::Done(first) = action.run(&ctx).await.unwrap() else { panic!("not done") };
    assert_eq!((first["device"].as_str(), first["port"].as_str(), first["vlan"].as_u64()), (Some("sw-r01"), Some("r1p7"), Some(170)));
    assert_eq!(first["previous"]["vlans"]["tag"], json!(1));
    let now = sw(&env.drivers, "sw-r01-ovsdb").read(&p).await.unwrap();
    assert_eq!(now.access_vlan(), Some(vlan(170)));
    assert_eq!(now.description.as_deref(), Some("kolokasi KLK-2099-90701"));
    let Outcome::Done(second) = action.run(&ctx).await.unwrap() else { panic!("not done") };
    assert_eq!(second, first, "a re-run finds its own work");

    action.undo(&ctx, Some(&first)).await.unwrap();
    let back = sw(&env.drivers, "sw-r01-ovsdb").read(&p).await.unwrap();
    assert_eq!((back.access_vlan(), back.request.as_ref(), back.description.as_deref()), (Some(vlan(1)), None, None));
    action.undo(&ctx, Some(&first)).await.unwrap();

    // Crashed after changing the port but before the output was saved: undo uses the port's own record.
    action.run(&ctx).await.unwrap();
    action.undo(&ctx, None).await.unwrap();
    assert_eq!(sw(&env.drivers, "sw-r01").read(&p).await.unwrap().access_vlan(), Some(vlan(1)));

    let opened = env.drivers.ssh.connections_opened();
    for bad in [
        json!({"device": "sw-r01", "port": "r1p7; reboot", "vlan": 170}),
        json!({"device": "sw-r01", "port": "r1p7", "vlan": 5000}),
        json!({"device": "sw-r01", "port": "r1p7", "vlan": 170, "description": "$(reboot)"}),
        json!({"device": "sw-nowhere", "port": "r1p7", "vlan": 170}),
    ] {
        let ctx = ActionCtx { params: &bad, ..ctx };
        let err = action.run(&ctx).await.unwrap_err();
        assert!(!err.is_retryable(), "{bad}: {err:?}");
    }
    assert_eq!(env.drivers.ssh.connections_opened(), opened);
}
