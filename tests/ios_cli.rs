//! The IOS CLI switch driver against an emulator of the CLI subset it uses, behind a real SSH
//! server started by each test (no IOS image can run here): the access-VLAN cycle with
//! read-back, re-apply and restore; disable/enable; host-key pinning; hostile text stopped by
//! the types before anything is sent (checked against the device's own command log); device
//! errors, a hung device and a dropped session. Needs no lab.

#[path = "support/ios_emulator.rs"]
mod ios_emulator;

use std::sync::Arc;
use std::time::Duration;

use ios_emulator::{Emulator, INVALID, Login, Options, Port};
use kolokasi::ipam::Vlan;
use kolokasi::secrets::Secret;
use kolokasi::ssh::{HostKey, RequestTag, SshAuth, SshError, SshSettings, SshTarget};
use kolokasi::switch::{
    InterfaceName, IosCli, IosCliError, PortDescription, PortMode, PortPattern, PortVlans, SwitchDriver, SwitchError, SwitchPortConfig,
    SwitchPortState, VlanMode,
};

const ENABLE_SECRET: &str = "En4ble-s3cret";

/// An emulator with key login (landing in `sw-test#`) and a driver for it.
async fn with_key_login() -> (Emulator, SwitchDriver) {
    with_key_login_waiting(Duration::from_secs(5)).await
}

/// The same, with the driver waiting `command_timeout` for each prompt.
async fn with_key_login_waiting(command_timeout: Duration) -> (Emulator, SwitchDriver) {
    let client_key = ios_emulator::ed25519_key();
    let emu =
        Emulator::start(Options { user: "kolokasi".into(), login: Login::Key(client_key.public_key().clone()), enable_secret: None }).await;
    let pem = client_key.to_openssh(russh::keys::ssh_key::LineEnding::LF).unwrap().to_string();
    let driver = driver(&emu, SshAuth::KeyPem(Secret::new(pem)), &emu.host_key, None, command_timeout);
    (emu, driver)
}

/// An emulator with password login (landing in `sw-test>`, so `enable` asks for a secret).
async fn with_password_login() -> (Emulator, SwitchDriver) {
    let emu = Emulator::start(Options {
        user: "admin".into(),
        login: Login::Password("pa55-word".into()),
        enable_secret: Some(ENABLE_SECRET.into()),
    })
    .await;
    let driver = driver(&emu, SshAuth::Password(Secret::new("pa55-word")), &emu.host_key, Some(ENABLE_SECRET), Duration::from_secs(5));
    (emu, driver)
}

fn driver(emu: &Emulator, auth: SshAuth, host_key: &str, enable: Option<&str>, command_timeout: Duration) -> SwitchDriver {
    let target = SshTarget {
        name: "sw-test".into(),
        address: emu.address,
        user: emu.user.clone(),
        auth,
        host_key: HostKey::parse(host_key).unwrap(),
    };
    let cli = IosCli::new(target, SshSettings { connect_timeout: Duration::from_secs(5), command_timeout, ..SshSettings::default() });
    SwitchDriver::IosCli(match enable {
        Some(secret) => cli.with_enable_secret(Secret::new(secret)),
        None => cli,
    })
}

fn vlan(n: u32) -> Vlan {
    Vlan::new(n).unwrap()
}

fn config(d: &SwitchDriver, port: &str, vlan_id: u32, description: &str, enabled: bool, request: &str) -> SwitchPortConfig {
    SwitchPortConfig {
        port: d.port(port).unwrap(),
        mode: PortMode::Access(vlan(vlan_id)),
        description: PortDescription::parse(description).unwrap(),
        enabled,
        request: RequestTag::parse(request).unwrap(),
    }
}

/// A factory port as the driver reads it: VLAN 1, no mode line, no description, up.
fn factory(port: &InterfaceName) -> SwitchPortState {
    SwitchPortState {
        exists: true,
        vlans: PortVlans { tag: Some(vlan(1)), trunks: vec![], vlan_mode: None },
        ..SwitchPortState::missing(port.clone())
    }
}

/// The lines the driver may ever send; everything in the device's log must be one of them.
fn allowed(line: &str) -> bool {
    const FIXED: [&str; 10] = [
        "terminal length 0",
        "enable",
        "<enable password>",
        "configure terminal",
        "end",
        "switchport mode access",
        "no switchport mode",
        "no description",
        "shutdown",
        "no shutdown",
    ];
    let safe = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_alphanumeric() || b" -_.:/()#".contains(&b));
    FIXED.contains(&line)
        || line
            .strip_prefix("interface ")
            .or_else(|| line.strip_prefix("show running-config interface "))
            .is_some_and(|n| InterfaceName::parse(PortPattern::Ios, n).is_ok())
        || line.strip_prefix("switchport access vlan ").is_some_and(|v| v.parse::<u32>().is_ok_and(|v| (1..=4094).contains(&v)))
        || line.strip_prefix("description ").is_some_and(safe)
}

fn assert_log_clean(emu: &Emulator) {
    for line in emu.log() {
        assert!(allowed(&line), "the device received an unexpected line {line:?}; log: {:#?}", emu.log());
        assert!(!line.contains("reload"), "{line:?}");
    }
}

/// Lines the device received after the first `from` of its log.
fn since(emu: &Emulator, from: usize) -> Vec<String> {
    emu.log()[from..].to_vec()
}

#[tokio::test]
async fn access_vlan_cycle_reads_back_reapplies_and_restores() {
    let (emu, d) = with_key_login().await;
    let port = d.port("Gi1/0/5").unwrap();
    let before = d.read(&port).await.unwrap();
    assert_eq!(before, factory(&port));

    let want = config(&d, "Gi1/0/5", 120, "kolokasi KLK-2026-00042 srv (rack 1/U12)", true, "KLK-2026-00042");
    let applied = d.apply(&want).await.unwrap();
    assert!(applied.changed);
    assert_eq!(applied.previous, before);
    assert_eq!(applied.state.access_vlan(), Some(vlan(120)));
    assert_eq!(applied.state.vlans.vlan_mode, Some(VlanMode::Access));
    assert_eq!(applied.state.description.as_deref(), Some("kolokasi KLK-2026-00042 srv (rack 1/U12)"));
    assert_eq!(applied.state.request, want.request.clone().into());
    assert_eq!(applied.state.previous.as_deref(), Some(&before));
    // On the device: the settings, and the note saying whose port it is and how it was.
    assert_eq!(
        emu.port(5),
        Port {
            vlan: 120,
            mode_access: true,
            description: Some("kolokasi KLK-2026-00042 srv (rack 1/U12) ## kolokasi KLK-2026-00042 was default vlan 1 up".into()),
            shutdown: false,
        }
    );
    assert_eq!(d.read(&port).await.unwrap(), applied.state);

    // Re-applying finds the port as asked: one show, no configuration.
    let mark = emu.log().len();
    let again = d.apply(&want).await.unwrap();
    assert!(!again.changed);
    assert_eq!((again.state, again.previous), (applied.state.clone(), before.clone()));
    assert_eq!(since(&emu, mark), ["show running-config interface Gi1/0/5"]);

    // Another request may not take the port.
    let other = config(&d, "Gi1/0/5", 130, "someone else", true, "KLK-2026-00043");
    assert!(matches!(d.apply(&other).await, Err(SwitchError::PortHeld { .. })));

    let restored = d.restore(&applied.previous).await.unwrap();
    assert_eq!(restored, before);
    assert_eq!(emu.port(5), Port::default());
    let mark = emu.log().len();
    d.restore(&applied.previous).await.unwrap();
    assert_eq!(since(&emu, mark), ["show running-config interface Gi1/0/5"]);

    for n in (1..=24).filter(|n| *n != 5) {
        assert_eq!(emu.port(n), Port::default(), "Gi1/0/{n} was touched");
    }
    assert_eq!(emu.shells_opened(), 1, "one session serves every call");
    assert_log_clean(&emu);
}

#[tokio::test]
async fn disable_and_enable_with_password_login_and_enable_secret() {
    let (emu, d) = with_password_login().await;
    let port = d.port("GigabitEthernet1/0/6").unwrap();
    let off = d.apply(&config(&d, "GigabitEthernet1/0/6", 130, "parked srv", false, "KLK-2026-00050")).await.unwrap();
    assert!(off.changed && !off.state.enabled);
    assert_eq!(off.state.access_vlan(), Some(vlan(130)));
    assert!(emu.port(6).shutdown && emu.port(6).vlan == 130);
    assert!(!d.read(&port).await.unwrap().enabled);

    let on = d.apply(&config(&d, "GigabitEthernet1/0/6", 130, "parked srv", true, "KLK-2026-00050")).await.unwrap();
    assert!(on.changed && on.state.enabled);
    assert_eq!(on.previous, factory(&port), "the state before the request is kept");
    assert!(!emu.port(6).shutdown);

    d.restore(&on.previous).await.unwrap();
    assert_eq!(emu.port(6), Port::default());
    let log = emu.log();
    assert_eq!(&log[..3], ["terminal length 0", "enable", "<enable password>"]);
    assert_log_clean(&emu);
}

#[tokio::test]
async fn a_wrong_enable_secret_or_login_is_refused() {
    let (emu, _) = with_password_login().await;
    let wrong = driver(&emu, SshAuth::Password(Secret::new("pa55-word")), &emu.host_key, Some("not-it"), Duration::from_secs(5));
    let e = wrong.read(&wrong.port("Gi1/0/1").unwrap()).await.unwrap_err();
    assert!(
        matches!(&e, SwitchError::IosCli(IosCliError::Rejected { command, answer, .. }) if command == "enable" && answer.contains("Access denied")),
        "{e}"
    );
    assert!(!e.to_string().contains("not-it"), "{e}");

    let none = driver(&emu, SshAuth::Password(Secret::new("pa55-word")), &emu.host_key, None, Duration::from_secs(5));
    let e = none.read(&none.port("Gi1/0/1").unwrap()).await.unwrap_err();
    assert!(matches!(e, SwitchError::IosCli(IosCliError::EnableSecret { .. })), "{e}");

    let bad_login = driver(&emu, SshAuth::Password(Secret::new("guess")), &emu.host_key, None, Duration::from_secs(5));
    let e = bad_login.read(&bad_login.port("Gi1/0/1").unwrap()).await.unwrap_err();
    assert!(matches!(e, SwitchError::Ssh(SshError::LoginRefused { .. })), "{e}");
    assert_log_clean(&emu);
}

#[tokio::test]
async fn a_changed_host_key_is_refused_before_login() {
    let (emu, _) = with_key_login().await;
    let (imposter, _) = with_key_login().await;
    let client_key = ios_emulator::ed25519_key().to_openssh(russh::keys::ssh_key::LineEnding::LF).unwrap().to_string();
    // The driver pins `emu`'s key but reaches `imposter`.
    let d = driver(&imposter, SshAuth::KeyPem(Secret::new(client_key)), &emu.host_key, None, Duration::from_secs(5));
    let e = d.read(&d.port("Gi1/0/1").unwrap()).await.unwrap_err();
    match &e {
        SwitchError::Ssh(SshError::HostKeyChanged { device, expected, got }) => {
            assert_eq!((device.as_str(), expected.as_str(), got.as_str()), ("sw-test", emu.host_key.as_str(), imposter.host_key.as_str()));
        }
        other => panic!("expected a changed host key, got {other}"),
    }
    assert!(!e.is_retryable());
    assert_eq!((imposter.shells_opened(), imposter.log().len()), (0, 0));
}

/// Hostile text cannot become a typed value, so it can never be sent; plain-text fields of a
/// state (descriptions read from a device) are checked again before a write.
#[tokio::test]
async fn injection_is_stopped_by_the_types_before_anything_is_sent() {
    let (emu, d) = with_key_login().await;
    let long = "x".repeat(200);
    let long_name = format!("Gi1/0/{}", "1".repeat(200));
    let corpus = [
        "x\nreload",
        "x\r\nconfigure terminal",
        "$(reload)",
        "`reload`",
        "a;b",
        "Gi1/0/1 ; reload",
        "Gi1/0/1\nreload",
        "Gi1/0/1\r\nconfigure terminal",
        "\"quoted\"",
        "'quoted'",
        "a | include x",
        "help?",
        "bell\u{7}",
        "nul\u{0}",
        "esc\u{1b}[2J",
        "del\u{7f}",
        "tab\there",
        "caf\u{e9}",
        long.as_str(),
        long_name.as_str(),
    ];
    for text in corpus {
        assert!(PortDescription::parse(text).is_err(), "description {text:?} accepted");
        assert!(d.port(text).is_err(), "interface name {text:?} accepted");
    }
    assert!(d.port("Gi1/0/1").is_ok() && d.port("r1p3").is_err(), "IOS names only");

    // A state whose plain-text description is hostile is refused before a line is sent.
    let port = d.port("Gi1/0/7").unwrap();
    assert_eq!(d.read(&port).await.unwrap(), factory(&port));
    let mark = emu.log().len();
    for text in ["x\nreload", "x\r\nconfigure terminal", "a;b", "## kolokasi KLK-1 was access vlan 1 up", long.as_str()] {
        let hostile = SwitchPortState { description: Some(text.into()), ..factory(&port) };
        let e = d.restore(&hostile).await.unwrap_err();
        assert!(matches!(e, SwitchError::IosCli(IosCliError::Unmanageable { .. })), "{text:?}: {e}");
    }
    assert!(since(&emu, mark).iter().all(|l| l == "show running-config interface Gi1/0/7"), "{:?}", since(&emu, mark));

    // A port whose current description could not be typed back is not taken (an undo would
    // have to send it).
    emu.set_port(8, Port { description: Some("uplink; don't touch!".into()), ..Port::default() });
    let mark = emu.log().len();
    let e = d.apply(&config(&d, "Gi1/0/8", 120, "kolokasi srv", true, "KLK-2026-00060")).await.unwrap_err();
    assert!(matches!(&e, SwitchError::IosCli(IosCliError::Unmanageable { reason, .. }) if reason.contains("put back")), "{e}");
    assert_eq!(since(&emu, mark), ["show running-config interface Gi1/0/8"]);
    assert_eq!(emu.port(8).description.as_deref(), Some("uplink; don't touch!"));

    // A legitimate change still goes through on the same session.
    d.apply(&config(&d, "Gi1/0/7", 120, "kolokasi: srv-1 (rack 1/U12) #a", true, "KLK-2026-00061")).await.unwrap();
    assert_eq!(emu.shells_opened(), 1);
    assert_log_clean(&emu);
}

#[tokio::test]
async fn device_errors_name_the_device_and_the_command() {
    let (emu, d) = with_key_login().await;
    // A name that fits the IOS pattern but is not on this switch.
    let e = d.apply(&config(&d, "Gi9/0/99", 120, "kolokasi srv", true, "KLK-2026-00070")).await.unwrap_err();
    assert!(matches!(&e, SwitchError::PortMissing { device, port } if device == "sw-test" && port == "Gi9/0/99"), "{e}");
    assert!(!emu.log().iter().any(|l| l == "configure terminal"), "nothing configured: {:?}", emu.log());

    // The device refuses one value half way: the error says which, the session is left at
    // `sw-test#`, and the port already carries the note, so the undo finds it.
    emu.refuse("switchport access vlan 999");
    let e = d.apply(&config(&d, "Gi1/0/9", 999, "kolokasi srv", true, "KLK-2026-00071")).await.unwrap_err();
    assert_eq!(e.to_string(), format!("sw-test rejected `switchport access vlan 999`: {INVALID}"));
    assert!(!e.is_retryable());
    let log = emu.log();
    let at = log.iter().position(|l| l == "switchport access vlan 999").unwrap();
    assert_eq!(log[at + 1..], ["end"]);

    let port = d.port("Gi1/0/9").unwrap();
    let half = d.read(&port).await.unwrap();
    assert_eq!(half.request, Some(RequestTag::parse("KLK-2026-00071").unwrap()));
    assert_eq!(half.previous.as_deref(), Some(&factory(&port)));
    d.restore(half.previous.as_deref().unwrap()).await.unwrap();
    assert_eq!(emu.port(9), Port::default());
    assert_eq!(emu.shells_opened(), 1);
    assert_log_clean(&emu);
}

#[tokio::test]
async fn a_hung_device_times_out_and_the_next_call_reconnects() {
    let (emu, d) = with_key_login_waiting(Duration::from_millis(500)).await;
    let port = d.port("Gi1/0/10").unwrap();
    emu.stall_once("show running-config interface Gi1/0/10");
    let e = d.read(&port).await.unwrap_err();
    assert!(matches!(e, SwitchError::IosCli(IosCliError::PromptTimeout { .. })), "{e}");
    assert!(e.is_retryable());
    assert_eq!(d.read(&port).await.unwrap(), factory(&port));
    assert_eq!(emu.shells_opened(), 2);
}

#[tokio::test]
async fn concurrent_calls_share_one_session_and_a_dropped_session_is_reopened() {
    let (emu, d) = with_key_login().await;
    let d = Arc::new(d);
    let reads = (1..=12).map(|n| {
        let d = d.clone();
        tokio::spawn(async move { d.read(&d.port(&format!("Gi1/0/{n}")).unwrap()).await })
    });
    for r in reads {
        assert!(r.await.unwrap().unwrap().exists);
    }
    assert_eq!(emu.shells_opened(), 1);
    let SwitchDriver::IosCli(cli) = &*d else { unreachable!() };
    assert_eq!(cli.sessions_opened(), 1);
    // After the session's `terminal length 0`, only the twelve shows.
    assert!(emu.log().iter().skip(1).all(|l| l.starts_with("show running-config interface Gi1/0/")));

    emu.disconnect_all().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let port = d.port("Gi1/0/3").unwrap();
    assert_eq!(d.read(&port).await.unwrap(), factory(&port));
    assert_eq!(emu.shells_opened(), 2);
    assert_log_clean(&emu);
}
