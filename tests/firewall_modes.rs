//! Firewall integration modes on the lab's operator firewall klk-fw2, whose own ruleset is
//! `table inet filter` with `forward { policy drop; ct state established,related accept; jump
//! customers; tcp reject }`: `jump` and `write_into` really open a request's declared port to
//! the customer host behind it (connections from the root namespace, routed through klk-fw2)
//! and no other, undo leaves the operator's table byte for byte as it was, there is always
//! exactly one jump, and the check says `own_table` cannot work there. Needs the lab (with its
//! operator-firewall profile); fails, never skips, without it.

mod common;
#[path = "support/served.rs"]
mod served;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use kolokasi::engine::Drivers;
use kolokasi::firewall::integration::{Integration, NftComment, NftFamily, NftName, RuleAnchor};
use kolokasi::firewall::{FirewallDriver, FirewallError, FirewallRule, Nftables};
use kolokasi::lab::{Lab, OperatorFirewall};
use kolokasi::ssh::{RemoteCommand, RequestTag, SshTarget};
use serde_json::{Value, json};

fn lab() -> Lab {
    Lab::load().unwrap_or_else(|e| panic!("{e}"))
}

fn op(lab: &Lab) -> OperatorFirewall {
    lab.operator_firewall().unwrap_or_else(|e| panic!("{e}")).clone()
}

fn tag(s: &str) -> RequestTag {
    RequestTag::parse(s).unwrap()
}

/// The tests share the operator's table; they take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn connects(address: IpAddr, port: u16) -> bool {
    let to = SocketAddr::new(address, port);
    matches!(tokio::time::timeout(Duration::from_millis(700), tokio::net::TcpStream::connect(to)).await, Ok(Ok(_)))
}

/// A customer address (klk-cust answers on all of `customer_addresses`).
fn customer(op: &OperatorFirewall, n: u8) -> IpAddr {
    let net: ipnet::Ipv4Net = op.customer_addresses.parse().unwrap();
    let base = u32::from(net.network());
    IpAddr::V4(std::net::Ipv4Addr::from(base + u32::from(n)))
}

fn integration_jump(op: &OperatorFirewall) -> Integration {
    Integration::Jump {
        family: NftFamily::Inet,
        table: NftName::parse(&op.table).unwrap(),
        chain: NftName::parse(&op.base_chain).unwrap(),
        before: Some(RuleAnchor { handle: None, comment: Some(NftComment::parse(&op.before_comment).unwrap()) }),
        keep_jump: false,
    }
}

fn integration_write_into(op: &OperatorFirewall) -> Integration {
    Integration::WriteInto { family: NftFamily::Inet, table: NftName::parse(&op.table).unwrap(), chain: NftName::parse(&op.regular_chain).unwrap() }
}

struct Fw2 {
    drivers: Drivers,
    ssh: SshTarget,
    op: OperatorFirewall,
}

impl Fw2 {
    fn new() -> Self {
        let lab = lab();
        let op = op(&lab);
        let drivers = Drivers::from_lab(&lab).unwrap_or_else(|e| panic!("{e}"));
        let ssh = SshTarget::from_lab(&lab, &op.host, "fw-2").unwrap();
        Self { drivers, ssh, op }
    }

    fn driver(&self, integration: Integration) -> Nftables {
        Nftables::with_integration(self.ssh.clone(), self.drivers.ssh.clone(), integration)
    }

    async fn nft(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.drivers.ssh.exec_ok(&self.ssh, &RemoteCommand::new("nft").args(args.iter().copied()), stdin).await.unwrap();
        out.stdout
    }

    /// `nft -j list table inet filter`, as text (the operator's table).
    async fn operator_listing(&self) -> String {
        self.nft(&["-j", "list", "table", &self.op.family, &self.op.table], None).await
    }

    fn pristine(&self) -> String {
        std::fs::read_to_string(&self.op.pristine_listing_file).unwrap()
    }

    /// Rules of the base chain carrying kolokasi's jump comment.
    async fn jumps(&self) -> usize {
        let doc: Value = serde_json::from_str(&self.nft(&["-j", "list", "chain", &self.op.family, &self.op.table, &self.op.base_chain], None).await).unwrap();
        doc["nftables"].as_array().unwrap().iter().filter(|i| i["rule"]["comment"] == "kolokasi:jump").count()
    }

    /// Comments of the base chain's rules, in order.
    async fn base_chain_comments(&self) -> Vec<String> {
        let doc: Value = serde_json::from_str(&self.nft(&["-j", "list", "chain", &self.op.family, &self.op.table, &self.op.base_chain], None).await).unwrap();
        doc["nftables"].as_array().unwrap().iter().filter_map(|i| i["rule"]["comment"].as_str().map(String::from)).collect()
    }

    /// Takes away whatever an interrupted earlier run of these tests left, then insists the
    /// operator's table is as the lab built it.
    async fn start_clean(&self, tags: &[&RequestTag]) {
        for integration in [integration_jump(&self.op), integration_write_into(&self.op)] {
            let d = self.driver(integration);
            for t in tags {
                d.remove(t, None).await.unwrap();
            }
        }
        assert_eq!(self.operator_listing().await, self.pristine(), "the operator's table on klk-fw2 is not as the lab built it");
    }
}

fn rule(t: &RequestTag, d: IpAddr, service: &str) -> FirewallRule {
    FirewallRule::new(t.clone(), d, service.parse().unwrap(), Vec::new()).unwrap()
}

#[tokio::test]
async fn jump_mode_opens_exactly_the_declared_port_and_leaves_the_operators_table_as_it_was() {
    let _one = ONE_AT_A_TIME.lock().await;
    let fw = Fw2::new();
    let (a, b) = (tag("TEST-FWM-JUMP-A"), tag("TEST-FWM-JUMP-B"));
    fw.start_clean(&[&a, &b]).await;
    let (da, db) = (customer(&fw.op, 1), customer(&fw.op, 2));
    let (open, other) = (fw.op.open_port, fw.op.other_port);
    assert!(!connects(da, open).await, "the operator's default deny holds before kolokasi");

    // Two requests at once, through two drivers (as two processes would: no shared lock).
    let (one, two) = (fw.driver(integration_jump(&fw.op)), fw.driver(integration_jump(&fw.op)));
    let started = std::time::Instant::now();
    let (rules_a, rules_b) = ([rule(&a, da, &format!("tcp/{open}"))], [rule(&b, db, &format!("tcp/{other}"))]);
    let (ra, rb) = tokio::join!(one.allow(&a, &rules_a), two.allow(&b, &rules_b));
    let both = started.elapsed();
    assert_eq!((ra.unwrap().total, rb.unwrap().total), (2, 2), "an accept and a drop each");
    assert_eq!(fw.jumps().await, 1, "two requests at once, one jump");
    let comments = fw.base_chain_comments().await;
    assert_eq!(
        comments,
        ["ops: established", "ops: customer rules", "kolokasi:jump", fw.op.before_comment.as_str()],
        "the jump precedes the operator's closing reject; nothing of theirs moved"
    );
    assert!(connects(da, open).await, "a's declared port is reachable through klk-fw2");
    assert!(!connects(da, other).await, "a's other port is not");
    assert!(connects(db, other).await && !connects(db, open).await, "b has its own");

    // Re-running a change writes the same state; still one jump.
    let started = std::time::Instant::now();
    assert_eq!(one.allow(&a, &[rule(&a, da, &format!("tcp/{open}"))]).await.unwrap().total, 2);
    println!("jump mode: two requests at once {both:?}, one re-run {:?}", started.elapsed());
    assert_eq!(fw.jumps().await, 1);

    // The first removal keeps the jump (b still needs it), the last takes it away.
    assert_eq!(one.remove(&a, None).await.unwrap(), 2);
    assert_eq!(fw.jumps().await, 1);
    assert!(!connects(da, open).await && connects(db, other).await);
    assert_eq!(two.remove(&b, None).await.unwrap(), 2);
    assert!(!connects(da, open).await && !connects(db, other).await, "nothing reachable after undo");
    assert_eq!(fw.operator_listing().await, fw.pristine(), "the operator's table byte for byte as it was");
    assert_eq!(two.remove(&b, None).await.unwrap(), 0, "removing twice is harmless");
}

/// The chain, maps and jump go in one atomic batch, so no crash can split them; what can be
/// left is a state made by hand or by an older kolokasi (a dispatch chain without its jump, a
/// request chain with no address mapped to it, a copied jump). A re-run converges from each.
#[tokio::test]
async fn jump_mode_converges_after_an_interruption_and_from_duplicated_jumps() {
    let _one = ONE_AT_A_TIME.lock().await;
    let fw = Fw2::new();
    let t = tag("TEST-FWM-RESUME");
    fw.start_clean(&[&t]).await;
    let d = customer(&fw.op, 3);
    let (fam, table) = (fw.op.family.clone(), fw.op.table.clone());
    let chain = format!("kolokasi_{}", kolokasi::firewall::nftables::request_chain(&t, d));
    // Interrupted half-way: kolokasi's chains and maps in the operator's table, no jump, and the
    // request's chain without its mapping.
    let partial = json!({"nftables": [
        {"add": {"map": {"family": fam, "table": table, "name": "kolokasi_dest4", "type": "ipv4_addr", "map": "verdict"}}},
        {"add": {"map": {"family": fam, "table": table, "name": "kolokasi_dest6", "type": "ipv6_addr", "map": "verdict"}}},
        {"add": {"chain": {"family": fam, "table": table, "name": "kolokasi"}}},
        {"add": {"chain": {"family": fam, "table": table, "name": chain}}},
    ]});
    fw.nft(&["-j", "-f", "-"], Some(partial.to_string().as_bytes())).await;
    let driver = fw.driver(integration_jump(&fw.op));
    let r = [rule(&t, d, &format!("tcp/{}", fw.op.open_port))];
    driver.allow(&t, &r).await.unwrap();
    assert_eq!(fw.jumps().await, 1);
    assert!(connects(d, fw.op.open_port).await && !connects(d, fw.op.other_port).await);

    // A jump copied by hand: the next change leaves one, the operator's rules untouched.
    let copy = json!({"nftables": [{"add": {"rule": {"family": fam, "table": table, "chain": fw.op.base_chain, "comment": "kolokasi:jump",
        "expr": [{"jump": {"target": "kolokasi"}}]}}}]});
    fw.nft(&["-j", "-f", "-"], Some(copy.to_string().as_bytes())).await;
    assert_eq!(fw.jumps().await, 2);
    driver.allow(&t, &r).await.unwrap();
    assert_eq!(fw.jumps().await, 1);
    assert!(connects(d, fw.op.open_port).await);

    driver.remove(&t, None).await.unwrap();
    assert_eq!(fw.operator_listing().await, fw.pristine());
}

#[tokio::test]
async fn write_into_mode_opens_exactly_the_declared_port_and_undo_removes_exactly_its_rules() {
    let _one = ONE_AT_A_TIME.lock().await;
    let fw = Fw2::new();
    let (mine, thief) = (tag("TEST-FWM-WRITE"), tag("TEST-FWM-WRITE-THIEF"));
    fw.start_clean(&[&mine, &thief]).await;
    let d = customer(&fw.op, 4);
    let driver = fw.driver(integration_write_into(&fw.op));
    let r = [rule(&mine, d, &format!("tcp/{}", fw.op.open_port))];
    assert_eq!(driver.allow(&mine, &r).await.unwrap().total, 2);
    assert!(connects(d, fw.op.open_port).await && !connects(d, fw.op.other_port).await);
    assert_eq!(driver.allow(&mine, &r).await.unwrap().total, 2, "a re-run");
    assert_eq!(driver.rules().await.unwrap().len(), 2, "a re-run replaces, never duplicates");
    assert_eq!(fw.jumps().await, 0, "write_into adds no jump");

    let err = driver.allow(&thief, &[rule(&thief, d, "tcp/22")]).await.unwrap_err();
    assert!(matches!(&err, FirewallError::AddressTaken { owner: Some(o), .. } if *o == mine), "{err:?}");
    assert_eq!(driver.remove(&thief, None).await.unwrap(), 0);
    assert!(connects(d, fw.op.open_port).await);

    assert_eq!(driver.remove(&mine, None).await.unwrap(), 2);
    assert!(!connects(d, fw.op.open_port).await);
    assert_eq!(fw.operator_listing().await, fw.pristine(), "the operator's table byte for byte as it was");
}

#[tokio::test]
async fn the_check_says_own_table_cannot_work_behind_the_operators_default_deny() {
    let _one = ONE_AT_A_TIME.lock().await;
    let fw = Fw2::new();
    let own = FirewallDriver::Nftables(fw.driver(Integration::OwnTable)).check().await.unwrap();
    assert!(!own.works, "{own:?}");
    let problem = own.findings.iter().find(|f| f.level == kolokasi::firewall::doctor::Level::Problem).unwrap();
    assert!(problem.message.contains("inet filter forward") && problem.message.contains("drops by policy") && problem.message.contains("unreachable"), "{problem:?}");
    assert!(problem.pesan.contains("tidak dapat dijangkau"), "{problem:?}");
    for integration in [integration_jump(&fw.op), integration_write_into(&fw.op)] {
        let d = fw.driver(integration).check().await.unwrap();
        assert!(d.works, "{d:?}");
        assert!(d.base_chains.iter().any(|c| c.name == "forward" && c.hook == "forward" && c.policy == "drop"), "{d:?}");
    }
    // klk-fw has no default-deny chain: its own table works.
    let fw1 = Arc::clone(&fw.drivers.firewalls["fw-1"]);
    assert!(fw1.check().await.unwrap().works);
}

/// A site as many provincial DCs are: IPv4 only (no dc-v6 pool), its servers behind the
/// operator's default-deny firewall (fw-2, jump mode). The stock colocation playbook runs
/// unchanged: address-v6 is "not applicable" (in the plan, the run status and its output), DNS
/// has no AAAA, the customer's declared port is reachable through klk-fw2 and another is not;
/// decommissioning closes it and leaves the operator's table as it was. (The dual-stack site is
/// tests/engine.rs on the same playbook.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv4_only_site_behind_the_operators_firewall_provisions_end_to_end() {
    use kolokasi::domain::HardwareReceipt;
    use kolokasi::engine::{Engine, RunStatus, StepStatus};
    use kolokasi::service::Command;
    let _one = ONE_AT_A_TIME.lock().await;
    let _dns = common::lab_dns_lock().await;
    let fw = Fw2::new();
    assert_eq!(fw.operator_listing().await, fw.pristine(), "the operator's table on klk-fw2 is not as the lab built it");
    common::reset_lab_port("r1p6");
    let mut inventory = kolokasi::capacity::Inventory::example();
    inventory.sites[0].firewall = Some("fw-2".into());
    let pool = format!(
        "{{ name: dc-v4, noc: NOC-SMD, vlan: 120, cidr: {}, gateway: {}, reserved: [198.51.100.98-198.51.100.103], excluded: [198.51.100.96] }}",
        fw.op.customer_net, fw.op.customer_gateway
    );
    inventory.ip_pools = vec![serde_yaml_ng::from_str(&pool).unwrap()];
    let db = common::fresh_db(common::Db::Sqlite).await;
    let engine = common::lab_engine(common::service_with(&db, inventory).await);
    let svc = engine.service().clone();

    let id = common::approved_request(&svc, common::sample_form()).await;
    svc.apply(&common::operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let receipt = HardwareReceipt { serial_number: common::text("SN-4"), type_brand: common::text("Dell R650"), switch_port: Some(common::text("r1p6")), host_key: None };
    svc.apply(&common::inspector(), &id, Command::HardwareReceived { receipt, reason: None }).await.unwrap();
    let run = Engine::run_id(id.as_str(), "colocation");

    let plan = engine.plan(&id, &run).await.unwrap();
    let step = |name: &str| plan.iter().find(|(s, _)| s == name).map(|(_, p)| p.clone()).unwrap();
    assert!(step("address-v6").starts_with("not applicable"), "{plan:?}");
    assert!(step("firewall").contains("jump kolokasi") && step("firewall").contains("ops: refuse the rest"), "{plan:?}");

    let view = engine.drive(&run, &|_| {}).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    let v6 = view.steps.iter().find(|s| s.name == "address-v6").unwrap();
    assert_eq!(v6.status, StepStatus::Succeeded);
    let out = v6.output.as_ref().unwrap();
    assert!(out["address"].is_null() && out["not_applicable"].as_str().unwrap().contains("dc-v6"), "{out}");
    let address: IpAddr = view.output_of("address-v4").unwrap()["address"].as_str().unwrap().parse().unwrap();
    assert!(fw.op.customer_addresses.parse::<ipnet::IpNet>().unwrap().contains(&address), "{address}");
    let dns = view.output_of("dns").unwrap().to_string();
    assert!(!dns.contains("AAAA") && dns.contains(&address.to_string()), "{dns}");
    // Declared tcp/80 and tcp/443; the customer host listens on 80 and 8080.
    assert!(connects(address, fw.op.open_port).await, "the declared port is reachable through klk-fw2");
    assert!(!connects(address, fw.op.other_port).await, "an undeclared port is not");
    assert_eq!(fw.jumps().await, 1);

    let revocation = kolokasi::domain::Revocation { reasons: vec![common::text("aplikasi ditutup")], effective: None, approved_by: None };
    svc.apply(&common::requester(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&common::head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = engine.drive(&Engine::run_id(id.as_str(), "decommission"), &|_| {}).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    assert!(!connects(address, fw.op.open_port).await, "nothing reachable after decommissioning");
    assert_eq!(fw.operator_listing().await, fw.pristine(), "the operator's table byte for byte as it was");
}

/// An inventory with klk-fw2 twice: `fw-own` in `own_table` mode (cannot work behind the
/// operator's default deny) and `fw-jump` in `jump` mode; its SSH key sealed in the store at
/// `db` (with the test master key).
fn own_and_jump_inventory(lab: &Lab, dir: &std::path::Path, db: &str) {
    let op = op(lab);
    let host_key = &lab.host(&op.host).unwrap().host_key;
    let address = &lab.host(&op.host).unwrap().address;
    let example = include_str!("../deploy/examples/datacenter.yaml");
    let mut inventory = example.split("# Devices kolokasi drives").next().unwrap().to_string();
    inventory.push_str(&format!(
        "devices:\n  - {{ name: fw-own, kind: nftables, address: \"{address}:22\", user: root, host_key: \"{host_key}\", secret: fw-ssh }}\n  \
         - {{ name: fw-jump, kind: nftables, address: \"{address}:22\", user: root, host_key: \"{host_key}\", secret: fw-ssh,\n      \
         integration: {{ mode: jump, family: inet, table: filter, chain: forward, before: {{ comment: \"{}\" }} }} }}\n",
        op.before_comment
    ));
    std::fs::write(dir.join("inv.yaml"), inventory).unwrap();
    let key = std::fs::read(&lab.ssh.private_key_file).unwrap();
    let set = kolokasi(dir, db, &["--actor", "admin.tik", "--role", "admin", "secret", "set", "fw-ssh", "--kind", "ssh-key", "--stdin"], Some(&key));
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
}

/// The CLI as a fresh process on the inventory in `dir` and the store at `db`.
fn kolokasi(dir: &std::path::Path, db: &str, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kolokasi"))
        .args(args)
        .env("KOLOKASI_DATABASE_URL", db)
        .env("KOLOKASI_INVENTORY_FILE", dir.join("inv.yaml"))
        .env("KOLOKASI_MASTER_KEY", served::MASTER_KEY)
        .env_remove("KOLOKASI_USE_LAB")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.unwrap_or_default()).unwrap();
    child.wait_with_output().unwrap()
}

/// `kolokasi datacenter check` through a real inventory (devices with secrets from the sealed
/// store): klk-fw2 configured as `own_table` is refused with exit status 1 and a message naming
/// the dropping chain; the same firewall in `jump` mode can work. Also `--json`.
#[test]
fn the_datacenter_check_command_refuses_own_table_on_the_operators_firewall() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/k.db", dir.path().display());
    own_and_jump_inventory(&lab, dir.path(), &db);
    let check = kolokasi(dir.path(), &db, &["datacenter", "check"], None);
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{text}");
    assert!(text.contains("fw-own (mode own_table): CANNOT WORK") && text.contains("fw-jump (mode jump): can work"), "{text}");
    assert!(text.contains("PROBLEM base chain inet filter forward (hook forward, priority 0) drops by policy"), "{text}");
    let json = kolokasi(dir.path(), &db, &["--json", "datacenter", "check"], None);
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["works"], json!(false));
    let own = doc["firewalls"].as_array().unwrap().iter().find(|f| f["device"] == "fw-own").unwrap();
    assert!(own["findings"][0]["pesan"].as_str().unwrap().contains("policy drop"), "{own}");
}

/// The same check under `serve`, as an operator sees it: the console page (in Indonesian, the
/// default) says fw-own cannot work and why; the REST API gives the same report; a requester
/// may see neither.
#[tokio::test]
async fn the_console_and_the_api_show_the_datacenter_check_in_indonesian() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/k.db", dir.path().display());
    own_and_jump_inventory(&lab, dir.path(), &db);
    let inv = dir.path().join("inv.yaml");
    let served = served::serve(&db, &[("KOLOKASI_USE_LAB", "0"), ("KOLOKASI_INVENTORY_FILE", inv.to_str().unwrap())]).await;
    let inventory = kolokasi::capacity::Inventory::load(&inv).unwrap();
    let svc = common::service_with(&common::TestDb::existing(&db), inventory).await;
    let operator = common::api_token(&svc, "pengelola", kolokasi::lifecycle::Role::Operator).await;
    let requester = common::api_token(&svc, "budi", kolokasi::lifecycle::Role::Requester).await;

    let report = served.get(&operator, "/api/v1/datacenter/check").await;
    assert_eq!(report["works"], json!(false), "{report}");
    let own = report["firewalls"].as_array().unwrap().iter().find(|f| f["device"] == "fw-own").unwrap();
    assert_eq!(own["works"], json!(false));
    let status = served.http.get(format!("{}/api/v1/datacenter/check", served.base)).bearer_auth(&requester).send().await.unwrap().status();
    assert_eq!(status, 403);

    let password = kolokasi::secrets::Secret::new("sandi-operator-2026");
    let root = kolokasi::lifecycle::Actor::new("root", kolokasi::lifecycle::Role::Admin).unwrap();
    let user = kolokasi::service::NewUser { username: "op.console".into(), display_name: "Operator".into(), role: kolokasi::lifecycle::Role::Operator, unit: None, password: Some(password.clone()) };
    svc.create_user(&root, user).await.unwrap();
    let session = svc.console_sign_in("op.console", &password, "127.0.0.1", time::Duration::hours(1)).await.unwrap();
    let cookie = format!("kolokasi_session={}", session.token.expose());
    let racks = served.http.get(format!("{}/racks", served.base)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(racks.contains("href=\"/datacenter/check\""), "the racks page links to the check");
    let page = served.http.get(format!("{}/datacenter/check", served.base)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let fw_own = &page[page.find("id=\"fw-fw-own\"").expect("fw-own's section")..];
    let fw_own = &fw_own[..fw_own.find("</section>").unwrap()];
    assert!(fw_own.contains("TIDAK DAPAT BEKERJA") && fw_own.contains("masalah"), "{fw_own}");
    assert!(fw_own.contains("policy drop"), "the finding in Indonesian names the dropping chain: {fw_own}");
    let fw_jump = &page[page.find("id=\"fw-fw-jump\"").expect("fw-jump's section")..];
    assert!(fw_jump[..fw_jump.find("</section>").unwrap()].contains("dapat bekerja"));
    assert!(page.contains("Ada firewall yang tidak dapat bekerja"), "{page}");
}
