//! Benchmark: the SSH transport and the device drivers against the real lab.
//!
//! - `true` on srv1, N times over one reused russh session, then N times with a new
//!   connection (TCP + key exchange + login) per command; commands per second for both.
//! - One request's network steps: switch apply (OVS over SSH, and over OVSDB) plus firewall
//!   allow, then their undo; wall time, with a cold pool (first contact) and a warm one.
//!
//! `cargo bench --bench ssh` (needs the lab: `bash deploy/lab/lab.sh up`). Uses port r1p2 and
//! the routed address 198.51.100.200 (rules only, no traffic), which no test touches; everything is undone afterwards.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use kolokasi::engine::Drivers;
use kolokasi::firewall::FirewallRule;
use kolokasi::ipam::Vlan;
use kolokasi::lab::Lab;
use kolokasi::ssh::{RemoteCommand, RequestTag, SshPool, SshTarget};
use kolokasi::switch::{PortDescription, PortMode, SwitchPortConfig};

const N: usize = 50;

#[tokio::main]
async fn main() {
    let lab = Lab::load().unwrap_or_else(|e| panic!("the SSH benchmark needs the lab: {e}"));
    let srv1 = SshTarget::from_lab(&lab, "srv1", "srv1").expect("lab srv1");
    let cmd = RemoteCommand::new("true");

    let pool = SshPool::default();
    let t = Instant::now();
    pool.exec_ok(&srv1, &cmd, None).await.expect("first command");
    let first = t.elapsed();
    let t = Instant::now();
    for _ in 0..N {
        pool.exec_ok(&srv1, &cmd, None).await.expect("command on the reused session");
    }
    let reused = t.elapsed();
    assert_eq!(pool.connections_opened(), 1);

    let t = Instant::now();
    for _ in 0..N {
        let fresh = SshPool::default();
        fresh.exec_ok(&srv1, &cmd, None).await.expect("command on a new connection");
    }
    let fresh = t.elapsed();

    println!("ssh `true` on srv1, N={N}");
    println!("  first command (connect + login + command): {}", ms(first));
    println!("  one reused session:        {:>8} per command, {:>7.1} commands/s", ms(reused / N as u32), per_second(N, reused));
    println!("  new connection per command: {:>8} per command, {:>7.1} commands/s", ms(fresh / N as u32), per_second(N, fresh));
    println!("  reuse is {:.1}x faster", fresh.as_secs_f64() / reused.as_secs_f64());

    // One request's switch port and firewall rules, cold (new pool) and warm.
    let drivers = Drivers::from_lab(&lab).unwrap_or_else(|e| panic!("{e}"));
    let request = RequestTag::parse("BENCH-SSH-1").unwrap();
    let dest: IpAddr = "198.51.100.200".parse().unwrap();
    let rules = vec![FirewallRule::new(request.clone(), dest, "tcp/443".parse().unwrap(), Vec::new()).unwrap()];
    let fw = &drivers.firewalls["fw-1"];
    for (round, switch) in [("cold, OVS over SSH", "sw-r01"), ("warm, OVS over SSH", "sw-r01"), ("warm, OVSDB", "sw-r01-ovsdb")] {
        let sw = &drivers.switches[switch];
        let config = SwitchPortConfig {
            port: sw.port("r1p2").unwrap(),
            mode: PortMode::Access(Vlan::new(150).unwrap()),
            description: PortDescription::parse("kolokasi BENCH-SSH-1").unwrap(),
            enabled: true,
            request: request.clone(),
        };
        let t = Instant::now();
        let applied = sw.apply(&config).await.expect("switch apply");
        let switch_time = t.elapsed();
        let t = Instant::now();
        let allowed = fw.allow(&request, &rules).await.expect("firewall allow");
        let fw_time = t.elapsed();
        let forward = switch_time + fw_time;
        let t = Instant::now();
        sw.restore(&applied.previous).await.expect("switch restore");
        fw.remove(&request, Some(dest)).await.expect("firewall remove");
        let undo = t.elapsed();
        println!(
            "request steps ({round}): switch apply+verify {}, firewall allow {} ({} rules) → {} forward; undo both {}",
            ms(switch_time),
            ms(fw_time),
            allowed.total,
            ms(forward),
            ms(undo)
        );
    }
    println!("ssh connections opened for the request steps: {}", drivers.ssh.connections_opened());
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}
