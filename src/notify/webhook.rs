//! The optional webhook: one JSON POST per notice, signed so the receiver can tell it came from
//! kolokasi and was not altered.
//!
//! Headers:
//! - `X-Kolokasi-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>` under the shared
//!   key (from the sealed secret store);
//! - `X-Kolokasi-Timestamp: <unix seconds>`, also inside the signed body as `sent_at`, so a
//!   receiver can refuse stale replays;
//! - `Idempotency-Key: <key>`, the same on every re-send of one notice (see the module doc of
//!   [`crate::notify`]): receivers drop a key they have seen.
//!
//! A 2xx reply is delivery; 408, 429 and 5xx or no answer are passing faults; other 4xx are not.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::settings::WebhookSettings;
use super::{Notification, NotifyError};
use crate::secrets::Secret;
use crate::service::Service;

pub const SIGNATURE_HEADER: &str = "X-Kolokasi-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Kolokasi-Timestamp";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

pub struct Webhook {
    url: reqwest::Url,
    key: Secret,
    client: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({}, key [redacted])", self.url)
    }
}

/// `sha256=<hex>` of `body` under `key`: what the receiver recomputes.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header in constant time (for receivers, and the tests' receiver).
pub fn verify(key: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

impl Webhook {
    pub async fn from_settings(
        s: &WebhookSettings,
        service: &Service,
    ) -> Result<Self, NotifyError> {
        let key = match (&s.secret_name, &s.secret) {
            (Some(name), _) => {
                service.secret(name).await.map_err(|e| NotifyError::Config(format!("webhook: cannot open secret {name}: {e}")))?
            }
            (None, Some(k)) => k.clone(),
            (None, None) => return Err(NotifyError::Config("webhook: set secret_name (or KOLOKASI_WEBHOOK_SECRET): unsigned webhooks are not sent".into())),
        };
        Self::new(&s.url, key)
    }

    pub fn new(url: &str, key: Secret) -> Result<Self, NotifyError> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| NotifyError::Config(format!("webhook url {url:?}: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(NotifyError::Config(format!(
                "webhook url {url}: only http(s)"
            )));
        }
        if key.expose().len() < 16 {
            return Err(NotifyError::Config(
                "webhook key: at least 16 characters".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NotifyError::Config(format!("webhook client: {e}")))?;
        Ok(Self { url, key, client })
    }

    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Posts the notice; returns the receiver's status line.
    pub async fn send(
        &self,
        n: &Notification,
        idempotency_key: &str,
    ) -> Result<String, NotifyError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = serde_json::to_vec(&json!({
            "event": n.event.as_str(),
            "request_id": n.request_id.as_str(),
            "idempotency_key": idempotency_key,
            "sent_at": now,
            "subject": n.subject,
            "summary": n.summary,
        }))
        .expect("JSON of plain values");
        let reply = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(self.key.expose().as_bytes(), &body),
            )
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(IDEMPOTENCY_HEADER, idempotency_key)
            .body(body)
            .send()
            .await
            .map_err(|e| NotifyError::Transient(format!("webhook {}: {e}", self.url)))?;
        let status = reply.status();
        let line = format!("HTTP {status}");
        if status.is_success() {
            Ok(line)
        } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Err(NotifyError::Transient(format!(
                "webhook {}: {line}",
                self.url
            )))
        } else {
            Err(NotifyError::Permanent(format!(
                "webhook {}: {line}",
                self.url
            )))
        }
    }
}
