//! The hosting playbook (`playbooks/hosting.yaml`): the application's Kubernetes objects on a
//! protocol-level fake of the API server (`support/kube_fake.rs`; no API server can run on
//! this machine) and its DNS name on the lab's real BIND9, with the generic properties of
//! every action: each step re-run gives the same state, a failure at each step then unwind
//! leaves nothing, decommissioning removes everything; plus ownership, hostile names, a slow
//! namespace deletion and an unreachable cluster. Needs the lab (DNS) and PostgreSQL.

mod common;
#[path = "support/faults.rs"]
mod faults;
#[path = "support/kube_fake.rs"]
mod kube_fake;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use faults::Faults;
use kolokasi::capacity::Inventory;
use kolokasi::dns::RecordKind;
use kolokasi::domain::{RequestForm, RequestId};
use kolokasi::engine::{ActionCtx, Drivers, Engine, Env, Outcome, RunStatus, StepStatus};
use kolokasi::hosting::{Cluster, KubernetesPlatform};
use kolokasi::lifecycle::State;
use kolokasi::service::{Command, DocFormat, DocumentKind, Lang, Service};
use kube_fake::KubeFake;
use serde_json::{Value, json};

on_both_databases!(
    every_step_twice_gives_the_same_state,
    failure_at_each_step_then_unwind_leaves_nothing,
    decommissioning_removes_everything,
);

const REQUEST_LABEL: &str = "kolokasi.diskominfo.kaltimprov.go.id/request";

/// The example inventory's cluster settings, pointed at the fake.
fn platform(fake: &KubeFake) -> KubernetesPlatform {
    let mut p = Inventory::example()
        .hosting_platform
        .unwrap()
        .kubernetes
        .expect("the example inventory has a kubernetes section");
    p.kubeconfig = Some(fake.kubeconfig());
    p.context = Some("fake".into());
    p.namespace_wait_seconds = 10;
    p
}

fn cluster(p: &KubernetesPlatform) -> Option<Arc<Cluster>> {
    Some(Arc::new(Cluster::new(p).unwrap()))
}

/// The context of the `kubernetes` step of run "t", for calling the action directly.
fn kube_ctx<'a>(request: &'a kolokasi::store::RequestRow, params: &'a Value, env: &'a Env) -> ActionCtx<'a> {
    ActionCtx { run_id: "t", step: "kubernetes", request, params, env }
}

/// The example hosting request with a domain of its own, filed by the test requester's unit.
fn hosting_request() -> RequestForm {
    let mut f = hosting_form();
    let sample = sample_form();
    (f.domain, f.unit) = (sample.domain, sample.unit);
    f
}

const UNIT_LABEL: &str = "dinas-pendidikan-dan-kebudayaan-provinsi-kalimantan-timur";

struct Harness {
    engine: Engine,
    fake: KubeFake,
    faults: Faults,
    _db: TestDb,
}

async fn harness(db: Db) -> Harness {
    harness_with(db, |_| {}).await
}

/// [`harness`] with the cluster's settings changed by `tweak`.
async fn harness_with(db: Db, tweak: impl Fn(&mut KubernetesPlatform)) -> Harness {
    let fake = KubeFake::start().await;
    let db = fresh_db(db).await;
    let svc = service(&db).await;
    let faults = Faults::default();
    let registry = faults.registry();
    let playbooks = Engine::load_playbooks(Some(std::path::Path::new("playbooks")), &registry).unwrap();
    let mut drivers = lab_drivers();
    let mut p = platform(&fake);
    tweak(&mut p);
    drivers.kubernetes = cluster(&p);
    let mut engine = Engine::new(svc, drivers, registry, playbooks).unwrap();
    engine.retry.base = Duration::from_millis(5);
    Harness {
        engine,
        fake,
        faults,
        _db: db,
    }
}

fn quiet(_: &kolokasi::engine::Progress) {}

/// An approved hosting request with its provisioning run created.
async fn provisioning_request(svc: &Service) -> (RequestId, String) {
    let id = approved_request(svc, hosting_request()).await;
    svc.apply(&operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap();
    let run = Engine::run_id(id.as_str(), "hosting");
    (id, run)
}

/// Everything hosting changes outside the run log: the request's objects in the cluster (whole,
/// with uid and resourceVersion), anything left in its namespace, its DNS records as BIND
/// answers them, and active addresses.
async fn world(h: &Harness, id: &RequestId) -> Value {
    let svc = h.engine.service();
    let row = svc.store.request(id).await.unwrap();
    let namespace = format!("{}-{}", id.as_str().to_ascii_lowercase(), row.form.servers[0].name);
    let mut ours = serde_json::Map::new();
    let mut in_namespace = 0;
    for ((gv, plural, ns, name), object) in h.fake.objects() {
        if object["metadata"]["labels"][REQUEST_LABEL] == json!(id.as_str()) {
            ours.insert(format!("{gv}/{plural}/{ns}/{name}"), object);
        }
        if ns == namespace || (plural == "namespaces" && name == namespace) {
            in_namespace += 1;
        }
    }
    let dns = &h.engine.env.drivers.dns["bind"].provider;
    let addresses = svc
        .store
        .allocations(Some(id.as_str()), None, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.released_at.is_none())
        .count();
    json!({
        "kube": ours,
        "in_namespace": in_namespace,
        "a": dns.read(&row.form.domain, RecordKind::A).await.unwrap(),
        "aaaa": dns.read(&row.form.domain, RecordKind::Aaaa).await.unwrap(),
        "addresses": addresses,
    })
}

fn nothing(w: &Value) -> bool {
    w["kube"].as_object().unwrap().is_empty()
        && w["in_namespace"] == json!(0)
        && w["a"].as_array().unwrap().is_empty()
        && w["aaaa"].as_array().unwrap().is_empty()
        && w["addresses"] == json!(0)
}

async fn every_step_twice_gives_the_same_state(db: Db) {
    let h = harness(db).await;
    let svc = h.engine.service().clone();
    let (id, run) = provisioning_request(&svc).await;
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    assert_eq!(svc.store.request(&id).await.unwrap().state, State::Active);

    let clean = world(&h, &id).await;
    let ns = format!("{}-app-pajak", id.as_str().to_ascii_lowercase());
    let kube = clean["kube"].as_object().unwrap();
    let mut kinds: Vec<&str> = kube.values().map(|o| o["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "Ingress",
            "LimitRange",
            "Namespace",
            "NetworkPolicy",
            "NetworkPolicy",
            "ResourceQuota",
            "RoleBinding"
        ],
        "{clean}"
    );
    assert_eq!(clean["in_namespace"], json!(7));
    let namespace = &kube[&format!("v1/namespaces//{ns}")];
    assert_eq!(namespace["metadata"]["labels"]["kolokasi.diskominfo.kaltimprov.go.id/unit"], json!(UNIT_LABEL));
    assert_eq!(
        namespace["metadata"]["annotations"]["kolokasi.diskominfo.kaltimprov.go.id/unit-name"],
        json!("Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur")
    );
    let quota = &kube[&format!("v1/resourcequotas/{ns}/kolokasi-quota")];
    assert_eq!(quota["spec"]["hard"]["limits.memory"], json!("8Gi"));
    let ingress = &kube[&format!("networking.k8s.io/v1/ingresses/{ns}/kolokasi-ingress")];
    let domain = svc.store.request(&id).await.unwrap().form.domain;
    assert_eq!(ingress["spec"]["rules"][0]["host"], json!(domain.as_str()));
    assert_eq!(ingress["spec"]["ingressClassName"], json!("nginx"));
    assert_eq!(ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"], json!("letsencrypt-prod"));
    let binding = &kube[&format!("rbac.authorization.k8s.io/v1/rolebindings/{ns}/kolokasi-deploy")];
    assert_eq!(binding["subjects"][0]["name"], json!(format!("opd:{UNIT_LABEL}")));
    assert_eq!(binding["roleRef"]["name"], json!("edit"));
    assert_eq!(
        (clean["a"].clone(), clean["aaaa"].clone()),
        (json!(["198.51.100.135"]), json!(["2001:db8:1ab::80"])),
        "DNS points at the ingress"
    );
    assert_eq!(clean["addresses"], json!(0));
    // The Berita Acara of a hosted application names what the platform gave it (namespace,
    // objects, ingress, the quota per application), not a server's hardware.
    for lang in [Lang::Id, Lang::En] {
        let bast = svc.render_document(&admin(), &id, DocumentKind::BeritaAcara, DocFormat::Html, lang, false).await.unwrap();
        let html = String::from_utf8(bast.bytes).unwrap();
        assert!(html.contains(&ns) && html.contains("Kubernetes") && html.contains("ResourceQuota"), "{html}");
        assert!(html.contains("198.51.100.135") && html.contains("tcp&#x2f;443"), "{html}"); // '/' is escaped
        assert!(html.contains("hosting aplikasi sebagai berikut") || html.contains("for application hosting"), "{html}");
        assert!(!html.contains("Server belum diperiksa") && !html.contains("has not been inspected"), "{html}");
    }
    let pdf = svc.render_document(&admin(), &id, DocumentKind::BeritaAcara, DocFormat::Pdf, Lang::Id, false).await.unwrap();
    let text = pdf_text(&pdf.bytes).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("hosting aplikasi sebagai berikut") && text.contains("Alamat Ingress") && text.contains("tcp/443"), "{text}");
    let deny = &kube[&format!("networking.k8s.io/v1/networkpolicies/{ns}/kolokasi-default-deny")];
    assert_eq!(deny["spec"], json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
    // Every write was a server-side apply by kolokasi, forced.
    let patches: Vec<_> = h.fake.calls().into_iter().filter(|c| c.method == "PATCH").collect();
    assert_eq!(patches.len(), 7);
    for c in &patches {
        assert_eq!(c.content_type.as_deref(), Some("application/apply-patch+yaml"), "{c:?}");
        assert_eq!(
            (c.query.get("fieldManager").map(String::as_str), c.query.get("force").map(String::as_str)),
            (Some("kolokasi"), Some("true"))
        );
    }

    let (pb, _) = h.engine.view(&run).await.unwrap();
    for step in &pb.steps {
        h.engine.retry(&operator(), &run, Some(&step.name), "re-run for the test").await.unwrap();
        let view = h.engine.drive(&run, &quiet).await.unwrap();
        assert_eq!(view.status, RunStatus::Succeeded, "after re-running {}", step.name);
        assert_eq!(
            world(&h, &id).await,
            clean,
            "re-running {} changed the world (uids and resourceVersions included)",
            step.name
        );
    }
    // A live application is taken down by its Form Pencabutan, not by unwinding its run.
    assert!(h.engine.unwind(&operator(), &run, "clean up").await.is_err());
    let svc = h.engine.service();
    let revocation = kolokasi::domain::Revocation { reasons: vec![common::text("uji selesai")], effective: None, approved_by: None };
    svc.apply(&admin(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = h.engine.drive(&Engine::run_id(id.as_str(), "decommission"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded);
    let w = world(&h, &id).await;
    assert!(nothing(&w), "{w}");
}

/// A platform whose ingress has no IPv6 address (an IPv4-only data center): the stock hosting
/// playbook runs unchanged, the name gets its A record and no AAAA, the Berita Acara prints
/// "-" for the missing address, and decommissioning leaves nothing.
#[tokio::test]
async fn an_ipv4_only_platform_hosts_with_the_stock_playbook() {
    let h = harness_with(Db::Sqlite, |p| p.ingress.ipv6 = None).await;
    let svc = h.engine.service().clone();
    let (id, run) = provisioning_request(&svc).await;
    let view = h.engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    assert_eq!(svc.store.request(&id).await.unwrap().state, State::Active);
    let w = world(&h, &id).await;
    assert_eq!((w["a"].clone(), w["aaaa"].clone()), (json!(["198.51.100.135"]), json!([])), "{w}");
    let bast = svc.render_document(&admin(), &id, DocumentKind::BeritaAcara, DocFormat::Html, Lang::Id, false).await.unwrap();
    let html = String::from_utf8(bast.bytes).unwrap();
    assert!(html.contains("198.51.100.135") && !html.contains("2001:db8"), "{html}");
    let revocation = kolokasi::domain::Revocation { reasons: vec![common::text("uji selesai")], effective: None, approved_by: None };
    svc.apply(&admin(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(&head(), &id, Command::ApproveRevocation { approved_by: None, reason: None }).await.unwrap();
    let view = h.engine.drive(&Engine::run_id(id.as_str(), "decommission"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    let w = world(&h, &id).await;
    assert!(nothing(&w), "{w}");
}

async fn failure_at_each_step_then_unwind_leaves_nothing(db: Db) {
    let h = harness(db).await;
    let svc = h.engine.service().clone();
    let pb = h.engine.playbooks["hosting"].clone();
    let names: Vec<&str> = pb.steps.iter().map(|s| s.name.as_str()).collect();
    let kubernetes = names.iter().position(|n| *n == "kubernetes").expect("a kubernetes step");
    assert!(names.iter().position(|n| *n == "dns").expect("a dns step") > kubernetes, "{names:?}");
    for (i, step) in pb.steps.iter().enumerate() {
        let (id, run) = provisioning_request(&svc).await;
        h.faults.fail_step(Some(&step.name));
        let view = h.engine.drive(&run, &quiet).await.unwrap();
        assert_eq!(view.status, RunStatus::Failed, "injected at {}", step.name);
        let failed = view.current().unwrap();
        assert!(failed.name == step.name && matches!(&failed.status, StepStatus::Failed { error } if error.contains("injected")));
        let w = world(&h, &id).await;
        let expected = if i >= kubernetes { 7 } else { 0 };
        assert_eq!(w["in_namespace"], json!(expected), "failed at {}: {w}", step.name);
        h.faults.fail_step(None);
        h.engine.unwind(&operator(), &run, "test unwind").await.unwrap();
        assert_eq!(h.engine.drive(&run, &quiet).await.unwrap().status, RunStatus::Unwound);
        let w = world(&h, &id).await;
        assert!(nothing(&w), "left behind after failing at {}: {w}", step.name);
    }
    // Every delete named one of kolokasi's objects, and each was first read (label checked).
    for c in h.fake.calls().iter().filter(|c| c.method == "DELETE") {
        assert!(c.path.contains("/kolokasi-") || c.path.starts_with("/api/v1/namespaces/klk-"), "{c:?}");
    }
}

async fn decommissioning_removes_everything(db: Db) {
    let h = harness(db).await;
    let svc = h.engine.service().clone();
    let (id, run) = provisioning_request(&svc).await;
    assert_eq!(h.engine.drive(&run, &quiet).await.unwrap().status, RunStatus::Succeeded);
    let revocation = kolokasi::domain::Revocation {
        reasons: vec![text("aplikasi ditutup")],
        effective: None,
        approved_by: None,
    };
    svc.apply(&requester(), &id, Command::RequestRevocation { revocation }).await.unwrap();
    svc.apply(
        &head(),
        &id,
        Command::ApproveRevocation {
            approved_by: None,
            reason: None,
        },
    )
    .await
    .unwrap();
    let view = h.engine.drive(&Engine::run_id(id.as_str(), "decommission"), &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded);
    let undone: Vec<_> = view
        .steps
        .iter()
        .filter(|s| s.output.as_ref().is_some_and(|o| o["undone"] == json!(true)))
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(undone, ["remove-dns", "remove-kubernetes"], "only hosting's own steps are undone");
    let w = world(&h, &id).await;
    assert!(nothing(&w), "{w}");
    assert_eq!(svc.store.request(&id).await.unwrap().state, State::Decommissioned);
    assert_eq!(
        h.engine.view(&run).await.unwrap().1.status,
        RunStatus::Succeeded,
        "the provisioning run stays as evidence"
    );
}

/// An `Env` with only the fake cluster, for driving the action directly.
async fn env(db: &TestDb, kubernetes: Option<Arc<Cluster>>) -> Env {
    let drivers = Drivers {
        kubernetes,
        ..Default::default()
    };
    Env {
        service: service(db).await,
        drivers,
        locks: Default::default(),
        registry: kolokasi::actions::builtin(),
    }
}

fn params(domain: &str, app: &str, unit: &str) -> Value {
    json!({"domain": domain, "app": app, "unit": unit, "servers": hosting_form().servers})
}

/// Text from the form reaches the cluster only as checked names or as data: a hostile domain
/// or application name is refused before anything is sent; a unit's name is free text, so it
/// is encoded into a valid label and kept verbatim as an annotation value.
#[tokio::test]
async fn hostile_names_are_refused_or_safely_encoded() {
    let fake = KubeFake::start().await;
    let db = fresh_db(Db::Sqlite).await;
    let env = env(&db, cluster(&platform(&fake))).await;
    let action = env.registry.get("kubernetes_app").unwrap().clone();
    let request = request_row(RequestId::new(2099, 80_001));
    for p in [
        params("x.kaltimprov.go.id; kubectl delete ns --all", "web", "Dinas"),
        params("x.kaltimprov.go.id\n  - host: evil.example", "web", "Dinas"),
        params("x.kaltimprov.go.id", "web\",\"namespace\":\"kube-system", "Dinas"),
        params("x.kaltimprov.go.id", "../../kube-system", "Dinas"),
        params("x.kaltimprov.go.id", "$(reboot)", "Dinas"),
        params("x.kaltimprov.go.id", "web", "Dinas\r\nX-Injected: 1"),
        params("x.kaltimprov.go.id", "web", ""),
        json!({"domain": "x.kaltimprov.go.id", "app": "web", "unit": "Dinas", "servers": [{"name": "web"}]}),
    ] {
        let ctx = kube_ctx(&request, &p, &env);
        let err = action.run(&ctx).await.unwrap_err();
        assert!(!err.is_retryable(), "{p}: {err:?}");
        assert!(!action.undo(&ctx, None).await.unwrap_err().is_retryable());
    }
    assert!(fake.calls().is_empty(), "nothing may be sent for refused input: {:?}", fake.calls());

    let unit = "Dinas \"Kominfo\"}, {'x': $(id)} / ../kube-system ⟨ü⟩";
    let p = params("x.kaltimprov.go.id", "web", unit);
    let ctx = kube_ctx(&request, &p, &env);
    let Outcome::Done(out) = action.run(&ctx).await.unwrap() else {
        panic!("not done")
    };
    let ns = out["namespace"].as_str().unwrap();
    assert_eq!(ns, "klk-2099-80001-web");
    let o = fake.get("v1", "namespaces", "", ns).unwrap();
    assert_eq!(
        o["metadata"]["labels"]["kolokasi.diskominfo.kaltimprov.go.id/unit"],
        json!("dinas-kominfo-x-id-kube-system")
    );
    assert_eq!(o["metadata"]["annotations"]["kolokasi.diskominfo.kaltimprov.go.id/unit-name"], json!(unit));
    assert!(
        fake.objects().keys().all(|(_, _, n, name)| n == ns || name == ns),
        "everything stayed in the application's namespace"
    );
    action.undo(&ctx, Some(&out)).await.unwrap();
    assert!(fake.objects().is_empty());
}

/// A namespace of the same name that another request (or someone by hand) made is neither
/// taken over nor deleted, and nothing is created in it.
#[tokio::test]
async fn a_namespace_of_someone_else_is_never_taken_or_deleted() {
    let fake = KubeFake::start().await;
    let db = fresh_db(Db::Sqlite).await;
    let env = env(&db, cluster(&platform(&fake))).await;
    let action = env.registry.get("kubernetes_app").unwrap().clone();
    let request = request_row(RequestId::new(2099, 80_002));
    let p = params("y.kaltimprov.go.id", "web", "Dinas");
    let ctx = kube_ctx(&request, &p, &env);
    for labels in [json!({REQUEST_LABEL: "KLK-2099-80999"}), json!({})] {
        let foreign = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "klk-2099-80002-web", "labels": labels}});
        fake.insert("v1", "namespaces", "", foreign.clone());
        let err = action.run(&ctx).await.unwrap_err();
        assert!(!err.is_retryable() && { let m = err.chain(); m.contains("is not this request's") }, "{err:?}");
        action.undo(&ctx, None).await.unwrap();
        assert_eq!(fake.objects().len(), 1, "only the foreign namespace, untouched");
        assert_eq!(fake.get("v1", "namespaces", "", "klk-2099-80002-web").unwrap(), foreign);
    }
    assert!(fake.calls().iter().all(|c| c.method == "GET"), "{:?}", fake.calls());
}

/// The undo waits for the namespace to be gone, and when it takes too long says so as a
/// retryable error (the run retries the undo; nothing is left half-known).
#[tokio::test]
async fn undo_waits_for_the_namespace_and_a_slow_one_is_retryable() {
    let fake = KubeFake::start().await;
    let db = fresh_db(Db::Sqlite).await;
    let mut p = platform(&fake);
    p.namespace_wait_seconds = 1;
    let env = env(&db, cluster(&p)).await;
    let action = env.registry.get("kubernetes_app").unwrap().clone();
    let request = request_row(RequestId::new(2099, 80_003));
    let params = params("z.kaltimprov.go.id", "web", "Dinas");
    let ctx = kube_ctx(&request, &params, &env);

    action.run(&ctx).await.unwrap();
    let started = std::time::Instant::now();
    action.undo(&ctx, None).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "the undo returned before the namespace was gone"
    );
    assert!(fake.objects().is_empty());

    action.run(&ctx).await.unwrap();
    fake.set_delete_delay(Duration::from_secs(3));
    let err = action.undo(&ctx, None).await.unwrap_err();
    assert!(err.is_retryable() && { let m = err.chain(); m.contains("still being deleted") }, "{err:?}");
    // Meanwhile a forward re-run meets a terminating namespace: retryable, not a conflict.
    assert!(action.run(&ctx).await.unwrap_err().is_retryable());
    tokio::time::sleep(Duration::from_secs(3)).await;
    action.undo(&ctx, None).await.unwrap();
    assert!(fake.objects().is_empty());
}

/// A cluster that does not answer is a passing fault; a wrong token is not; no cluster at all
/// is a configuration error that names the inventory key.
#[tokio::test]
async fn unreachable_unauthorised_and_unconfigured_clusters() {
    let fake = KubeFake::start().await;
    let db = fresh_db(Db::Sqlite).await;
    let request = request_row(RequestId::new(2099, 80_004));
    let params = params("w.kaltimprov.go.id", "web", "Dinas");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let down = dir.path().join("down");
    std::fs::write(
        &down,
        fake.kubeconfig_text(kube_fake::TOKEN).replace(&fake.addr.to_string(), &closed.to_string()),
    )
    .unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, fake.kubeconfig_text("not-the-token")).unwrap();

    for (file, retryable) in [(down, true), (wrong, false)] {
        let mut p = platform(&fake);
        p.kubeconfig = Some(file);
        let env = env(&db, cluster(&p)).await;
        let ctx = kube_ctx(&request, &params, &env);
        let err = env.registry.get("kubernetes_app").unwrap().run(&ctx).await.unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "{err:?}");
    }
    let env = env(&db, None).await;
    let ctx = kube_ctx(&request, &params, &env);
    let err = env.registry.get("kubernetes_app").unwrap().run(&ctx).await.unwrap_err();
    assert!(!err.is_retryable() && { let m = err.chain(); m.contains("hosting_platform.kubernetes") }, "{err:?}");
    assert!(fake.objects().is_empty());
}
