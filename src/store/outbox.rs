//! The outbox's rows: one per (request, event key, channel), written `sending` before the
//! message leaves and `sent` after (audited), so a re-run knows whether to send and under which
//! Message-ID. [`crate::notify::outbox`] is the typed door to it (see the module doc of
//! [`crate::notify`]).

use serde::Serialize;
use sqlx::Row;
use time::OffsetDateTime;

use super::{AuditEntry, Store, StoreError, from_micros, micros};
use crate::lifecycle::Actor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Written before the message leaves: a re-run re-sends under the same Message-ID.
    Sending,
    /// The server accepted it: a re-run sends nothing.
    Sent,
    /// The last attempt failed and nothing was accepted; a re-run sends under the same id.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "sending" => Ok(Self::Sending),
            "sent" => Ok(Self::Sent),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::corrupt(format!(
                "notification status {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub request_id: String,
    pub event: String,
    pub channel: String,
    pub status: Status,
    /// The Message-ID (e-mail) or idempotency key (webhook), the same on every attempt.
    pub message_id: String,
    pub recipients: Vec<String>,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
    /// The server's reply, or the last error.
    pub detail: Option<String>,
}

macro_rules! select {
    ($rest:literal) => {
        concat!("SELECT request_id, event, channel, status, message_id, recipients_json, attempts, sent_at, detail FROM notifications ", $rest)
    };
}

fn row(r: &sqlx::any::AnyRow) -> Result<OutboxRow, StoreError> {
    Ok(OutboxRow {
        request_id: r.get(0),
        event: r.get(1),
        channel: r.get(2),
        status: Status::parse(&r.get::<String, _>(3))?,
        message_id: r.get(4),
        recipients: serde_json::from_str(&r.get::<String, _>(5)).map_err(StoreError::corrupt)?,
        attempts: r.get(6),
        sent_at: r.get::<Option<i64>, _>(7).map(from_micros),
        detail: r.get(8),
    })
}

/// The row of one notice by its event key as stored (`live`, or `drifted#2`: one notice per
/// drift episode) and channel, if it was ever attempted.
pub async fn get_keyed(
    store: &Store,
    request_id: &str,
    event: &str,
    channel: &str,
) -> Result<Option<OutboxRow>, StoreError> {
    let r = sqlx::query(select!(
        "WHERE request_id = $1 AND event = $2 AND channel = $3"
    ))
    .bind(request_id)
    .bind(event)
    .bind(channel)
    .fetch_optional(store.pool())
    .await?;
    r.as_ref().map(row).transpose()
}

/// Every notice of a request.
pub async fn for_request(store: &Store, request_id: &str) -> Result<Vec<OutboxRow>, StoreError> {
    let rows = sqlx::query(select!(
        "WHERE request_id = $1 ORDER BY created_at, event, channel"
    ))
    .bind(request_id)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(row).collect()
}

/// Records an attempt before the message leaves. The first attempt saves `message_id`; later
/// ones keep the saved one. Returns the row as it now stands: if it says `sent`, send nothing.
pub async fn begin_keyed(
    store: &Store,
    request_id: &str,
    event: &str,
    channel: &str,
    message_id: &str,
    recipients: &[String],
) -> Result<OutboxRow, StoreError> {
    let now = micros(OffsetDateTime::now_utc());
    let recipients = serde_json::to_string(recipients).map_err(StoreError::corrupt)?;
    sqlx::query(
        "INSERT INTO notifications (request_id, event, channel, status, message_id, recipients_json, attempts, created_at, updated_at)
         VALUES ($1, $2, $3, 'sending', $4, $5, 0, $6, $6) ON CONFLICT DO NOTHING",
    )
    .bind(request_id)
    .bind(event)
    .bind(channel)
    .bind(message_id)
    .bind(&recipients)
    .bind(now)
    .execute(store.pool())
    .await?;
    sqlx::query(
        "UPDATE notifications SET status = 'sending', attempts = attempts + 1, recipients_json = $4, updated_at = $5
         WHERE request_id = $1 AND event = $2 AND channel = $3 AND status <> 'sent'",
    )
    .bind(request_id)
    .bind(event)
    .bind(channel)
    .bind(&recipients)
    .bind(now)
    .execute(store.pool())
    .await?;
    get_keyed(store, request_id, event, channel)
        .await?
        .ok_or_else(|| StoreError::corrupt("notification row vanished"))
}

/// The server accepted the message: marks the row `sent` and audits it, in one transaction.
pub async fn mark_sent(
    store: &Store,
    actor: &Actor,
    sent: &OutboxRow,
    detail: &str,
) -> Result<(), StoreError> {
    let now = OffsetDateTime::now_utc();
    let mut w = store.write().await?;
    let changed = sqlx::query(
        "UPDATE notifications SET status = 'sent', sent_at = $4, detail = $5, updated_at = $4
         WHERE request_id = $1 AND event = $2 AND channel = $3 AND status <> 'sent'",
    )
    .bind(&sent.request_id)
    .bind(&sent.event)
    .bind(&sent.channel)
    .bind(micros(now))
    .bind(detail)
    .execute(w.conn())
    .await?
    .rows_affected();
    if changed == 1 {
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(sent.request_id.clone()),
            action: format!("notification.{}.sent", sent.channel),
            reason: Some(detail.to_string()),
            before: None,
            after: Some(serde_json::json!({
                "event": sent.event,
                "message_id": sent.message_id,
                "recipients": sent.recipients,
                "attempts": sent.attempts,
            })),
        })
        .await?;
    }
    w.commit().await
}

/// Nothing was accepted this attempt; the next one re-sends under the same id.
pub async fn mark_failed(store: &Store, row: &OutboxRow, error: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE notifications SET status = $4, detail = $5, updated_at = $6
         WHERE request_id = $1 AND event = $2 AND channel = $3 AND status <> 'sent'",
    )
    .bind(&row.request_id)
    .bind(&row.event)
    .bind(&row.channel)
    .bind(Status::Failed.as_str())
    .bind(error)
    .bind(micros(OffsetDateTime::now_utc()))
    .execute(store.pool())
    .await?;
    Ok(())
}
