//! Test helpers: a fresh store per test on SQLite (a temp file) or PostgreSQL (a new database
//! on the lab's server), and the SOP's actors.
//!
//! PostgreSQL tests never skip: without a server they fail and say how to start one.
#![allow(dead_code)]

use kolokasi::capacity::Inventory;
use kolokasi::domain::{RequestForm, Text};
use kolokasi::lifecycle::{Actor, Calendar, Role};
use kolokasi::secrets::{MasterKey, Secret};
use kolokasi::service::{ApproveInput, Command, Service};
use kolokasi::store::Store;

pub const DEFAULT_PG: &str = "postgres://kolokasi:kolokasi-lab@127.0.0.1:5432/kolokasi_test";
pub const CANARY: &str = "CANARY-h0st-Adm1n-pa55";

#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A database some other part of the test made (a CLI run's store, say).
    pub fn existing(url: &str) -> Self {
        Self { url: url.to_string(), _dir: None }
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("KOLOKASI_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG.to_string())
}

/// A fresh, empty database.
pub async fn fresh_db(db: Db) -> TestDb {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/kolokasi.db", dir.path().display());
            TestDb { url, _dir: Some(dir) }
        }
        Db::Postgres => {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let admin = pg_admin_url();
            let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at {admin}: {e}\n\
                     Start it with `bash deploy/lab/postgres.sh up` (or set KOLOKASI_TEST_POSTGRES_URL)."
                )
            });
            let name = format!("kolokasi_t_{}", rand_suffix());
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap();
            TestDb { url: format!("{base}/{name}"), _dir: None }
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}_{}", std::process::id(), t % 1_000_000_000, N.fetch_add(1, Ordering::Relaxed))
}

pub async fn service(db: &TestDb) -> Service {
    service_with(db, Inventory::example()).await
}

pub async fn service_with(db: &TestDb, inventory: Inventory) -> Service {
    let store = Store::connect(&db.url).await.unwrap();
    // Request numbers start at a random point in each test database: the lab's switch, firewall
    // and DNS are shared, and two fresh databases must not both be "KLK-2026-00001" there.
    let year = time::OffsetDateTime::now_utc().to_offset(kolokasi::lifecycle::sla::WITA).year();
    let start: i64 = rand::random_range(10_000..89_000);
    sqlx::query("INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(format!("request-{year}"))
        .bind(start)
        .execute(store.pool())
        .await
        .unwrap();
    let svc = Service::new(store, inventory, Calendar::builtin_2026(), Some(MasterKey::from_bytes([42; 32])));
    svc.ensure_pools().await.unwrap();
    svc
}

/// The sample request with a domain of its own, so tests that write DNS never share names.
pub fn sample_form() -> RequestForm {
    let mut f = RequestForm::from_yaml(include_str!("../../deploy/examples/colocation-request-lab.yaml")).unwrap();
    f.domain = kolokasi::domain::Fqdn::parse(&format!("t{}.kaltimprov.go.id", rand_suffix().replace('_', "-"))).unwrap();
    f
}

/// Serialises the tests of one test binary that write DNS records for addresses from the
/// shared lab range (two fresh databases hand out the same first address, hence the same PTR).
///
/// DNS writes are conditional (a PTR someone else left is a conflict, not overwritten), so the
/// PTRs of the first addresses a fresh database hands out are cleared first: an earlier,
/// interrupted run may have left them behind.
pub async fn lab_dns_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let guard = LOCK.lock().await;
    clear_first_lab_ptrs().await;
    guard
}

/// Deletes the PTR rrsets of 198.51.100.140-151 and 2001:db8:100::2-13 on both lab servers.
pub async fn clear_first_lab_ptrs() {
    let drivers = lab_drivers();
    for name in ["bind", "powerdns"] {
        let target = &drivers.dns[name];
        let v4 = (140u8..152).map(|d| std::net::IpAddr::from([198, 51, 100, d]));
        let v6 = (2u16..14).map(|n| std::net::IpAddr::from([0x2001, 0xdb8, 0x100, 0, 0, 0, 0, n]));
        for addr in v4.chain(v6) {
            let ptr = kolokasi::dns::reverse_name(addr);
            let zone = target.zones.reverse_zone_of(&ptr).expect("a lab reverse zone").clone();
            target.provider.delete(&zone, &ptr, kolokasi::dns::RecordKind::Ptr).await.unwrap_or_else(|e| panic!("{name}: clearing {ptr}: {e}"));
        }
    }
}

/// Puts a lab switch port back to its factory state (VLAN 1, nothing of kolokasi's), so that
/// state left by an earlier, interrupted test run cannot make this one fail.
pub fn reset_lab_port(port: &str) {
    let lab = kolokasi::lab::Lab::load().unwrap_or_else(|e| panic!("{e}"));
    let db = format!("--db=tcp:{}", lab.host("sw").unwrap().ovsdb.as_deref().unwrap());
    let status = std::process::Command::new("ovs-vsctl")
        .args([db.as_str(), "set", "port", port, "tag=1", "--", "clear", "port", port, "trunks", "vlan_mode", "external_ids"])
        .status()
        .expect("ovs-vsctl (installed by the lab)");
    assert!(status.success(), "cannot reset {port}");
}

/// A request row for driving an action directly (no engine, no run log).
pub fn request_row(id: kolokasi::domain::RequestId) -> kolokasi::store::RequestRow {
    let now = time::OffsetDateTime::now_utc();
    kolokasi::store::RequestRow {
        id,
        state: kolokasi::lifecycle::State::Provisioning,
        submitted_at: now,
        updated_at: now,
        sla_due_at: None,
        form: sample_form(),
        approval: None,
        hardware: None,
        revocation: None,
        capacity: None,
        version: 1,
    }
}

/// The lab's drivers; fails with the message that says how to start the lab.
pub fn lab_drivers() -> kolokasi::engine::Drivers {
    let lab = kolokasi::lab::Lab::load().unwrap_or_else(|e| panic!("{e}"));
    kolokasi::engine::Drivers::from_lab(&lab).unwrap()
}

pub fn hosting_form() -> RequestForm {
    RequestForm::from_yaml(include_str!("../../deploy/examples/hosting-request.yaml")).unwrap()
}

pub fn actor(name: &str, role: Role) -> Actor {
    Actor::new(name, role).unwrap()
}

pub fn requester() -> Actor {
    Actor::in_unit("budi", Role::Requester, SAMPLE_UNIT).unwrap()
}

/// A requester of the unit that filed `form`.
pub fn requester_for(form: &RequestForm) -> Actor {
    Actor::in_unit("pemohon", Role::Requester, form.unit.name.as_str()).unwrap()
}
pub fn admin() -> Actor {
    actor("admin.tik", Role::Admin)
}
pub fn operator() -> Actor {
    actor("pengelola", Role::Operator)
}
pub fn inspector() -> Actor {
    actor("pemeriksa", Role::Inspector)
}
pub fn head() -> Actor {
    actor("kabid", Role::Head)
}

/// The unit of the sample co-location request (`sample_form()`).
pub const SAMPLE_UNIT: &str = "Dinas Pendidikan dan Kebudayaan Provinsi Kalimantan Timur";

pub fn text(s: &str) -> Text {
    Text::parse(s).unwrap()
}

/// An API token for `name` in `role` (a requester in `SAMPLE_UNIT`), creating the user the first
/// time; what every API test sends as `Authorization: Bearer …`.
pub async fn api_token(svc: &Service, name: &str, role: Role) -> String {
    api_token_in(svc, name, role, (role == Role::Requester).then_some(SAMPLE_UNIT)).await
}

/// [`api_token`] for a user of `unit`.
pub async fn api_token_in(svc: &Service, name: &str, role: Role, unit: Option<&str>) -> String {
    let root = Actor::new("root", Role::Admin).unwrap();
    let user = kolokasi::service::NewUser {
        username: name.into(),
        display_name: name.into(),
        role,
        unit: unit.map(Into::into),
        password: None,
    };
    match svc.create_user(&root, user).await {
        Ok(_) | Err(kolokasi::service::ServiceError::Conflict(_)) => {}
        Err(e) => panic!("cannot create user {name}: {e}"),
    }
    let (_, token) = svc.create_token(&root, name, false, time::Duration::hours(1)).await.unwrap();
    token.expose().to_string()
}

pub fn approve_with_canary() -> Command {
    Command::Approve(ApproveInput {
        place: text("Samarinda"),
        reasons: vec![text("kapasitas mencukupi")],
        signed_by: None,
        host_admin_user: Some(text("opd-admin")),
        host_admin_password: Some(Secret::new(CANARY)),
    })
}

/// Runs a new request up to (and including) approval; returns its id.
pub async fn approved_request(svc: &Service, form: RequestForm) -> kolokasi::domain::RequestId {
    let id = svc.submit(&requester(), form).await.unwrap();
    svc.apply(&admin(), &id, Command::Verify { reason: None }).await.unwrap();
    svc.apply(&operator(), &id, Command::CheckCapacity { reason: None }).await.unwrap();
    svc.apply(&requester(), &id, Command::CompleteForm { form: None, reason: None }).await.unwrap();
    svc.apply(&admin(), &id, approve_with_canary()).await.unwrap();
    id
}

/// Declares one `#[tokio::test]` per backend for an async fn taking a `Db`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::common::Db::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::common::Db::Postgres).await } )*
        }
    };
}

/// An engine on the repository's playbooks and the builtin actions, talking to the lab, its
/// in-step retries 5 ms apart.
pub fn lab_engine(svc: Service) -> kolokasi::engine::Engine {
    use kolokasi::engine::Engine;
    let registry = kolokasi::actions::builtin();
    let playbooks = Engine::load_playbooks(Some(std::path::Path::new("playbooks")), &registry).unwrap();
    let mut engine = Engine::new(svc, lab_drivers(), registry, playbooks).unwrap();
    engine.retry.base = std::time::Duration::from_millis(5);
    engine
}

/// Everything this test process logs at trace level (a global subscriber installed on first
/// use), for the leak checks.
pub fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    struct LogWriter(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for LogWriter {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || LogWriter(writer.clone()))
            .init();
        buf
    })
    .clone()
}

/// The text of a PDF as poppler's `pdftotext` extracts it (installed by the lab script; its
/// absence fails the test).
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args([file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils, installed by deploy/lab/lab.sh) must be installed");
    assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The crash and shutdown tests need the `test-hooks` feature (deploy/test.sh turns it on):
/// without it they fail here, saying so, rather than pass without crashing anything.
#[allow(clippy::assertions_on_constants)] // a run-time check on purpose: a plain `cargo test` still builds
pub fn require_test_hooks() {
    assert!(cfg!(feature = "test-hooks"), "this test needs the test-hooks feature: run deploy/test.sh, or cargo test --features test-hooks");
}
