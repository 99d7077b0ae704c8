//! The Ansible side of the benchmark (`bench/ansible/`) stays well-formed without installing
//! Ansible: its playbooks parse as YAML plays that use `ansible.builtin` modules only (no
//! collections), each provisioning play has its undo, and kolokasi's bench inventory loads and
//! names devices the lab provides.

mod common;

use serde_yaml_ng::Value;

fn plays(file: &str) -> Vec<Value> {
    let path = format!("{}/bench/ansible/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
    doc.as_sequence().unwrap_or_else(|| panic!("{path}: a playbook is a list of plays")).clone()
}

/// The modules a play's tasks call (the task keys other than the task keywords).
fn modules(play: &Value) -> Vec<String> {
    const KEYWORDS: [&str; 8] = ["name", "register", "changed_when", "failed_when", "when", "vars", "loop", "ignore_errors"];
    let tasks = play["tasks"].as_sequence().expect("a play has tasks");
    tasks
        .iter()
        .flat_map(|t| t.as_mapping().expect("a task is a mapping").keys().filter_map(Value::as_str).filter(|k| !KEYWORDS.contains(k)).map(str::to_string))
        .collect()
}

fn hosts(plays: &[Value]) -> Vec<String> {
    let mut h: Vec<String> = plays.iter().map(|p| p["hosts"].as_str().expect("a play names its hosts").to_string()).collect();
    h.sort();
    h
}

#[test]
fn the_playbooks_parse_and_use_only_builtin_modules() {
    let provision = plays("provision.yml");
    let decommission = plays("decommission.yml");
    for play in provision.iter().chain(&decommission) {
        for module in modules(play) {
            assert!(module.starts_with("ansible.builtin."), "{module}: the benchmark needs no collections");
        }
    }
    assert_eq!(hosts(&provision), ["fw", "localhost", "srv", "sw"]);
    // Everything provisioning changes is undone (the inspection changes nothing).
    assert_eq!(hosts(&decommission), ["fw", "localhost", "sw"]);
    let inspect = provision.iter().find(|p| p["hosts"].as_str() == Some("srv")).unwrap();
    let used = modules(inspect);
    assert!(used.iter().any(|m| m == "ansible.builtin.setup") && used.iter().any(|m| m == "ansible.builtin.package_facts"), "{used:?}");
}

#[test]
fn the_bench_inventory_loads_and_names_the_stock_sshd_devices_of_the_lab() {
    let path = format!("{}/bench/ansible/datacenter-bench.yaml", env!("CARGO_MANIFEST_DIR"));
    let inventory = kolokasi::capacity::Inventory::load(std::path::Path::new(&path)).unwrap();
    let site = &inventory.sites[0];
    let drivers = common::lab_drivers();
    let firewall = site.firewall.as_deref().unwrap();
    assert!(drivers.firewalls.contains_key(firewall), "the lab has no firewall {firewall}");
    for rack in &site.racks {
        let switch = rack.switch.as_deref().unwrap();
        assert!(drivers.switches.contains_key(switch), "the lab has no switch {switch}");
    }
    assert_eq!((firewall, site.racks[0].switch.as_deref()), ("fw-1-stock", Some("sw-r01-stock")));
}

#[test]
fn the_bench_scripts_pass_bash_syntax_check() {
    for script in ["setup.sh", "run.sh", "floor.sh"] {
        let path = format!("{}/bench/ansible/{script}", env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("bash").args(["-n", &path]).output().expect("bash");
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
