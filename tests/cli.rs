//! The `kolokasi` binary as an operator uses it: exit codes, tables, `--json`, and the host
//! admin password absent from every output even at trace logging.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::CANARY;

struct Kolokasi {
    dir: tempfile::TempDir,
}

impl Kolokasi {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kolokasi"))
            .args(args)
            .env("KOLOKASI_DATABASE_URL", format!("sqlite://{}/k.db", self.dir.path().display()))
            .env("KOLOKASI_LOG", "trace")
            .env_remove("KOLOKASI_MASTER_KEY")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args, None);
        assert_eq!(code, 0, "kolokasi {args:?} failed:\n{out}\n{err}");
        assert!(!out.contains(CANARY) && !err.contains(CANARY), "password leaked by {args:?}");
        out
    }
}

#[test]
fn a_request_walks_through_the_cli_and_the_password_never_shows() {
    let k = Kolokasi::new();
    let out = k.ok(&["request", "submit", "deploy/examples/colocation-request.yaml", "--actor", "budi", "--role", "requester", "--unit", "Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur", "--json"]);
    let id = serde_json::from_str::<serde_json::Value>(&out).unwrap()["id"].as_str().unwrap().to_string();
    assert!(k.dir.path().join("k.key").exists(), "a new embedded store gets its own key file");
    k.ok(&["request", "verify", &id, "--actor", "admin.tik", "--role", "admin", "--reason", "lengkap"]);
    let out = k.ok(&["capacity", "check", &id, "--actor", "pengelola", "--role", "operator"]);
    assert!(out.contains("R01 U5"), "{out}");
    k.ok(&["request", "complete-form", &id, "--actor", "budi", "--role", "requester", "--unit", "Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur"]);
    let (code, out, err) = k.run(
        &["request", "approve", &id, "--actor", "admin.tik", "--role", "admin", "--reason", "ok", "--host-admin-user", "root", "--host-admin-password-stdin"],
        Some(&format!("{CANARY}\n")),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(CANARY) && !err.contains(CANARY));
    let out = k.ok(&["request", "show", &id]);
    assert!(out.contains("Letak Server") && out.contains("R01 U5"), "{out}");
    let out = k.ok(&["request", "show", &id, "--json"]);
    assert!(out.contains("[redacted]"));

    // The host admin's SSH key: attached by an operator, shown as type and fingerprint only.
    let key_file = k.dir.path().join("id_ed25519");
    assert!(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key_file).status().unwrap().success());
    let pem = std::fs::read_to_string(&key_file).unwrap();
    let keygen = String::from_utf8(Command::new("ssh-keygen").arg("-lf").arg(&key_file).output().unwrap().stdout).unwrap();
    let fingerprint = keygen.split_whitespace().nth(1).unwrap().to_string();
    let key_path = key_file.to_str().unwrap();
    let out = k.ok(&["request", "attach-key", &id, "--file", key_path, "--actor", "pengelola", "--role", "operator"]);
    assert!(out.contains(&fingerprint) && out.contains("ssh-ed25519"), "{out}");
    let shown = k.ok(&["request", "show", &id]) + &k.ok(&["request", "show", &id, "--json"]) + &k.ok(&["audit", "show", "--request", &id, "--json"]);
    assert!(shown.contains(&format!("Kunci SSH admin  : ssh-ed25519 {fingerprint}")), "{shown}");
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!shown.contains(line), "a private key line is shown");
    }
    let (code, _, err) = k.run(&["request", "attach-key", &id, "--file", key_path, "--actor", "budi", "--role", "requester", "--unit", "Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur"], None);
    assert_ne!(code, 0);
    assert!(err.contains("operator or admin") && !err.contains(pem.lines().nth(1).unwrap()), "{err}");
    k.ok(&["audit", "show", "--request", &id]);
    k.ok(&["audit", "show", "--request", &id, "--json"]);
    let out = k.ok(&["request", "list"]);
    assert!(out.contains(&id) && out.contains("approved"), "{out}");
    let out = k.ok(&["audit", "verify"]);
    assert!(out.contains("intact"));
    k.ok(&["datacenter", "show"]);

    // Reads of the data center's state and run control are role-checked locally as over the
    // API: the default local reader (auditor) may read; a requester may not.
    k.ok(&["ipam", "pools"]);
    k.ok(&["ipam", "history"]);
    k.ok(&["run", "status", &id]);
    let unit = "Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur";
    for args in [&["ipam", "pools"][..], &["ipam", "history"], &["run", "plan", &id], &["run", "start", &id], &["run", "resume"]] {
        let args = [args, &["--actor", "budi", "--role", "requester", "--unit", unit]].concat();
        let (code, out, err) = k.run(&args, None);
        assert_ne!(code, 0, "{args:?} as a requester: {out}");
        assert!(err.contains("needs one of the roles"), "{args:?}: {err}");
    }
    let (code, _, err) = k.run(&["run", "status", &id, "--actor", "x", "--role", "requester", "--unit", "Dinas Kesehatan"], None);
    assert_ne!(code, 0);
    assert!(err.contains("not found"), "another unit's request does not exist for them: {err}");
}

#[test]
fn bad_input_gives_a_clear_error_and_a_nonzero_exit() {
    let k = Kolokasi::new();
    let bad = k.dir.path().join("bad.yaml");
    std::fs::write(&bad, include_str!("../deploy/examples/colocation-request.yaml").replace("198503152010011002", "1985")).unwrap();
    let (code, _, err) = k.run(&["request", "submit", bad.to_str().unwrap(), "--actor", "budi", "--role", "requester", "--unit", "Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur"], None);
    assert_eq!(code, 1);
    assert!(err.contains("NIP must be exactly 18 digits"), "{err}");
    let (code, _, err) = k.run(&["request", "submit", "deploy/examples/colocation-request.yaml"], None);
    assert_eq!(code, 1);
    assert!(err.contains("--actor NAME --role ROLE"), "{err}");
    let (code, _, err) = k.run(&["request", "verify", "KLK-2026-00001", "--actor", "a", "--role", "king"], None);
    assert_ne!(code, 0);
    assert!(err.contains("unknown role"), "{err}");
    let (code, _, err) = k.run(&["request", "show", "KLK-2026-00009"], None);
    assert_eq!(code, 1);
    assert!(err.contains("request KLK-2026-00009 not found"), "{err}");
    let args = ["request", "hardware", "KLK-2026-00001", "--serial", "SN1", "--type-brand", "Dell", "--host-key", "ssh-ed25519 not;a-key", "--actor", "i", "--role", "inspector"];
    let (code, _, err) = k.run(&args, None);
    assert_eq!(code, 1);
    assert!(err.contains("--host-key") && err.contains("is not an SSH public key"), "{err}");
    let (code, _, err) = k.run(&["request", "list", "--state", "bogus"], None);
    assert_eq!(code, 1);
    assert!(err.contains("unknown state"), "{err}");
}

#[test]
fn the_demo_walks_the_whole_sop() {
    let k = Kolokasi::new();
    let out = k.ok(&["demo", "--no-lab", "--dir", k.dir.path().join("demo").to_str().unwrap()]);
    // Without the lab there is no device work, so handover and going live (run outcomes) do not happen.
    assert!(out.contains("7. perangkat diterima") && out.contains("follow the provisioning run on real devices"), "{out}");
    assert!(out.contains("rows intact"), "{out}");
}

/// The README's demo: the sample request provisioned for real on the lab (addresses, DNS, switch
/// port, firewall, inspection of srv-sipd). Fails with the lab's start instructions without it.
#[test]
fn the_demo_provisions_on_the_lab() {
    let k = Kolokasi::new();
    let (code, out, err) = k.run(&["demo", "--dir", k.dir.path().join("lab-demo").to_str().unwrap()], None);
    assert_eq!(code, 0, "{out}{err}");
    for step in ["address-v4", "dns", "hardware", "switch", "firewall", "inspect"] {
        assert!(out.contains(&"✔ [".to_string()) && out.contains(step), "step {step} missing:\n{out}");
    }
    assert!(out.contains("succeeded) → Aktif"), "{out}");
}

/// A secret given as an argument is refused before anything runs, naming the safe way and never
/// echoing the value; so is a database URL with a password. (Arguments are visible to every user
/// of the machine in `ps`.)
#[test]
fn secrets_on_the_command_line_are_refused_without_echo() {
    let canary = "CANARY-hunter2-secret";
    for args in [
        vec!["request", "approve", "KLK-2026-00001", "--host-admin-password", canary],
        vec!["request", "approve", "KLK-2026-00001", &format!("--host-admin-password={canary}")],
        vec!["user", "add", "budi", "--new-role", "operator", "--password", canary],
        vec!["--token", canary, "request", "list"],
        vec!["--master-key", canary, "request", "list"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kolokasi")).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("refusing --") && err.contains("visible to every user") && err.contains("use "), "{err}");
        assert!(!err.contains("hunter2") && out.stdout.is_empty(), "the value is never echoed: {err}");
    }
    let url = "postgres://kolokasi:CANARY-hunter2@127.0.0.1:5432/kolokasi";
    for args in [vec!["--database-url", url, "request", "list"], vec![&format!("--database-url={url}"), "request", "list"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kolokasi")).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("KOLOKASI_DATABASE_URL") && !err.contains("hunter2"), "{err}");
    }
    // Without a password the URL is fine (it fails later, for its own reasons, not this one).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kolokasi")).args(["--database-url", "sqlite:///nonexistent-dir/x.db", "request", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("refusing"));
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Files that hold secrets are the owner's alone: backups (logical and SQLite copy, and their
/// manifests) and a document printed with the host admin's password are written 0600; a master
/// key file that others may read stops kolokasi with the fix to apply.
#[test]
fn secret_bearing_files_are_private_and_an_open_master_key_is_refused() {
    let k = Kolokasi::new();
    k.ok(&["request", "list"]);
    let key = k.dir.path().join("k.key");
    assert_eq!(mode(&key), 0o600);
    let backup = k.dir.path().join("store.backup");
    k.ok(&["backup", "-o", backup.to_str().unwrap(), "--actor", "admin.tik", "--role", "admin"]);
    assert_eq!(mode(&backup), 0o600, "logical backup");
    let copy = k.dir.path().join("store-copy.db");
    k.ok(&["backup", "--sqlite-copy", "-o", copy.to_str().unwrap(), "--actor", "admin.tik", "--role", "admin"]);
    assert_eq!(mode(&copy), 0o600, "SQLite copy");
    let manifest = k.dir.path().join("store-copy.db.manifest.json");
    assert_eq!(mode(&manifest), 0o600, "its manifest");

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = k.run(&["request", "list"], None);
    assert_ne!(code, 0);
    assert!(err.contains("readable or writable by others") && err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    k.ok(&["request", "list"]);
}
