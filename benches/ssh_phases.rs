//! Benchmark: where an SSH command's time goes, on the lab's tuned sshd (:22) and on the "stock
//! sshd" profile (:2222, Debian's sshd_config as shipped), same switch and firewall.
//!
//! Per profile it prints
//! - connect phases (median of fresh connections): TCP, key exchange + host key, login;
//! - per command on one reused session (median): channel open, and from the exec request the
//!   server's exit-status, EOF and close, and when the pool had the result;
//! - per-command overhead: the pool's time for the command minus the command's own run time,
//!   measured on the device by the remote shell itself (`$EPOCHREALTIME` around the command),
//!   against the 3 ms goal; the commands are the drivers' (ovs-ssh read and write, nftables
//!   listing, the inspection script);
//! - the drivers end to end: an ovs-ssh port change with read-back and its undo, an nftables
//!   allow and remove.
//!
//! `cargo bench --bench ssh_phases` (needs the lab with the stock profile: `bash
//! deploy/lab/lab.sh up`). Uses port bp87 (a load-test port) and the routed address
//! 198.51.100.201 (rules only), which no test touches; everything is undone afterwards.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kolokasi::firewall::{FirewallRule, Nftables};
use kolokasi::ipam::Vlan;
use kolokasi::lab::Lab;
use kolokasi::ssh::{CommandPhases, ExecLimits, RemoteCommand, RequestTag, SshPool, SshSettings, SshTarget};
use kolokasi::switch::{OvsSsh, PortDescription, PortMode, SwitchDriver, SwitchPortConfig};

const CONNECTS: usize = 10;
const RUNS: usize = 30;
const GOAL: Duration = Duration::from_millis(3);

#[tokio::main]
async fn main() {
    let lab = Lab::load().unwrap_or_else(|e| panic!("the SSH phase benchmark needs the lab: {e}"));
    let stock = lab.stock_sshd().unwrap_or_else(|e| panic!("{e}"));
    println!("ssh phases: median of {CONNECTS} connections and {RUNS} commands each; goal: overhead ≤ {} per command", ms(GOAL));
    for (profile, sw, fw) in [("tuned sshd :22", "sw", "fw"), ("stock sshd", stock.switch_host.as_str(), stock.firewall_host.as_str())] {
        let sw = SshTarget::from_lab(&lab, sw, &format!("{sw}-bench")).expect("lab switch host");
        let fw = SshTarget::from_lab(&lab, fw, &format!("{fw}-bench")).expect("lab firewall host");
        println!("\n== {profile} (switch {}, firewall {})", sw.address, fw.address);
        connect_phases(&sw).await;
        for (mode, persistent_shell) in [("an exec channel per command (before)", false), ("the persistent shell (now)", true)] {
            let pool = Arc::new(SshPool::new(SshSettings { persistent_shell, ..SshSettings::default() }));
            println!("  per command on one reused session, {mode}:");
            println!("    {:<34} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}", "command", "chan open", "exit", "eof", "close", "result", "own", "overhead");
            for (name, target, versions) in commands(&lab) {
                let target = if target == "sw" { &sw } else { &fw };
                command_row(&pool, target, name, &versions).await;
            }
            let cleanup = RemoteCommand::new("ovs-vsctl").args(["--", "remove", "Port", "bp87", "external_ids", "bench-phases"]);
            pool.exec_ok(&sw, &cleanup, None).await.expect("remove the benchmark's external_ids key");
            drivers(&pool, &sw, &fw).await;
        }
    }
}

/// The drivers' commands, as they send them (read, write, listing, inspection). A write comes
/// in two versions run in turn, so every run really changes the port (an unchanged database
/// makes ovs-vsctl skip its wait for ovs-vswitchd).
fn commands(lab: &Lab) -> Vec<(&'static str, &'static str, Vec<RemoteCommand>)> {
    let bridge = lab.host("sw").ok().and_then(|h| h.bridge.clone()).unwrap_or_else(|| "br0".into());
    let vsctl = || RemoteCommand::new("ovs-vsctl").arg("--timeout=10");
    let set = |wait: &[&str]| ["1", "2"].map(|v| vsctl().args(wait).args(["--", "set", "Port", "bp87"]).arg(format!("external_ids:bench-phases=\"{v}\""))).to_vec();
    vec![
        ("true (the floor)", "sw", vec![RemoteCommand::new("true")]),
        ("ovs-vsctl find Port (read)", "sw", vec![vsctl().args(["--format=json", "--data=json", "find", "Port", "name=\"bp87\""])]),
        ("ovs-vsctl set Port (write)", "sw", set(&[])),
        ("ovs-vsctl set Port --no-wait", "sw", set(&["--no-wait"])),
        ("ovs-vsctl br-exists (tiny)", "sw", vec![vsctl().args(["br-exists", &bridge])]),
        ("nft -j list ruleset (read)", "fw", vec![RemoteCommand::new("nft").args(["-j", "list", "ruleset"])]),
        ("inspection script", "sw", vec![kolokasi::inspect::gather::command()]),
    ]
}

async fn connect_phases(target: &SshTarget) {
    let (mut tcp, mut kex, mut auth, mut first) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..CONNECTS {
        let pool = SshPool::default();
        let (_, phases) = pool.exec_phased(target, &RemoteCommand::new("true"), None, limits()).await.expect("first command");
        let c = pool.connect_phases(&target.name).await.expect("a cached connection");
        tcp.push(c.tcp);
        kex.push(c.key_exchange);
        auth.push(c.auth);
        first.push(phases.channel_open + phases.result);
    }
    println!(
        "  connect: tcp {}, key exchange {}, auth {}; then first `true` (channel open + exec → result) {}",
        ms(median(tcp)),
        ms(median(kex)),
        ms(median(auth)),
        ms(median(first))
    );
}

/// One command RUNS times, each run followed by the same command inside a timing shell (its
/// own time), so a busy machine slows both alike; the overhead is the median of the pairs.
async fn command_row(pool: &SshPool, target: &SshTarget, name: &str, versions: &[RemoteCommand]) {
    let (mut runs, mut own, mut overhead): (Vec<CommandPhases>, Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..RUNS {
        let command = &versions[(2 * i) % versions.len()];
        let (_, p) = pool.exec_phased(target, command, None, limits()).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let o = own_time(pool, target, &versions[(2 * i + 1) % versions.len()]).await;
        // Per command the pool opens a channel (exec mode) and runs the command: both count.
        overhead.push((p.channel_open + p.result).saturating_sub(o));
        own.push(o);
        runs.push(p);
    }
    let pick = |f: fn(&CommandPhases) -> Option<Duration>| {
        let v: Vec<Duration> = runs.iter().filter_map(f).collect();
        if v.len() == runs.len() { ms(median(v)) } else { "-".into() }
    };
    let overhead = median(overhead);
    println!(
        "    {:<34} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {}",
        name,
        ms(median(runs.iter().map(|p| p.channel_open).collect())),
        pick(|p| p.exit_status),
        pick(|p| p.eof),
        pick(|p| p.close),
        ms(median(runs.iter().map(|p| p.result).collect())),
        ms(median(own)),
        ms(overhead),
        if overhead <= GOAL { "ok" } else { "OVER GOAL" }
    );
}

/// The command's own run time on the device: the remote shell reads its clock around it.
async fn own_time(pool: &SshPool, target: &SshTarget, command: &RemoteCommand) -> Duration {
    let script = format!("s=$EPOCHREALTIME; {} >/dev/null 2>&1; e=$EPOCHREALTIME; echo \"$s $e\"", command.line());
    let timed = RemoteCommand::new("bash").arg("-c").arg(script);
    let out = pool.exec_ok(target, &timed, None).await.expect("timing shell");
    let t: Vec<f64> = out.stdout.split_whitespace().map(|x| x.parse().expect("EPOCHREALTIME")).collect();
    Duration::from_secs_f64(t[1] - t[0])
}

async fn drivers(pool: &Arc<SshPool>, sw: &SshTarget, fw: &SshTarget) {
    let switch = SwitchDriver::OvsSsh(OvsSsh::new(sw.clone(), pool.clone()));
    let firewall = Nftables::new(fw.clone(), pool.clone());
    let request = RequestTag::parse("BENCH-PHASES-1").unwrap();
    let dest: IpAddr = "198.51.100.201".parse().unwrap();
    let rules = vec![FirewallRule::new(request.clone(), dest, "tcp/443".parse().unwrap(), Vec::new()).unwrap()];
    let (mut apply, mut restore, mut allow, mut remove) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let config = SwitchPortConfig {
            port: switch.port("bp87").unwrap(),
            mode: PortMode::Access(Vlan::new(150).unwrap()),
            description: PortDescription::parse("kolokasi BENCH-PHASES-1").unwrap(),
            enabled: true,
            request: request.clone(),
        };
        let t = Instant::now();
        let applied = switch.apply(&config).await.expect("switch apply");
        apply.push(t.elapsed());
        let t = Instant::now();
        switch.restore(&applied.previous).await.expect("switch restore");
        restore.push(t.elapsed());
        let t = Instant::now();
        firewall.allow(&request, &rules).await.expect("firewall allow");
        allow.push(t.elapsed());
        let t = Instant::now();
        firewall.remove(&request, Some(dest)).await.expect("firewall remove");
        remove.push(t.elapsed());
    }
    println!(
        "  drivers (median of 5): ovs-ssh port change (read, write, read-back) {}, its undo {}; nftables allow {}, remove {}",
        ms(median(apply)),
        ms(median(restore)),
        ms(median(allow)),
        ms(median(remove))
    );
}

fn limits() -> ExecLimits {
    ExecLimits { timeout: Duration::from_secs(30), max_output_bytes: SshSettings::MAX_OUTPUT_BYTES }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
