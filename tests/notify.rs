//! Notifications against real servers: the lab's SMTP sink (aiosmtpd, STARTTLS with the lab CA,
//! AUTH) and a webhook receiver started here (axum on 127.0.0.1:0) that checks the HMAC.
//! Received messages are parsed by Python's `email` package, independent of lettre.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use kolokasi::domain::{Email, HardwareReceipt, RequestId};
use kolokasi::engine::{ActionCtx, Drivers, Engine, Env, Outcome, RunStatus, StepError};
use kolokasi::notify::{
    Channel, Event, Mailer, Notifier, NotifySettings, StartTls, Webhook, outbox,
};
use kolokasi::secrets::Secret;
use kolokasi::service::{Command, Service};
use serde_json::{Value, json};

const PORT: &str = "bp91";
const HEAD: &str = "kabid.tik@kaltimprov.go.id";

fn lab() -> kolokasi::lab::Lab {
    kolokasi::lab::Lab::load().unwrap_or_else(|e| panic!("{e}"))
}

fn lab_notifier() -> Notifier {
    let n = Notifier::from_lab(&lab()).unwrap();
    assert!(
        n.mailer.is_some(),
        "lab.json has no SMTP sink: run `bash deploy/lab/lab.sh up`"
    );
    n
}

/// A mailer for the sink with other settings (wrong password, closed port, no TLS).
fn mailer(edit: impl FnOnce(&mut kolokasi::notify::SmtpSettings), password: &str) -> Mailer {
    let lab = lab();
    let mut s = NotifySettings::from_lab(lab.smtp.as_ref().unwrap()).unwrap();
    let smtp = s.smtp.as_mut().unwrap();
    edit(smtp);
    Mailer::new(smtp, s.from.clone(), Some(Secret::new(password))).unwrap()
}

fn env(service: Service, notify: Notifier) -> Env {
    Env {
        service,
        drivers: Drivers {
            notify,
            ..Drivers::default()
        },
        locks: Default::default(),
        registry: kolokasi::actions::builtin(),
    }
}

async fn run_notify(env: &Env, id: &RequestId, params: Value) -> Result<Value, StepError> {
    let request = env.service.store.request(id).await.unwrap();
    let action = env.registry.get("notify").unwrap().clone();
    let ctx = ActionCtx {
        run_id: "test-run",
        step: "notify",
        request: &request,
        params: &params,
        env,
    };
    match action.run(&ctx).await? {
        Outcome::Done(v) => Ok(v),
        Outcome::Wait(w) => panic!("notify waited: {w}"),
    }
}

/// Every message in the sink carrying `needle` (a Message-ID), parsed by Python's `email`.
fn received(needle: &str) -> Vec<Value> {
    let dir = lab().smtp.unwrap().maildir;
    let mut paths = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if std::fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle)) {
            paths.push(p);
        }
    }
    if paths.is_empty() {
        return Vec::new();
    }
    const PARSE: &str = r#"
import email, json, sys
from email import policy
out = []
for path in sys.argv[1:]:
    raw = open(path, "rb").read()
    m = email.message_from_bytes(raw, policy=policy.default)
    body = m.get_body(preferencelist=("plain",))
    atts = []
    for a in m.iter_attachments():
        data = a.get_payload(decode=True)
        atts.append({"filename": a.get_filename(), "content_type": a.get_content_type(), "head": data[:5].decode("latin1"), "size": len(data)})
    out.append({"from": str(m["From"]), "to": str(m["To"]), "cc": str(m["Cc"] or ""), "subject": str(m["Subject"]),
                "message_id": str(m["Message-ID"]), "delivered_to": [str(x) for x in m.get_all("Delivered-To") or []],
                "session": str(m["X-Lab-Session"]), "body": body.get_content() if body else "", "attachments": atts,
                "raw": raw.decode("latin1")})
print(json.dumps(out))
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(PARSE)
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// The one message with this Message-ID (fails on none or several).
fn the_message(message_id: &str) -> Value {
    let mut found = received(message_id);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one message {message_id}, found {}",
        found.len()
    );
    found.remove(0)
}

/// Serialises the tests that use switch port bp91 (SQLite and PostgreSQL run in parallel).
async fn port_lock() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

fn quiet(_: &kolokasi::engine::Progress) {}

/// The co-location playbook end to end on the lab: the approval notice first, the completion
/// report last, both delivered over STARTTLS with AUTH, with the Berita Acara attached.
async fn colocation_run_sends_both_notices_over_starttls_with_auth(db: Db) {
    let _port = port_lock().await;
    let _dns = lab_dns_lock().await;
    reset_lab_port(PORT);
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let engine = lab_engine(svc);
    let svc = engine.service().clone();

    let id = approved_request(&svc, sample_form()).await;
    svc.apply(
        &operator(),
        &id,
        Command::StartProvisioning { reason: None },
    )
    .await
    .unwrap();
    let receipt = HardwareReceipt {
        serial_number: text("SN-NOTIFY-1"),
        type_brand: text("Dell R650"),
        switch_port: Some(text(PORT)),
        host_key: None,
    };
    svc.apply(
        &inspector(),
        &id,
        Command::HardwareReceived {
            receipt,
            reason: None,
        },
    )
    .await
    .unwrap();
    let run = Engine::run_id(id.as_str(), "colocation");
    let view = engine.drive(&run, &quiet).await.unwrap();
    assert_eq!(view.status, RunStatus::Succeeded, "{view:?}");
    let step = |name: &str| {
        view.steps
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .output
            .clone()
            .unwrap()
    };
    assert_eq!(view.steps.first().unwrap().name, "approval-notice");
    assert_eq!(view.steps.last().unwrap().name, "completion-report");

    let requester = sample_form().email.unwrap();
    let approved = step("approval-notice");
    assert_eq!(approved["delivered"], json!(true), "{approved}");
    let m = the_message(approved["message_id"].as_str().unwrap());
    assert!(
        m["session"].as_str().unwrap().starts_with("tls=TLSv1."),
        "not over STARTTLS: {}",
        m["session"]
    );
    assert!(
        m["session"].as_str().unwrap().ends_with("auth=kolokasi"),
        "{}",
        m["session"]
    );
    assert!(
        m["from"]
            .as_str()
            .unwrap()
            .contains("kolokasi@kaltimprov.go.id"),
        "{}",
        m["from"]
    );
    assert_eq!(m["to"], json!(requester.as_str()));
    assert_eq!(m["cc"], json!(""));
    let domain = sample_domain(&svc, &id).await;
    assert_eq!(
        m["subject"],
        json!(format!("Pemberitahuan Persetujuan {id} ({domain})"))
    );
    let body = m["body"].as_str().unwrap();
    for needle in [
        "Dengan hormat",
        "telah DISETUJUI",
        "kapasitas mencukupi",
        "mohon membawa server (srv-sipd) ke Data Center",
        id.as_str(),
    ] {
        assert!(
            body.contains(needle),
            "approval notice lacks {needle:?}:\n{body}"
        );
    }
    assert!(m["attachments"].as_array().unwrap().is_empty());

    let live = step("completion-report");
    assert_eq!(live["delivered"], json!(true), "{live}");
    let m = the_message(live["message_id"].as_str().unwrap());
    assert_eq!(m["to"], json!(requester.as_str()));
    assert_eq!(m["cc"], json!(HEAD));
    let mut delivered_to: Vec<String> = serde_json::from_value(m["delivered_to"].clone()).unwrap();
    delivered_to.sort();
    assert_eq!(
        delivered_to,
        vec![HEAD.to_string(), requester.as_str().to_string()],
        "envelope recipients"
    );
    assert!(
        m["subject"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Laporan Penyelesaian {id} (")),
        "{}",
        m["subject"]
    );
    let body = m["body"].as_str().unwrap();
    let address = view
        .steps
        .iter()
        .find(|s| s.name == "address-v4")
        .unwrap()
        .output
        .as_ref()
        .unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    for needle in [
        "telah selesai",
        "dapat diakses melalui domain",
        "Berita Acara Serah Terima terlampir",
        "SN-NOTIFY-1",
        address.as_str(),
    ] {
        assert!(
            body.contains(needle),
            "completion report lacks {needle:?}:\n{body}"
        );
    }
    let atts = m["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 1, "{atts:?}");
    assert_eq!(atts[0]["content_type"], json!("application/pdf"));
    assert_eq!(atts[0]["head"], json!("%PDF-"));
    assert!(atts[0]["filename"].as_str().unwrap().ends_with(".pdf"));

    // The host admin password given at approval appears in no message.
    for mid in [
        approved["message_id"].as_str().unwrap(),
        live["message_id"].as_str().unwrap(),
    ] {
        assert!(!the_message(mid)["raw"].as_str().unwrap().contains(CANARY));
    }
    // Sending is audited, once per notice.
    let audit = svc.store.audit_for_request(id.as_str()).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "notification.email.sent")
            .count(),
        2
    );
}

async fn sample_domain(svc: &Service, id: &RequestId) -> String {
    svc.store
        .request(id)
        .await
        .unwrap()
        .form
        .domain
        .as_str()
        .to_string()
}

/// Run twice, and after a crash between `sending` and `sent`: one message per event, and the
/// re-send after the crash carries the Message-ID saved before it.
async fn one_email_per_event_across_retries_and_crashes(db: Db) {
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let env = env(svc.clone(), lab_notifier());
    let id = approved_request(&svc, sample_form()).await;

    let first = run_notify(&env, &id, json!({ "event": "approved" }))
        .await
        .unwrap();
    let again = run_notify(&env, &id, json!({ "event": "approved" }))
        .await
        .unwrap();
    let mid = first["message_id"].as_str().unwrap();
    assert_eq!(again["message_id"], first["message_id"]);
    assert_eq!(again["email"]["sent_earlier"], json!(true), "{again}");
    assert_eq!(
        received(mid).len(),
        1,
        "re-running the step sent a second message"
    );

    // Crash between 'sending' and 'sent': the row says sending under a saved id, nothing left.
    let crashed_id = format!("<{id}.live.crash{}@kaltimprov.go.id>", std::process::id());
    let row = outbox::begin(
        &svc.store,
        id.as_str(),
        Event::Live,
        Channel::Email,
        &crashed_id,
        &[],
    )
    .await
    .unwrap();
    assert_eq!(row.status, outbox::Status::Sending);
    assert!(received(&crashed_id).is_empty());
    let resent = run_notify(&env, &id, json!({ "event": "live" }))
        .await
        .unwrap();
    assert_eq!(
        resent["message_id"],
        json!(crashed_id),
        "the re-send keeps the saved Message-ID"
    );
    run_notify(&env, &id, json!({ "event": "live" }))
        .await
        .unwrap();
    assert_eq!(received(&crashed_id).len(), 1);
    let row = outbox::get(&svc.store, id.as_str(), Event::Live, Channel::Email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.status, row.attempts), (outbox::Status::Sent, 2));
    assert!(row.detail.unwrap().starts_with("250"));
}

/// A refused login is not retried and says so; a sink that is down is retried.
async fn wrong_password_is_fatal_and_a_dead_server_is_retryable(db: Db) {
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let id = approved_request(&svc, sample_form()).await;

    let wrong = Notifier {
        mailer: Some(Arc::new(mailer(|_| {}, "not-the-password"))),
        ..Notifier::default()
    };
    let err = run_notify(
        &env(svc.clone(), wrong),
        &id,
        json!({ "event": "approved" }),
    )
    .await
    .unwrap_err();
    assert!(!err.is_retryable(), "{err:?}");
    assert!(
        err.to_string().contains("535") && err.to_string().contains("refused the login"),
        "{err}"
    );
    assert!(!err.to_string().contains("not-the-password"));
    let row = outbox::get(&svc.store, id.as_str(), Event::Approved, Channel::Email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, outbox::Status::Failed);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = Notifier {
        mailer: Some(Arc::new(mailer(|s| s.port = port, "x"))),
        ..Notifier::default()
    };
    let err = run_notify(&env(svc.clone(), down), &id, json!({ "event": "approved" }))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");

    // Plain text with the password is refused by the sink (AUTH only after STARTTLS): not retried.
    let plain = Notifier {
        mailer: Some(Arc::new(mailer(|s| s.starttls = StartTls::None, "x"))),
        ..Notifier::default()
    };
    let err = run_notify(
        &env(svc.clone(), plain),
        &id,
        json!({ "event": "approved" }),
    )
    .await
    .unwrap_err();
    assert!(!err.is_retryable(), "{err:?}");

    // With the right settings the same notice goes out, under the id saved by the first attempt.
    let sent = run_notify(
        &env(svc.clone(), lab_notifier()),
        &id,
        json!({ "event": "approved" }),
    )
    .await
    .unwrap();
    assert_eq!(sent["message_id"], json!(row.message_id));
    assert_eq!(received(&row.message_id).len(), 1);
}

/// Without a transport the step says the notice was not delivered (and the run shows it).
async fn without_smtp_the_step_says_not_delivered(db: Db) {
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let id = approved_request(&svc, sample_form()).await;
    let out = run_notify(
        &env(svc.clone(), Notifier::default()),
        &id,
        json!({ "event": "approved" }),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        json!({ "delivered": false, "reason": "no SMTP configured" })
    );
    assert!(
        outbox::get(&svc.store, id.as_str(), Event::Approved, Channel::Email)
            .await
            .unwrap()
            .is_none()
    );

    let mut form = sample_form();
    form.email = None;
    let id = approved_request(&svc, form).await;
    let out = run_notify(
        &env(svc.clone(), lab_notifier()),
        &id,
        json!({ "event": "approved" }),
    )
    .await
    .unwrap();
    assert_eq!(out["delivered"], json!(false));
    assert!(
        out["reason"]
            .as_str()
            .unwrap()
            .contains("no e-mail address"),
        "{out}"
    );
}

#[derive(Default)]
struct Receiver {
    /// (idempotency key, body) of each POST whose signature checked out.
    verified: Vec<(String, Value)>,
    rejected: usize,
}

/// A webhook receiver on 127.0.0.1:0 that recomputes the HMAC with `key`.
async fn receiver(key: &'static str) -> (String, Arc<Mutex<Receiver>>) {
    let state = Arc::new(Mutex::new(Receiver::default()));
    let s = state.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let ok = kolokasi::notify::webhook::verify(
                    key.as_bytes(),
                    &body,
                    &header("X-Kolokasi-Signature"),
                );
                let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let fresh = json["sent_at"]
                    .as_i64()
                    .is_some_and(|t| t.to_string() == header("X-Kolokasi-Timestamp"));
                let mut s = s.lock().unwrap();
                if ok && fresh {
                    s.verified.push((header("Idempotency-Key"), json));
                    StatusCode::NO_CONTENT
                } else {
                    s.rejected += 1;
                    StatusCode::UNAUTHORIZED
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

/// The receiver checks the signature; a re-run posts nothing new; a wrong key is refused and
/// not retried.
async fn webhook_is_signed_and_sent_once(db: Db) {
    const KEY: &str = "webhook-key-for-the-test-0123456789";
    let tdb = fresh_db(db).await;
    let svc = service(&tdb).await;
    let id = approved_request(&svc, sample_form()).await;
    let (url, state) = receiver(KEY).await;
    let notifier = Notifier {
        webhook: Some(Arc::new(Webhook::new(&url, Secret::new(KEY)).unwrap())),
        ..Notifier::default()
    };
    let env = env(svc.clone(), notifier);
    let out = run_notify(&env, &id, json!({ "event": "approved" }))
        .await
        .unwrap();
    assert_eq!(
        out["delivered"],
        json!(false),
        "no SMTP: the e-mail is not pretended: {out}"
    );
    assert_eq!(out["webhook"]["status"], json!("sent"), "{out}");
    run_notify(&env, &id, json!({ "event": "approved" }))
        .await
        .unwrap();
    {
        let s = state.lock().unwrap();
        assert_eq!((s.verified.len(), s.rejected), (1, 0));
        let (key, body) = &s.verified[0];
        assert!(key.starts_with(&format!("{id}:approved:")), "{key}");
        assert_eq!(body["event"], json!("approved"));
        assert_eq!(body["request_id"], json!(id.as_str()));
        assert!(!body.to_string().contains(CANARY));
    }

    let bad = Notifier {
        webhook: Some(Arc::new(
            Webhook::new(&url, Secret::new("another-key-0123456789")).unwrap(),
        )),
        ..Notifier::default()
    };
    let err = run_notify(
        &self::env(svc.clone(), bad),
        &id,
        json!({ "event": "live" }),
    )
    .await
    .unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("401"),
        "{err:?}"
    );
    assert_eq!(state.lock().unwrap().rejected, 1);
}

on_both_databases!(
    colocation_run_sends_both_notices_over_starttls_with_auth,
    one_email_per_event_across_retries_and_crashes,
    wrong_password_is_fatal_and_a_dead_server_is_retryable,
    without_smtp_the_step_says_not_delivered,
    webhook_is_signed_and_sent_once,
);

#[test]
fn addresses_are_typed_so_no_header_can_be_injected() {
    assert!(Email::parse("a@b.id\r\nBcc: x@y.id").is_err());
    assert!(Email::parse("a@b.id\nBcc:x@y.id").is_err());
}
