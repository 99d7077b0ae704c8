//! Sign-in with the office directory against the lab's real OpenLDAP slapd
//! (`deploy/lab/ldap.sh up`), on SQLite and PostgreSQL: StartTLS and LDAPS, role from the
//! group mapping and OPD from the attribute, every refusal (wrong, empty password, unknown
//! user, filter injection, disabled, no mapped group), a role changed with `ldapmodify` seen
//! at the next sign-in, a directory that cannot be reached (local users still sign in), plain
//! LDAP refused at configuration load, the service password in no Debug output or error, and
//! sign-in through the real console form of `kolokasi serve`.
//!
//! Without slapd these tests fail and say how to start it; they never skip.

mod common;
#[path = "support/served.rs"]
mod served;

use common::*;
use kolokasi::auth::{Directory, DirectoryError};
use kolokasi::config::{DirectoryGroup, DirectorySettings, Settings};
use kolokasi::lifecycle::{Actor, Role};
use kolokasi::secrets::Secret;
use kolokasi::service::{NewUser, Service, ServiceError};
use kolokasi::store::UserSource;
use serde::Deserialize;
use sqlx::Row;

on_both_databases!(sign_in_over_starttls_and_ldaps, refusals_are_generic_and_audited, directory_down_local_users_still_sign_in, console_sign_in_over_http);

const DISKOMINFO: &str = "Dinas Komunikasi dan Informatika Provinsi Kalimantan Timur";

/// `ldap.json`, written by `deploy/lab/ldap.sh up`.
#[derive(Debug, Clone, Deserialize)]
struct LdapLab {
    starttls_url: String,
    ldaps_url: String,
    socket_url: String,
    ca_file: std::path::PathBuf,
    base_dn: String,
    root_dn: String,
    root_password: String,
    bind_dn: String,
    bind_password: String,
    user_password: String,
}

fn lab() -> LdapLab {
    let dir = std::env::var_os("KOLOKASI_LAB_DIR").map_or_else(|| std::path::PathBuf::from("/tmp/kolokasi-lab"), Into::into);
    let path = dir.join("ldap/ldap.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the lab's slapd is not set up ({}: {e}); start it with `bash deploy/lab/ldap.sh up`", path.display()));
    let lab: LdapLab = serde_json::from_str(&text).unwrap();
    let port = lab.ldaps_url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "the lab's slapd is not running on {}; start it with `bash deploy/lab/ldap.sh up`",
        lab.ldaps_url
    );
    lab
}

fn settings(lab: &LdapLab, url: &str, starttls: bool) -> DirectorySettings {
    let group = |cn: &str, role| DirectoryGroup { group: format!("cn={cn},ou=groups,{}", lab.base_dn), role };
    DirectorySettings {
        url: url.into(),
        starttls,
        ca_file: lab.ca_file.clone(),
        bind_dn: lab.bind_dn.clone(),
        bind_password_secret: None,
        bind_password: None,
        base_dn: lab.base_dn.clone(),
        group_base_dn: None,
        login_attribute: "uid".into(),
        opd_attribute: "ou".into(),
        name_attribute: "cn".into(),
        groups: vec![
            group("kolokasi-admin", Role::Admin),
            group("kolokasi-head", Role::Head),
            group("kolokasi-supervisor", Role::Supervisor),
            group("kolokasi-operator", Role::Operator),
            group("kolokasi-inspector", Role::Inspector),
            group("kolokasi-auditor", Role::Auditor),
            group("kolokasi-requester", Role::Requester),
        ],
        timeout_seconds: 5,
    }
}

fn directory(lab: &LdapLab, url: &str, starttls: bool) -> Directory {
    Directory::new(settings(lab, url, starttls), Secret::new(&lab.bind_password)).unwrap()
}

async fn directory_service(db: &TestDb, directory: Directory) -> Service {
    service(db).await.with_directory(directory)
}

/// Each attempt from its own address, so the per-address limit stays out of the way.
fn client() -> String {
    format!("10.77.{}.{}", rand::random_range(0..250u8), rand::random_range(1..250u8))
}

async fn sign_in(svc: &Service, name: &str, password: &str) -> Result<Actor, ServiceError> {
    svc.authenticate_password_from(name, &Secret::new(password), &client()).await
}

async fn audit_rows(svc: &Service, action: &str) -> Vec<(String, Option<String>, Option<String>)> {
    sqlx::query("SELECT actor, before_json, after_json FROM audit WHERE action = $1 ORDER BY seq")
        .bind(action)
        .fetch_all(svc.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// `ldapmodify` as the directory's root over the local socket, as an office admin would.
fn ldapmodify(lab: &LdapLab, ldif: &str) {
    if let Err(e) = try_ldapmodify(lab, ldif) {
        panic!("ldapmodify failed: {e}\n{ldif}");
    }
}

fn try_ldapmodify(lab: &LdapLab, ldif: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = std::process::Command::new("ldapmodify")
        .args(["-x", "-H", &lab.socket_url, "-D", &lab.root_dn, "-w", &lab.root_password])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ldapmodify (ldap-utils) is installed by deploy/lab/ldap.sh up");
    child.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// Sets `uid`'s membership of the lab's mapped groups to exactly `groups`.
fn set_groups(lab: &LdapLab, uid: &str, groups: &[&str]) {
    let member = format!("uid={uid},ou=people,{}", lab.base_dn);
    for cn in ["kolokasi-operator", "kolokasi-inspector"] {
        let dn = format!("cn={cn},ou=groups,{}", lab.base_dn);
        // Out first ("no such value", 16, when not a member), then in when wanted. The
        // groups' other members keep each groupOfNames non-empty.
        if let Err(e) = try_ldapmodify(lab, &format!("dn: {dn}\nchangetype: modify\ndelete: member\nmember: {member}\n-\n")) {
            assert!(e.contains("(16)"), "ldapmodify failed: {e}");
        }
        if groups.contains(&cn) {
            ldapmodify(lab, &format!("dn: {dn}\nchangetype: modify\nadd: member\nmember: {member}\n-\n"));
        }
    }
}

fn set_locked(lab: &LdapLab, uid: &str, locked: bool) {
    let dn = format!("uid={uid},ou=people,{}", lab.base_dn);
    // Replace with nothing removes the attribute whether or not it is there.
    let change = if locked { "replace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z" } else { "replace: pwdAccountLockedTime" };
    ldapmodify(lab, &format!("dn: {dn}\nchangetype: modify\n{change}\n-\n"));
}

/// The whole error chain as text.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = format!("{e} | {e:?}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(" | {s}"));
        source = s.source();
    }
    text
}

async fn sign_in_over_starttls_and_ldaps(db: Db) {
    let lab = lab();
    for (url, starttls) in [(lab.starttls_url.clone(), true), (lab.ldaps_url.clone(), false)] {
        let db = fresh_db(db).await;
        let svc = directory_service(&db, directory(&lab, &url, starttls)).await;
        let pw = lab.user_password.as_str();

        let admin = sign_in(&svc, "siti", pw).await.unwrap_or_else(|e| panic!("{url}: {}", chain(&e)));
        assert_eq!(admin, Actor::in_unit("siti", Role::Admin, DISKOMINFO).unwrap(), "{url}: first mapped group (admin before the unmapped staf-umum)");
        let requester = sign_in(&svc, "budi", pw).await.unwrap();
        assert_eq!(requester, Actor::in_unit("budi", Role::Requester, SAMPLE_UNIT).unwrap(), "{url}: OPD from `ou`");
        for (name, role) in [("agus", Role::Supervisor), ("andi", Role::Operator), ("rina", Role::Inspector), ("hendra", Role::Head), ("dewi", Role::Auditor)] {
            assert_eq!(sign_in(&svc, name, pw).await.unwrap().role, role, "{url}: {name}");
        }

        // The local rows follow the directory: source directory, no password hash, audited.
        let users = svc.store.users().await.unwrap();
        let budi = users.iter().find(|u| u.username == "budi").unwrap();
        assert_eq!((budi.source, budi.has_password, budi.display_name.as_str()), (UserSource::Directory, false, "Budi Santoso"));
        let hashes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE password_hash IS NOT NULL").fetch_one(svc.store.pool()).await.unwrap();
        assert_eq!(hashes, 0, "no local password hash for directory users");
        let synced = audit_rows(&svc, "user.directory_sync").await;
        assert_eq!(synced.len(), 7, "one row per new user");
        let (actor, before, after) = synced.iter().find(|(a, _, _)| a == "budi").unwrap();
        assert_eq!((actor.as_str(), before.as_deref()), ("budi", None));
        assert!(after.as_deref().unwrap().contains(r#""role":"requester""#), "{after:?}");

        // Signing in again with nothing changed writes no sync row, only the sign-in.
        sign_in(&svc, "budi", pw).await.unwrap();
        assert_eq!(audit_rows(&svc, "user.directory_sync").await.len(), 7);
        let logins = audit_rows(&svc, "auth.login").await;
        assert_eq!(logins.len(), 8);
        assert!(logins.iter().all(|(_, _, after)| after.as_deref().unwrap().contains(r#""method":"directory""#)));
    }
}

async fn refusals_are_generic_and_audited(db: Db) {
    let lab = lab();
    let db = fresh_db(db).await;
    let svc = directory_service(&db, directory(&lab, &lab.ldaps_url, false)).await;
    let pw = lab.user_password.as_str();
    let attempts = [
        ("siti", "salah-sandi-2026", "wrong_password"),
        ("siti", "", "empty_password"),
        ("tidakada", pw, "unknown_user"),
        ("*)(uid=*", pw, "bad_login"),
        ("*", pw, "bad_login"),
        ("siti)(|(uid=*", pw, "bad_login"),
        ("joko", pw, "disabled_in_directory"),
        ("lina", pw, "no_mapped_group"),
    ];
    let mut messages = Vec::new();
    for (name, password, _) in attempts {
        match sign_in(&svc, name, password).await {
            Err(e @ ServiceError::Unauthorized(_)) => messages.push(e.to_string()),
            other => panic!("{name:?} / {password:?}: {other:?}"),
        }
    }
    messages.dedup();
    assert_eq!(messages, ["invalid credentials"], "one message for every refusal");

    // Each refusal is audited with its reason (for the admins, never shown to the person).
    let failures = audit_rows(&svc, "auth.failure").await;
    let reasons: Vec<String> = failures
        .iter()
        .map(|(_, _, after)| serde_json::from_str::<serde_json::Value>(after.as_deref().unwrap()).unwrap()["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons, attempts.map(|(_, _, r)| r.to_string()));
    assert!(failures.iter().all(|(_, _, after)| after.as_deref().unwrap().contains(r#""method":"directory""#)));
    // Nobody was created, and no refusal signed anyone in.
    assert!(svc.store.users().await.unwrap().is_empty());
    assert!(audit_rows(&svc, "auth.login").await.is_empty());

    // The filter escaping itself (RFC 4515), below the name check.
    assert_eq!(kolokasi::auth::directory::login_filter("uid", "*)(uid=*"), r"(uid=\2a\29\28uid=\2a)");

    // The existing sign-in limit applies unchanged: a sixth wrong password for one account
    // in a burst is refused before the directory is asked.
    for _ in 0..4 {
        let _ = sign_in(&svc, "andi", "salah-sandi-2026").await;
    }
    assert!(matches!(sign_in(&svc, "andi", "salah-sandi-2026").await, Err(ServiceError::Unauthorized(_))));
    assert!(matches!(sign_in(&svc, "andi", pw).await, Err(ServiceError::RateLimited(_))), "limited like a local account");
}

/// One test for both databases, one after the other: they share the lab's `rotasi` entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_change_in_the_directory_is_seen_at_next_sign_in() {
    let lab = lab();
    let pw = lab.user_password.as_str();
    for db in [Db::Sqlite, Db::Postgres] {
        set_groups(&lab, "rotasi", &["kolokasi-operator"]);
        set_locked(&lab, "rotasi", false);
        let db = fresh_db(db).await;
        let svc = directory_service(&db, directory(&lab, &lab.starttls_url, true)).await;
        assert_eq!(sign_in(&svc, "rotasi", pw).await.unwrap().role, Role::Operator);

        // The office moves them from operators to inspectors.
        set_groups(&lab, "rotasi", &["kolokasi-inspector"]);
        assert_eq!(sign_in(&svc, "rotasi", pw).await.unwrap().role, Role::Inspector, "the removed role is gone at the next sign-in");
        let users = svc.store.users().await.unwrap();
        assert_eq!(users.iter().find(|u| u.username == "rotasi").unwrap().role, Role::Inspector);
        let synced = audit_rows(&svc, "user.directory_sync").await;
        let (_, before, after) = synced.last().unwrap();
        assert!(before.as_deref().unwrap().contains(r#""role":"operator""#) && after.as_deref().unwrap().contains(r#""role":"inspector""#), "{before:?} → {after:?}");

        // Removed from every mapped group: refused; disabled in the directory: refused.
        set_groups(&lab, "rotasi", &[]);
        assert!(matches!(sign_in(&svc, "rotasi", pw).await, Err(ServiceError::Unauthorized(_))));
        set_groups(&lab, "rotasi", &["kolokasi-operator"]);
        set_locked(&lab, "rotasi", true);
        assert!(matches!(sign_in(&svc, "rotasi", pw).await, Err(ServiceError::Unauthorized(_))));
        set_locked(&lab, "rotasi", false);
        assert_eq!(sign_in(&svc, "rotasi", pw).await.unwrap().role, Role::Operator);

        // Disabled here by an admin: the directory does not re-enable the account.
        svc.disable_user(&admin(), "rotasi", true).await.unwrap();
        assert!(matches!(sign_in(&svc, "rotasi", pw).await, Err(ServiceError::Unauthorized(_))));
    }
}

async fn directory_down_local_users_still_sign_in(db: Db) {
    let lab = lab();
    let db = fresh_db(db).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let svc = directory_service(&db, directory(&lab, &format!("ldaps://127.0.0.1:{closed}"), false)).await;
    let local_pw = "sandi-lokal-yang-panjang-2026";
    let new = NewUser { username: "admin.lokal".into(), display_name: "Admin Lokal".into(), role: Role::Admin, unit: None, password: Some(Secret::new(local_pw)) };
    svc.create_user(&admin(), new).await.unwrap();

    let e = sign_in(&svc, "siti", &lab.user_password).await.unwrap_err();
    assert!(matches!(e, ServiceError::DirectoryUnavailable(_)), "{e:?}");
    let text = chain(&e);
    assert!(text.contains("office directory cannot be reached") && text.contains(&format!("127.0.0.1:{closed}")), "{text}");
    assert!(!text.contains(&lab.bind_password) && !text.contains(&lab.user_password), "{text}");
    assert_eq!(sign_in(&svc, "admin.lokal", local_pw).await.unwrap().role, Role::Admin, "local users still sign in");
    assert!(matches!(sign_in(&svc, "admin.lokal", "salah-sandi-2026").await, Err(ServiceError::Unauthorized(_))));
    let failures = audit_rows(&svc, "auth.failure").await;
    assert!(failures[0].2.as_deref().unwrap().contains("directory_unreachable"), "{failures:?}");

    // A directory that accepts the connection and then says nothing: the timeout ends it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut s = settings(&lab, &format!("ldaps://{}", silent.local_addr().unwrap()), false);
    s.timeout_seconds = 1;
    let svc = directory_service(&db, Directory::new(s, Secret::new(&lab.bind_password)).unwrap()).await;
    let started = std::time::Instant::now();
    let e = sign_in(&svc, "siti", &lab.user_password).await.unwrap_err();
    assert!(matches!(&e, ServiceError::DirectoryUnavailable(DirectoryError::Timeout { .. })), "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(6), "{:?}", started.elapsed());
    assert!(e.to_string().contains("office directory"), "{e}");
    drop(silent);

    // A server whose certificate the configured CA did not sign is not talked to.
    let mut s = settings(&lab, &lab.ldaps_url, false);
    let tmp = tempfile::tempdir().unwrap();
    s.ca_file = other_ca(tmp.path());
    let svc = directory_service(&db, Directory::new(s, Secret::new(&lab.bind_password)).unwrap()).await;
    let e = sign_in(&svc, "siti", &lab.user_password).await.unwrap_err();
    assert!(matches!(&e, ServiceError::DirectoryUnavailable(DirectoryError::Unreachable { .. })), "{e:?}");

    // A wrong service password: a clear error naming the account, never the password.
    let wrong = "CANARY-wrong-svc-pa55";
    let svc = directory_service(&db, Directory::new(settings(&lab, &lab.ldaps_url, false), Secret::new(wrong)).unwrap()).await;
    let e = sign_in(&svc, "siti", &lab.user_password).await.unwrap_err();
    assert!(matches!(&e, ServiceError::DirectoryUnavailable(DirectoryError::ServiceBind(_))), "{e:?}");
    let text = chain(&e);
    assert!(text.contains("service account") && !text.contains(wrong) && !text.contains(&lab.user_password), "{text}");
}

/// A CA that signed nothing in the lab, made with openssl.
fn other_ca(dir: &std::path::Path) -> std::path::PathBuf {
    let (key, crt) = (dir.join("other-ca.key"), dir.join("other-ca.crt"));
    let ok = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", "/CN=other ca"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "openssl req failed");
    crt
}

#[test]
fn plain_ldap_is_refused_at_configuration_load_and_the_password_never_printed() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let load = |yaml: &str| {
        let file = dir.path().join("k.yaml");
        std::fs::write(&file, yaml).unwrap();
        let password = lab.bind_password.clone();
        Settings::load(Some(&file), move |k| (k == "KOLOKASI_DIRECTORY_BIND_PASSWORD").then(|| password.clone()))
    };
    let section = |url: &str, starttls: &str| {
        format!(
            "directory:\n  url: {url}\n{starttls}  ca_file: {}\n  bind_dn: {}\n  base_dn: {}\n  groups:\n    - group: cn=kolokasi-admin,ou=groups,{}\n      role: admin\n",
            lab.ca_file.display(),
            lab.bind_dn,
            lab.base_dn,
            lab.base_dn
        )
    };
    let plain = load(&section(&lab.starttls_url, "")).unwrap_err().to_string();
    assert!(plain.contains("plain LDAP") && plain.contains("ldaps://") && plain.contains("starttls: true"), "{plain}");
    let both = load(&section(&lab.ldaps_url, "  starttls: true\n")).unwrap_err().to_string();
    assert!(both.contains("starttls is for ldap://"), "{both}");
    let no_groups = load(&format!("directory:\n  url: {}\n  ca_file: /x\n  bind_dn: x\n  base_dn: x\n  groups: []\n", lab.ldaps_url)).unwrap_err().to_string();
    assert!(no_groups.contains("nobody could sign in"), "{no_groups}");

    let ok = load(&section(&lab.starttls_url, "  starttls: true\n")).unwrap();
    let d = ok.directory.clone().unwrap();
    assert_eq!((d.login_attribute.as_str(), d.opd_attribute.as_str(), d.timeout_seconds), ("uid", "ou", 5), "defaults");
    assert_eq!(d.bind_password.as_ref().map(Secret::expose), Some(lab.bind_password.as_str()), "from KOLOKASI_DIRECTORY_BIND_PASSWORD");
    let printed = format!("{ok:?} {d:?} {:?}", Directory::new(d.clone(), d.bind_password.clone().unwrap()).unwrap());
    assert!(!printed.contains(&lab.bind_password) && printed.contains("[redacted]"), "{printed}");
    let empty = Directory::new(d, Secret::new("")).unwrap_err();
    assert!(matches!(empty, DirectoryError::Config(_)), "{empty:?}");
}

/// `kolokasi serve` with `directory:` in its configuration file: the console's sign-in form.
async fn console_sign_in_over_http(db: Db) {
    let lab = lab();
    let db = fresh_db(db).await;
    // The local account first (and the schema), through the service on the same database.
    let svc = service(&db).await;
    let local_pw = "sandi-lokal-yang-panjang-2026";
    let new = NewUser { username: "admin.lokal".into(), display_name: "Admin Lokal".into(), role: Role::Admin, unit: None, password: Some(Secret::new(local_pw)) };
    svc.create_user(&admin(), new).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = |url: &str, starttls: bool| {
        let path = dir.path().join(format!("kolokasi-{}.yaml", url.rsplit(':').next().unwrap()));
        let yaml = format!(
            "directory:\n  url: {url}\n  starttls: {starttls}\n  ca_file: {}\n  bind_dn: {}\n  base_dn: {}\n  groups:\n    - group: cn=kolokasi-operator,ou=groups,{}\n      role: operator\n    - group: cn=kolokasi-requester,ou=groups,{}\n      role: requester\n",
            lab.ca_file.display(),
            lab.bind_dn,
            lab.base_dn,
            lab.base_dn,
            lab.base_dn
        );
        std::fs::write(&path, yaml).unwrap();
        path.display().to_string()
    };
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let path = config(&lab.starttls_url, true);
    let served = served::serve(&db.url, &[("KOLOKASI_CONFIG", &path), ("KOLOKASI_DIRECTORY_BIND_PASSWORD", &lab.bind_password)]).await;
    let r = console_sign_in(&http, &served.base, "budi", &lab.user_password).await;
    assert_eq!(r.status().as_u16(), 303, "directory user signs in");
    let cookie = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).find(|c| c.starts_with("kolokasi_session=")).unwrap();
    let session = cookie.split(';').next().unwrap().to_string();
    let home = http.get(format!("{}/", served.base)).header("cookie", &session).send().await.unwrap();
    assert_eq!(home.status().as_u16(), 200);
    let page = home.text().await.unwrap();
    assert!(page.contains("budi"), "the dashboard names the signed-in person");
    let r = console_sign_in(&http, &served.base, "budi", "salah-sandi-2026").await;
    assert_eq!(r.status().as_u16(), 401);
    let r = console_sign_in(&http, &served.base, "admin.lokal", local_pw).await;
    assert_eq!(r.status().as_u16(), 303, "local users sign in beside directory users");
    drop(served);
    let budi = svc.store.users().await.unwrap().into_iter().find(|u| u.username == "budi").unwrap();
    assert_eq!((budi.role, budi.unit.as_deref(), budi.source), (Role::Requester, Some(SAMPLE_UNIT), UserSource::Directory));

    // The directory unreachable: a clear page for directory users, local users still sign in.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let path = config(&format!("ldaps://127.0.0.1:{closed}"), false);
    let served = served::serve(&db.url, &[("KOLOKASI_CONFIG", &path), ("KOLOKASI_DIRECTORY_BIND_PASSWORD", &lab.bind_password)]).await;
    let r = console_sign_in(&http, &served.base, "budi", &lab.user_password).await;
    assert_eq!(r.status().as_u16(), 503);
    let page = r.text().await.unwrap();
    assert!(page.contains("Direktori kantor (LDAP) tidak dapat dihubungi"), "{page}");
    assert!(!page.contains(&lab.bind_password));
    let r = console_sign_in(&http, &served.base, "admin.lokal", local_pw).await;
    assert_eq!(r.status().as_u16(), 303, "local users still sign in while the directory is down");
}

/// A sign-in through the console's form, with its double-submit CSRF cookie and token.
async fn console_sign_in(http: &reqwest::Client, base: &str, username: &str, password: &str) -> reqwest::Response {
    let page = http.get(format!("{base}/sign-in")).send().await.unwrap();
    let pre = page.headers()["set-cookie"].to_str().unwrap().to_string();
    let token = pre.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    let body = format!("_csrf={token}&next=%2F&username={}&password={}", form(username), form(password));
    http.post(format!("{base}/sign-in"))
        .header("cookie", format!("kolokasi_signin={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn form(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}
