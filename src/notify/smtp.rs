//! E-mail over SMTP (lettre, tokio, rustls on aws-lc-rs): STARTTLS required, opportunistic or
//! off, AUTH PLAIN/LOGIN with a password from the sealed secret store, a small pool of logged-in
//! connections per process. Classifies failures: connection refused, timeouts and 4xx replies are passing
//! (retried by the engine); a refused login, a rejected address or a bad certificate are not.
//!
//! The password never leaves the transport: not in errors, not in `Debug`.
//!
//! The connections are lettre's `AsyncSmtpConnection` on a TCP socket of our own with
//! `TCP_NODELAY`: lettre writes a message's body and its final `CRLF.CRLF` separately, and with
//! Nagle's algorithm on the second write waits for the server's delayed ACK — 40 ms per message
//! on Linux, 45 ms instead of about 2 ms on the lab's sink.

use std::time::{Duration, Instant};

use lettre::message::header::ContentType;
use lettre::message::{Attachment as MailAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::Message;
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::settings::{SmtpSettings, StartTls};
use super::{Notification, NotifyError};
use crate::domain::Email;
use crate::secrets::Secret;
use crate::service::Service;

/// The sender used when `notifications.from` is not set.
pub const DEFAULT_FROM: &str = "kolokasi@localhost";
/// Display name of the sender.
pub const FROM_NAME: &str = "Data Center Diskominfo Kaltim";

/// Idle connections kept for reuse, and how long one may idle before it is dropped.
const POOL_SIZE: usize = 8;
const POOL_IDLE: Duration = Duration::from_secs(60);

pub struct Mailer {
    host: String,
    port: u16,
    starttls: StartTls,
    /// TLS settings for STARTTLS (none when `starttls: none`).
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    /// For one whole delivery: connect, STARTTLS, AUTH and the message.
    timeout: Duration,
    idle: tokio::sync::Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    from: Email,
    /// For messages: `host:port (starttls)`.
    describe: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer({}, from {})", self.describe, self.from.as_str())
    }
}

impl Mailer {
    /// From settings; a `password_secret` is opened from the sealed store.
    pub async fn from_settings(
        s: &SmtpSettings,
        from: Option<Email>,
        service: &Service,
    ) -> Result<Self, NotifyError> {
        let password = match (&s.password_secret, &s.password) {
            (Some(name), _) => Some(service.secret(name).await.map_err(|e| {
                NotifyError::Config(format!("smtp: cannot open secret {name}: {e}"))
            })?),
            (None, Some(p)) => Some(p.clone()),
            (None, None) => None,
        };
        Self::new(s, from, password)
    }

    pub fn new(
        s: &SmtpSettings,
        from: Option<Email>,
        password: Option<Secret>,
    ) -> Result<Self, NotifyError> {
        let config = |m: String| NotifyError::Config(format!("smtp {}: {m}", s.host));
        let tls = if s.starttls == StartTls::None {
            None
        } else {
            let mut params = TlsParameters::builder(s.host.clone());
            if let Some(ca) = &s.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| config(format!("cannot read ca_file {}: {e}", ca.display())))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    config(format!(
                        "ca_file {} is not a PEM certificate: {e}",
                        ca.display()
                    ))
                })?;
                params = params.add_root_certificate(cert);
            }
            Some(params.build_rustls().map_err(|e| config(format!("TLS settings: {e}")))?)
        };
        let credentials = match (&s.username, password) {
            (Some(user), Some(password)) => Some(Credentials::new(user.clone(), password.expose().to_string())),
            (Some(_), None) => {
                return Err(config(
                    "username is set but no password (password_secret or KOLOKASI_SMTP_PASSWORD)"
                        .into(),
                ));
            }
            (None, Some(_)) => return Err(config("a password is set but no username".into())),
            (None, None) => None,
        };
        let mode = match s.starttls {
            StartTls::Required => "STARTTLS required",
            StartTls::Opportunistic => "STARTTLS opportunistic",
            StartTls::None => "no TLS",
        };
        let from = match from {
            Some(f) => f,
            None => Email::parse(DEFAULT_FROM).map_err(|e| config(e.to_string()))?,
        };
        Ok(Self {
            host: s.host.clone(),
            port: s.port,
            starttls: s.starttls,
            tls,
            credentials,
            timeout: Duration::from_secs(s.timeout_seconds.max(1)),
            idle: tokio::sync::Mutex::new(Vec::new()),
            from,
            describe: format!("{}:{} ({mode})", s.host, s.port),
        })
    }

    pub fn from(&self) -> &Email {
        &self.from
    }

    /// The domain right of the `@` of the sender, for Message-IDs.
    pub fn from_domain(&self) -> &str {
        self.from
            .as_str()
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost")
    }

    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Builds the message with the given Message-ID (`<…@…>`).
    pub fn compose(&self, n: &Notification, message_id: &str) -> Result<Message, NotifyError> {
        let mailbox = |e: &Email| -> Result<Mailbox, NotifyError> {
            e.as_str()
                .parse::<lettre::Address>()
                .map(|a| Mailbox::new(None, a))
                .map_err(|e| NotifyError::Permanent(format!("address: {e}")))
        };
        let mut from = mailbox(&self.from)?;
        from.name = Some(FROM_NAME.to_string());
        let mut b = Message::builder()
            .from(from)
            .to(mailbox(&n.to)?)
            .subject(n.subject.clone())
            .message_id(Some(message_id.to_string()));
        for cc in &n.cc {
            b = b.cc(mailbox(cc)?);
        }
        let text = SinglePart::plain(n.body.clone());
        let built = if n.attachments.is_empty() {
            b.singlepart(text)
        } else {
            let mut parts = MultiPart::mixed().singlepart(text);
            for a in &n.attachments {
                let ct = ContentType::parse(&a.content_type).map_err(|e| {
                    NotifyError::Permanent(format!("attachment {}: {e}", a.filename))
                })?;
                parts = parts
                    .singlepart(MailAttachment::new(a.filename.clone()).body(a.bytes.clone(), ct));
            }
            b.multipart(parts)
        };
        built.map_err(|e| NotifyError::Permanent(format!("cannot build the message: {e}")))
    }

    /// Sends; returns the server's reply to DATA (`250 … queued as …`).
    pub async fn send(&self, message: Message) -> Result<String, NotifyError> {
        let envelope = message.envelope().clone();
        let bytes = message.formatted();
        let delivery = async {
            let mut conn = self.connection().await?;
            let reply = conn.send(&envelope, &bytes).await;
            if reply.is_ok() && !conn.has_broken() {
                let mut idle = self.idle.lock().await;
                if idle.len() < POOL_SIZE {
                    idle.push((conn, Instant::now()));
                }
            } else {
                conn.abort().await;
            }
            reply.map_err(|e| classify(&self.describe, e))
        };
        match tokio::time::timeout(self.timeout, delivery).await {
            Ok(Ok(reply)) => Ok(format!("{} {}", reply.code(), reply.message().collect::<Vec<_>>().join(" "))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(NotifyError::Transient(format!("SMTP {}: no answer within {:?}", self.describe, self.timeout))),
        }
    }

    /// Logs in one connection ahead of the first notice (a run opens its sessions early), unless
    /// one is idle already.
    pub async fn warm(&self) -> Result<(), NotifyError> {
        if !self.idle.lock().await.is_empty() {
            return Ok(());
        }
        let conn = self.connection().await?;
        self.idle.lock().await.push((conn, Instant::now()));
        Ok(())
    }

    /// A logged-in connection: an idle one that still answers NOOP, else a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, NotifyError> {
        loop {
            let Some((mut conn, since)) = self.idle.lock().await.pop() else { break };
            if since.elapsed() < POOL_IDLE && conn.test_connected().await {
                return Ok(conn);
            }
            conn.abort().await;
        }
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| NotifyError::Transient(format!("SMTP {}: cannot connect: {e}", self.describe)))?;
        tcp.set_nodelay(true).map_err(|e| NotifyError::Transient(format!("SMTP {}: {e}", self.describe)))?;
        let hello = ClientId::default();
        let lettre_err = |e| classify(&self.describe, e);
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello).await.map_err(lettre_err)?;
        match (&self.tls, self.starttls) {
            (Some(tls), StartTls::Required | StartTls::Opportunistic) if conn.can_starttls() => {
                conn.starttls(tls.clone(), &hello).await.map_err(lettre_err)?;
            }
            (_, StartTls::Required) => {
                conn.abort().await;
                return Err(NotifyError::Permanent(format!(
                    "SMTP {}: the server offers no STARTTLS and starttls is required",
                    self.describe
                )));
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await.map_err(lettre_err)?;
        }
        Ok(conn)
    }
}

fn classify(server: &str, e: lettre::transport::smtp::Error) -> NotifyError {
    let mut text = format!("SMTP {server}: {e}");
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    if e.is_transient() || e.is_timeout() {
        NotifyError::Transient(text)
    } else if e.is_permanent() || e.is_tls() || e.is_client() || e.is_response() {
        if e.status().is_some_and(|c| c.to_string() == "535") {
            text.push_str(" (the SMTP server refused the login: check notifications.smtp.username and its password)");
        }
        NotifyError::Permanent(text)
    } else {
        // Connection refused or reset, DNS failure: the server may be back soon.
        NotifyError::Transient(text)
    }
}
