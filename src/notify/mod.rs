//! Notifications of SOP steps 6 and 9: the approval notice to the requesting unit
//! ("Pemberitahuan Persetujuan") and the completion report to the unit, copied to the Kepala
//! Bidang, with the handover record attached ("Laporan Penyelesaian"). E-mail over SMTP
//! ([`smtp`]) and, optionally, a signed JSON webhook ([`webhook`]).
//!
//! - [`message`]: the notices in Bahasa Indonesia, built from typed request values only.
//! - [`outbox`]: one row per (request, event, channel): what was sent, under which Message-ID.
//! - [`settings`]: the `notifications:` section of the configuration.
//!
//! # One e-mail per event, across retries and crashes
//! Sending is a playbook step (`notify`), and steps are re-run after a crash. The step writes
//! the outbox row as `sending`, with a Message-ID generated once and saved there, *before* it
//! talks to the server, and marks the row `sent` (with the server's reply, audited) after.
//! A re-run that finds `sent` sends nothing. A re-run that finds `sending` cannot know whether
//! the crash came before or after the server accepted the message, so there is a choice:
//! - *at most once*: never re-send; a crash at the wrong moment loses the notice silently;
//! - *at least once*: re-send; a crash at the wrong moment delivers the notice twice.
//!
//! kolokasi chooses **at least once, with a stable Message-ID**: the re-sent message is the same
//! message (same Message-ID header, same webhook idempotency key), so mail clients, archives
//! and webhook receivers can drop the duplicate, and a lost notice — which in the SOP means a
//! unit that never learns its server is live — cannot happen. The window is the few
//! milliseconds between the server's `250` and the `sent` row.
//!
//! Owns the `notifications` table; must not change a request's lifecycle.

pub mod message;
pub mod outbox;
pub mod settings;
pub mod smtp;
pub mod webhook;

use std::sync::Arc;

use crate::domain::{Email, RequestId};
use crate::service::Service;

pub use settings::{NotifySettings, SmtpSettings, StartTls, WebhookSettings};
pub use smtp::Mailer;
pub use webhook::Webhook;

/// Which SOP notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// SOP step 6: the request is approved; the unit brings its server.
    Approved,
    /// SOP step 9: the server is placed, inspected and reachable.
    Live,
    /// To the data center: a live request's devices no longer hold what its run wrote
    /// (composed by `crate::drift::notice`, not by [`message::compose`]).
    Drifted,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Live => "live",
            Self::Drifted => "drifted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approved" => Some(Self::Approved),
            "live" => Some(Self::Live),
            _ => None,
        }
    }
}

/// How a notice travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Webhook => "webhook",
        }
    }
}

/// A file attached to a notice (the Berita Acara Serah Terima as PDF).
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Attachment({}, {}, {} bytes)",
            self.filename,
            self.content_type,
            self.bytes.len()
        )
    }
}

/// One notice, ready to send: recipients are typed addresses, subject and body are built from
/// typed values only (no header can be injected through a form field).
#[derive(Debug, Clone)]
pub struct Notification {
    pub request_id: RequestId,
    pub event: Event,
    pub to: Email,
    pub cc: Vec<Email>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<Attachment>,
    /// Small JSON summary for the webhook (no personal data beyond the unit and the domain).
    pub summary: serde_json::Value,
}

/// Why a notice was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A passing fault: connection refused, timeout, a 4xx reply, a webhook 5xx.
    #[error("{0}")]
    Transient(String),
    /// Retrying will not help: wrong password, rejected recipient, TLS failure, webhook 4xx.
    #[error("{0}")]
    Permanent(String),
    #[error("notification settings: {0}")]
    Config(String),
    #[error("notification outbox")]
    Store(#[from] crate::store::StoreError),
}

impl NotifyError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// The configured ways out, shared by every run of the process.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    pub mailer: Option<Arc<Mailer>>,
    pub webhook: Option<Arc<Webhook>>,
    /// The Kepala Bidang, copied on the completion report (`notifications.head_email`).
    pub head_email: Option<Email>,
}

impl Notifier {
    /// From the `notifications:` settings; passwords and webhook keys come from the sealed
    /// secret store when named there.
    pub async fn from_settings(s: &NotifySettings, service: &Service) -> Result<Self, NotifyError> {
        let mailer = match &s.smtp {
            Some(smtp) => Some(Arc::new(
                Mailer::from_settings(smtp, s.from.clone(), service).await?,
            )),
            None => None,
        };
        let webhook = match &s.webhook {
            Some(w) => Some(Arc::new(Webhook::from_settings(w, service).await?)),
            None => None,
        };
        Ok(Self {
            mailer,
            webhook,
            head_email: s.head_email.clone(),
        })
    }

    /// The lab's SMTP sink (STARTTLS, AUTH) as described in `lab.json`; no webhook.
    pub fn from_lab(lab: &crate::lab::Lab) -> Result<Self, NotifyError> {
        let Some(sink) = &lab.smtp else {
            return Ok(Self::default());
        };
        let s = NotifySettings::from_lab(sink)?;
        let password = match &sink.password_file {
            Some(p) => Some(crate::secrets::Secret::new(
                std::fs::read_to_string(p)
                    .map_err(|e| NotifyError::Config(format!("cannot read {}: {e}", p.display())))?
                    .trim(),
            )),
            None => None,
        };
        let smtp = s.smtp.as_ref().expect("from_lab sets smtp");
        let mailer = Mailer::new(smtp, s.from.clone(), password)?;
        Ok(Self {
            mailer: Some(Arc::new(mailer)),
            webhook: None,
            head_email: s.head_email,
        })
    }

    pub fn is_configured(&self) -> bool {
        self.mailer.is_some() || self.webhook.is_some()
    }
}
