//! The nftables driver against the lab firewall (klk-fw): rules really filter traffic, a
//! re-run adds nothing, removal takes exactly one request's rules and nothing foreign.
//! The enforcement steps run in one test function; the action test uses its own request and a
//! routed address, and every count filters by request, so the two can share the table. Needs
//! the lab.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kolokasi::domain::RequestId;
use kolokasi::engine::{ActionCtx, Drivers, Env, Outcome};
use kolokasi::firewall::nftables::request_chain;
use kolokasi::firewall::{FirewallRule, RuleComment, Service, parse_source};
use kolokasi::lab::Lab;
use kolokasi::ssh::{RemoteCommand, RequestTag, SshTarget};
use serde_json::{Value, json};

fn lab() -> Lab {
    Lab::load().unwrap_or_else(|e| panic!("{e}"))
}

fn tag(s: &str) -> RequestTag {
    RequestTag::parse(s).unwrap()
}

/// A TCP listener inside the firewall's namespace, killed when dropped.
struct Listener(Child);

impl Listener {
    fn start(netns: &str, address: IpAddr, port: u16) -> Self {
        let child = Command::new("ip")
            .args(["netns", "exec", netns, "/usr/bin/python3", "-m", "http.server", &port.to_string(), "--bind", &address.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ip netns exec python3");
        Self(child)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn connects(address: IpAddr, port: u16) -> bool {
    let to = SocketAddr::new(address, port);
    matches!(tokio::time::timeout(Duration::from_millis(700), tokio::net::TcpStream::connect(to)).await, Ok(Ok(_)))
}

async fn wait_listening(address: IpAddr, port: u16) {
    let started = Instant::now();
    while !connects(address, port).await {
        assert!(started.elapsed() < Duration::from_secs(10), "listener {address}:{port} did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The tests here change the lab firewall's whole kolokasi table; they take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `nft -j list ruleset` on the firewall, for checks independent of the driver.
async fn ruleset(d: &Drivers, fw: &SshTarget) -> Vec<Value> {
    let out = d.ssh.exec_ok(fw, &RemoteCommand::new("nft").args(["-j", "list", "ruleset"]), None).await.unwrap();
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    doc["nftables"].as_array().unwrap().iter().filter_map(|i| i.get("rule").cloned()).collect()
}

/// Comments of the rules in one of kolokasi's chains, in order.
fn chain_comments(rules: &[Value], chain: &str) -> Vec<String> {
    rules.iter().filter(|r| r["table"] == "kolokasi" && r["chain"] == chain).filter_map(|r| r["comment"].as_str().map(String::from)).collect()
}

/// Comments of the rules in `table` that name one of `requests` (other tests' rules may be
/// in kolokasi's table at the same time).
fn comments_in(rules: &[Value], table: &str, requests: &[&RequestTag]) -> Vec<String> {
    rules
        .iter()
        .filter(|r| r["table"] == table)
        .filter_map(|r| r["comment"].as_str().map(String::from))
        .filter(|c| requests.iter().any(|t| c.starts_with(&format!("kolokasi:{t}:"))))
        .collect()
}

#[tokio::test]
async fn rules_are_enforced_idempotent_and_removed_exactly() {
    let _fw = ONE_AT_A_TIME.lock().await;
    let lab = lab();
    let d = Drivers::from_lab(&lab).unwrap_or_else(|e| panic!("{e}"));
    let fw = &d.firewalls["fw-1"];
    let fw_ssh = SshTarget::from_lab(&lab, "fw", "fw-1").unwrap();
    let netns = lab.host("fw").unwrap().netns.clone();
    let dest: IpAddr = lab.host("fw").unwrap().test_address.as_deref().expect("fw test_address").parse().unwrap();
    let (mine, other) = (tag("TEST-FW-ENFORCE"), tag("TEST-FW-OTHER"));

    // A firewall that lost its ruleset (a reboot, `nft flush ruleset`): no kolokasi table at
    // all, so the first change also writes the table, maps and dispatching base chains.
    let _ = d.ssh.exec(&fw_ssh, &RemoteCommand::new("nft").args(["delete", "table", "inet", "kolokasi"])).await;
    let foreign_table = || RemoteCommand::new("nft").args(["-j", "-f", "-"]);
    let _ = d.ssh.exec(&fw_ssh, &RemoteCommand::new("nft").args(["delete", "table", "inet", "foreign"])).await;

    let _l8080 = Listener::start(&netns, dest, 8080);
    let _l8081 = Listener::start(&netns, dest, 8081);
    wait_listening(dest, 8080).await;
    wait_listening(dest, 8081).await;

    // A foreign table whose rule even looks like one of ours: it must survive everything.
    let foreign = json!({"nftables": [
        {"add": {"table": {"family": "inet", "name": "foreign"}}},
        {"add": {"chain": {"family": "inet", "table": "foreign", "name": "c"}}},
        {"add": {"rule": {"family": "inet", "table": "foreign", "chain": "c", "comment": format!("kolokasi:{mine}:drop/{dest}"),
                          "expr": [{"counter": {"packets": 0, "bytes": 0}}]}}},
    ]});
    d.ssh.exec_ok(&fw_ssh, &foreign_table(), Some(foreign.to_string().as_bytes())).await.unwrap();

    // Another request's rule in kolokasi's table, to a routed (not local) address.
    let routed: IpAddr = "198.51.100.209".parse().unwrap();
    let theirs = FirewallRule::new(other.clone(), routed, "udp/53".parse().unwrap(), vec![parse_source("10.0.0.0/8").unwrap()]).unwrap();
    let allowed = fw.allow(&other, std::slice::from_ref(&theirs)).await.unwrap();
    assert_eq!((allowed.written.len(), allowed.total), (2, 2));
    assert!(allowed.written.iter().all(|r| r.chain == request_chain(&other, routed)), "{:?}", allowed.written);

    // Allow tcp/8080 only.
    let rule = FirewallRule::new(mine.clone(), dest, "tcp/8080".parse::<Service>().unwrap(), Vec::new()).unwrap();
    let allowed = fw.allow(&mine, std::slice::from_ref(&rule)).await.unwrap();
    assert_eq!((allowed.written.len(), allowed.total), (2, 2), "an accept and the destination's drop");
    assert!(allowed.written.iter().all(|r| r.chain == request_chain(&mine, dest) && r.comment.request == mine), "{:?}", allowed.written);
    assert!(connects(dest, 8080).await, "8080 is allowed");
    assert!(!connects(dest, 8081).await, "8081 must be dropped");

    // Every kolokasi rule's comment names its request.
    let rules = ruleset(&d, &fw_ssh).await;
    let ours = comments_in(&rules, "kolokasi", &[&mine, &other]);
    assert_eq!(ours.len(), 4, "{ours:?}");
    assert!(ours.contains(&format!("kolokasi:{mine}:accept/tcp/8080/{dest}")), "{ours:?}");
    assert!(ours.contains(&format!("kolokasi:{mine}:drop/{dest}")), "{ours:?}");
    assert!(ours.iter().all(|c| RuleComment::parse(c).is_some()));

    // Again: the same rules, in the same order, nothing more; still enforced.
    let before = chain_comments(&ruleset(&d, &fw_ssh).await, &request_chain(&mine, dest));
    assert_eq!(before, [format!("kolokasi:{mine}:accept/tcp/8080/{dest}"), format!("kolokasi:{mine}:drop/{dest}")]);
    let again = fw.allow(&mine, std::slice::from_ref(&rule)).await.unwrap();
    assert_eq!(again.total, 2);
    let rules = ruleset(&d, &fw_ssh).await;
    assert_eq!(comments_in(&rules, "kolokasi", &[&mine, &other]).len(), 4);
    assert_eq!(chain_comments(&rules, &request_chain(&mine, dest)), before);
    assert!(connects(dest, 8080).await && !connects(dest, 8081).await, "still enforced after the re-run");

    // Another request cannot take over the address: refused whole, naming the owner.
    let thief = tag("TEST-FW-THIEF");
    let stolen = FirewallRule::new(thief.clone(), dest, "tcp/8081".parse().unwrap(), Vec::new()).unwrap();
    let err = fw.allow(&thief, std::slice::from_ref(&stolen)).await.unwrap_err().to_string();
    assert!(err.contains(&request_chain(&mine, dest)) && err.contains(&dest.to_string()), "{err}");
    let rules = ruleset(&d, &fw_ssh).await;
    assert!(comments_in(&rules, "kolokasi", &[&thief]).is_empty(), "nothing of the refused batch is left");
    assert_eq!(chain_comments(&rules, &request_chain(&mine, dest)), before);
    assert!(!connects(dest, 8081).await);
    assert_eq!(fw.remove(&thief, Some(dest)).await.unwrap(), 0, "the thief's undo leaves the owner's mapping");
    assert!(connects(dest, 8080).await && !connects(dest, 8081).await);

    // Remove mine: exactly my two rules go; the other request's and the foreign rule stay.
    assert_eq!(fw.remove(&mine, None).await.unwrap(), 2);
    let rules = ruleset(&d, &fw_ssh).await;
    let left = comments_in(&rules, "kolokasi", &[&mine, &other]);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|c| c.starts_with(&format!("kolokasi:{other}:"))), "{left:?}");
    assert_eq!(comments_in(&rules, "foreign", &[&mine]), vec![format!("kolokasi:{mine}:drop/{dest}")]);
    assert!(connects(dest, 8081).await, "8081 is open again once the drop is gone");
    assert_eq!(fw.remove(&mine, None).await.unwrap(), 0, "removing twice is harmless");

    // Removing by destination leaves the request's rules for other destinations.
    assert_eq!(fw.remove(&other, Some(dest)).await.unwrap(), 0);
    assert_eq!(fw.remove(&other, Some(routed)).await.unwrap(), 2);

    // kolokasi's table stays (empty chains); the foreign table is the test's to clean up.
    let out = d.ssh.exec(&fw_ssh, &RemoteCommand::new("nft").args(["list", "table", "inet", "kolokasi"])).await.unwrap();
    assert!(out.success(), "{}", out.stderr);
    d.ssh.exec_ok(&fw_ssh, &RemoteCommand::new("nft").args(["delete", "table", "inet", "foreign"]), None).await.unwrap();
}

#[test]
fn hostile_request_tags_services_and_sources_are_refused_by_the_types() {
    for bad in ["x; nft flush ruleset", "$(reboot)", "`id`", "a\nb", "a'b", "KLK:1", "a\"b", "a b"] {
        assert!(RequestTag::parse(bad).is_err(), "tag {bad:?}");
        assert!(parse_source(bad).is_err(), "source {bad:?}");
        assert!(bad.parse::<Service>().is_err(), "service {bad:?}");
    }
    for bad in ["10.0.0.0/8; nft flush ruleset", "10.0.0.0/8 }", "{ 0.0.0.0/0 }", "10.0.0.0/8,0.0.0.0/0", "tcp/443 accept"] {
        assert!(parse_source(bad).is_err(), "source {bad:?}");
        assert!(bad.parse::<Service>().is_err(), "service {bad:?}");
    }
}

/// The `firewall_rules` action: forward twice installs once, undo removes exactly the
/// request's rules for that address, undo twice is harmless, bad parameters are fatal.
#[tokio::test]
async fn the_firewall_rules_action_is_idempotent_and_undoes() {
    let _fw = ONE_AT_A_TIME.lock().await;
    let db = common::fresh_db(common::Db::Sqlite).await;
    let env = Env {
        service: common::service(&db).await,
        drivers: Drivers::from_lab(&lab()).unwrap_or_else(|e| panic!("{e}")),
        locks: Default::default(),
        registry: kolokasi::actions::builtin(),
    };
    let request = common::request_row(RequestId::new(2099, 90_702));
    let mine = RequestTag::from(&request.id);
    let fw = &env.drivers.firewalls["fw-1"];
    fw.remove(&mine, None).await.unwrap();
    let action = env.registry.get("firewall_rules").expect("registered").clone();
    let params = json!({"device": "fw-1", "address": "198.51.100.161", "services": ["tcp/443", "tcp/80", "tcp/443"], "sources": ["10.20.0.0/16", "192.0.2.7"]});
    let ctx = ActionCtx { run_id: "test-run", step: "firewall_rules", request: &request, params: &params, env: &env };
    assert_eq!(action.devices(&params), vec!["fw-1".to_string()]);

    let Outcome::Done(first) = action.run(&ctx).await.unwrap() else { panic!("not done") };
    assert_eq!(first, json!({"device": "fw-1", "address": "198.51.100.161", "rules": 3}), "two accepts and one drop");
    let Outcome::Done(second) = action.run(&ctx).await.unwrap() else { panic!("not done") };
    assert_eq!(second, first);
    let installed: Vec<_> = fw.rules().await.unwrap().into_iter().filter(|r| r.comment.request == mine).collect();
    assert_eq!(installed.len(), 3);
    let chain = request_chain(&mine, "198.51.100.161".parse().unwrap());
    assert!(installed.iter().all(|r| r.chain == chain), "the request's own chain for that address: {installed:?}");

    action.undo(&ctx, Some(&first)).await.unwrap();
    action.undo(&ctx, Some(&first)).await.unwrap();
    assert!(fw.rules().await.unwrap().iter().all(|r| r.comment.request != mine));

    // Another request's leftover for the same address (its undo skipped, the address handed
    // out again): replaced, in one transaction, when IPAM says that request no longer holds it…
    let addr: IpAddr = "198.51.100.161".parse().unwrap();
    let gone = tag("KLK-2099-90703");
    let leftover = FirewallRule::new(gone.clone(), addr, "tcp/22".parse().unwrap(), Vec::new()).unwrap();
    fw.allow(&gone, std::slice::from_ref(&leftover)).await.unwrap();
    let Outcome::Done(out) = action.run(&ctx).await.unwrap() else { panic!("not done") };
    assert_eq!(out["replaced_stale"], json!(request_chain(&gone, addr)), "{out}");
    let rules = fw.rules().await.unwrap();
    assert!(rules.iter().all(|r| r.comment.request != gone), "the leftover chain is gone: {rules:?}");
    assert_eq!(rules.iter().filter(|r| r.comment.request == mine).count(), 3);
    let audit = env.service.store.audit_for_request(request.id.as_str()).await.unwrap();
    let replaced = audit.iter().find(|a| a.action == "firewall.stale_mapping.replaced").expect("the replacement is audited");
    assert_eq!(replaced.before.as_ref().unwrap()["request"], json!(gone.as_str()), "{replaced:?}");
    action.undo(&ctx, Some(&out)).await.unwrap();
    // …and refused, naming that request, while it still holds the address.
    fw.allow(&gone, std::slice::from_ref(&leftover)).await.unwrap();
    sqlx::query(
        "INSERT INTO ip_allocations (id, pool, off, address, request_id, purpose, allocated_at, allocated_by)
         VALUES ('t-held', 'dc-v4', 161, '198.51.100.161', $1, 'server-v4', 0, 'test')",
    )
    .bind(gone.as_str())
    .execute(env.service.store.pool())
    .await
    .unwrap();
    let err = action.run(&ctx).await.unwrap_err();
    assert!(!err.is_retryable() && { let m = err.chain(); m.contains(gone.as_str()) && m.contains("198.51.100.161") }, "{err:?}");
    let rules = fw.rules().await.unwrap();
    assert!(rules.iter().all(|r| r.comment.request != mine) && rules.iter().any(|r| r.comment.request == gone));
    fw.remove(&gone, None).await.unwrap();

    let opened = env.drivers.ssh.connections_opened();
    for bad in [
        json!({"device": "fw-1", "address": "198.51.100.161", "services": ["tcp/443; nft flush ruleset"]}),
        json!({"device": "fw-1", "address": "198.51.100.161", "services": ["tcp/443"], "sources": ["$(id)"]}),
        json!({"device": "fw-1", "address": "198.51.100.161", "services": ["tcp/443"], "sources": ["2001:db8::/32"]}),
        json!({"device": "fw-1", "address": "198.51.100.161 ", "services": ["tcp/443"]}),
        json!({"device": "fw-1", "address": "198.51.100.161", "services": []}),
        json!({"device": "fw-9", "address": "198.51.100.161", "services": ["tcp/443"]}),
    ] {
        let ctx = ActionCtx { params: &bad, ..ctx };
        let err = action.run(&ctx).await.unwrap_err();
        assert!(!err.is_retryable(), "{bad}: {err:?}");
    }
    assert_eq!(env.drivers.ssh.connections_opened(), opened);
}
