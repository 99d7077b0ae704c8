//! The switch (ovs-ssh) and firewall (nftables) drivers through the lab's "stock sshd" profile
//! (klk-sw and klk-fw behind a second sshd with Debian's sshd_config as shipped, port 2222): a
//! real change, its read-back, and the undo, checked on the device itself (not through the
//! driver), in the pool's persistent shell and over an exec channel per command. Fails, never
//! skips, when the profile is missing. Speed is the benchmark's business
//! (`cargo bench --bench ssh_phases`), not this file's.

use std::net::IpAddr;
use std::process::Command;
use std::sync::Arc;

use kolokasi::firewall::{FirewallRule, Nftables};
use kolokasi::ipam::Vlan;
use kolokasi::lab::{Lab, StockSshd};
use kolokasi::ssh::{RemoteCommand, RequestTag, SshPool, SshSettings, SshTarget};
use kolokasi::switch::{OvsSsh, PortDescription, PortMode, SwitchDriver, SwitchPortConfig};

/// A load-test port no other test uses.
const PORT: &str = "bp86";
/// A routed address in the IPAM range no other test uses (rules only, no traffic).
const DESTINATION: &str = "198.51.100.202";

fn lab() -> (Lab, StockSshd) {
    let lab = Lab::load().unwrap_or_else(|e| panic!("{e}"));
    let stock = lab.stock_sshd().unwrap_or_else(|e| panic!("{e}")).clone();
    (lab, stock)
}

fn pool(persistent_shell: bool) -> Arc<SshPool> {
    Arc::new(SshPool::new(SshSettings { persistent_shell, ..SshSettings::default() }))
}

/// Runs `program args…` in the namespace of lab host `host`, as root on the machine (not
/// through any sshd).
fn on_device(lab: &Lab, host: &str, program: &str, args: &[&str]) -> String {
    let netns = &lab.host(host).unwrap().netns;
    let out = Command::new("ip").args(["netns", "exec", netns, program]).args(args).output().expect("ip netns exec");
    assert!(out.status.success(), "{program} {args:?} in {netns}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn vsctl(lab: &Lab, args: &[&str]) -> String {
    let db = format!("--db=unix:{}/ovs/db.sock", lab.lab_dir.display());
    on_device(lab, "sw", "ovs-vsctl", &[&[db.as_str(), "--timeout=5"], args].concat())
}

/// The stock sshd really is the distribution's: its config is the stock file plus exactly the
/// three lines the lab needs.
#[test]
fn the_stock_profile_runs_the_distribution_config() {
    let (_, stock) = lab();
    let shipped = std::fs::read_to_string(&stock.stock_config).unwrap();
    for host in ["sw", "fw"] {
        let config = std::fs::read_to_string(&stock.configs[host]).unwrap();
        let added: Vec<&str> = config.lines().take(4).skip(1).map(|l| l.split_whitespace().next().unwrap()).collect();
        assert_eq!(added, ["ListenAddress", "HostKey", "PidFile"], "{host}");
        assert_eq!(config.lines().skip(4).collect::<Vec<_>>(), shipped.lines().collect::<Vec<_>>(), "{host}: the rest is {:?}", stock.stock_config);
    }
}

#[tokio::test]
async fn ovs_ssh_changes_reads_back_and_restores_a_port_through_the_stock_sshd() {
    let (lab, stock) = lab();
    let request = RequestTag::parse("TEST-STOCK-SW").unwrap();
    for persistent_shell in [true, false] {
        let pool = pool(persistent_shell);
        let target = SshTarget::from_lab(&lab, &stock.switch_host, "sw-stock").unwrap();
        assert_eq!(target.address.port(), stock.port);
        let switch = SwitchDriver::OvsSsh(OvsSsh::new(target, pool.clone()));
        let port = switch.port(PORT).unwrap();
        // A run cut short earlier left the port ours: put it back first.
        let found = switch.read(&port).await.unwrap();
        if let (Some(owner), Some(previous)) = (&found.request, &found.previous) {
            assert_eq!(owner, &request, "{PORT} belongs to another request");
            switch.restore(previous).await.unwrap();
        }
        let tag_before = vsctl(&lab, &["get", "Port", PORT, "tag"]);
        let config = SwitchPortConfig {
            port: port.clone(),
            mode: PortMode::Access(Vlan::new(131).unwrap()),
            description: PortDescription::parse("kolokasi TEST-STOCK-SW lewat sshd bawaan").unwrap(),
            enabled: true,
            request: request.clone(),
        };
        let applied = switch.apply(&config).await.unwrap();
        assert!(applied.changed, "shell {persistent_shell}");
        assert_eq!(applied.state.access_vlan(), Some(Vlan::new(131).unwrap()));
        assert_eq!(switch.read(&port).await.unwrap(), applied.state, "the driver reads back what it wrote");
        assert_eq!(vsctl(&lab, &["get", "Port", PORT, "tag"]), "131", "the switch itself has the VLAN");
        assert_eq!(vsctl(&lab, &["get", "Port", PORT, "external_ids:kolokasi-request"]).trim_matches('"'), request.as_str());

        let restored = switch.restore(&applied.previous).await.unwrap();
        assert_eq!(restored, applied.previous);
        assert_eq!(vsctl(&lab, &["get", "Port", PORT, "tag"]), tag_before);
        assert_eq!(vsctl(&lab, &["get", "Port", PORT, "external_ids"]), "{}");
        assert_eq!(pool.connections_opened(), 1, "one connection for the whole change");
    }
}

#[tokio::test]
async fn nftables_allows_reads_back_and_removes_through_the_stock_sshd() {
    let (lab, stock) = lab();
    let destination: IpAddr = DESTINATION.parse().unwrap();
    for persistent_shell in [true, false] {
        let request = RequestTag::parse(&format!("TEST-STOCK-FW-{:08x}", rand::random::<u32>())).unwrap();
        let pool = pool(persistent_shell);
        let firewall = Nftables::new(SshTarget::from_lab(&lab, &stock.firewall_host, "fw-stock").unwrap(), pool.clone());
        let rules = ["tcp/443", "udp/53"].map(|s| FirewallRule::new(request.clone(), destination, s.parse().unwrap(), Vec::new()).unwrap());
        let allowed = firewall.allow(&request, &rules).await.unwrap();
        assert!(allowed.total >= 2, "{allowed:?}");
        let mine: Vec<_> = firewall.rules().await.unwrap().into_iter().filter(|r| r.comment.request == request).collect();
        assert!(mine.len() >= 2, "the driver reads its rules back: {mine:?}");
        let listing = on_device(&lab, "fw", "nft", &["-j", "list", "ruleset"]);
        assert!(listing.contains(request.as_str()), "the firewall itself holds the rules (shell {persistent_shell})");

        assert!(firewall.remove(&request, Some(destination)).await.unwrap() >= 2);
        assert!(!on_device(&lab, "fw", "nft", &["-j", "list", "ruleset"]).contains(request.as_str()), "removed on the firewall");
        assert_eq!(pool.connections_opened(), 1);
    }
}

/// A command of the driver set passes the shell's framing unchanged: output without a final
/// newline, stderr, exit status, and text on stdin.
#[tokio::test]
async fn the_persistent_shell_keeps_output_status_and_stdin_exact() {
    let (lab, stock) = lab();
    let target = SshTarget::from_lab(&lab, &stock.firewall_host, "fw-stock-shell").unwrap();
    let script = "printf 'no newline'; printf 'e1\\ne2' >&2; exit 7";
    let mut seen = Vec::new();
    for persistent_shell in [true, false] {
        let pool = pool(persistent_shell);
        let out = pool.exec(&target, &RemoteCommand::new("sh").args(["-c", script])).await.unwrap();
        let cat = pool.exec_ok(&target, &RemoteCommand::new("cat"), Some(b"$(reboot) `id`\n{\"a\": 1}\n")).await.unwrap();
        seen.push((out.status, out.stdout, out.stderr, cat.stdout));
    }
    assert_eq!(seen[0], (Some(7), "no newline".into(), "e1\ne2".into(), "$(reboot) `id`\n{\"a\": 1}\n".into()));
    assert_eq!(seen[0], seen[1], "the shell and an exec channel give the same result");
}
