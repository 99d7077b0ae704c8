//! One notice per newly drifted request, to the data center (the Kepala Bidang's address,
//! `notifications.head_email`), in Bahasa Indonesia, through the notifications outbox under
//! the event key `drifted#<episode>`: a request that drifts, is repaired and drifts again gets
//! a second notice; the same drift seen by every later check (or by two replicas) gets none.

use serde_json::json;

use super::report::DriftReport;
use super::DriftError;
use crate::domain::RequestId;
use crate::lifecycle::Actor;
use crate::notify::{Channel, Event, Notification, outbox};

fn compose(report: &DriftReport, to: crate::domain::Email, id: RequestId) -> Notification {
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let items: String = report
        .drifted
        .iter()
        .map(|d| format!("  - {} (perangkat {}, langkah {})\n    seharusnya: {}\n    ditemukan:  {}\n", d.item, d.device, d.step, show(&d.expected), show(&d.found)))
        .collect();
    let body = format!(
        "Yth. Pengelola Data Center,\n\nPemeriksaan konfigurasi menemukan bahwa perangkat untuk permohonan {id} tidak lagi sesuai \
         dengan yang dituliskan oleh kolokasi ({} butir menyimpang):\n\n{items}\n\
         Perbaiki dengan `kolokasi drift repair {id}`, atau terima penyimpangan dengan \
         `kolokasi drift accept {id} BUTIR --reason …`.\n\n(Pesan ini dikirim otomatis oleh kolokasi.)\n",
        report.drifted.len()
    );
    Notification {
        request_id: id.clone(),
        event: Event::Drifted,
        to,
        cc: Vec::new(),
        subject: format!("Penyimpangan konfigurasi {id}: {} butir", report.drifted.len()),
        body,
        attachments: Vec::new(),
        summary: json!({ "drifted": report.drifted.iter().map(|d| &d.item).collect::<Vec<_>>() }),
    }
}

/// Sends the notice of drift `episode` of the report's request (once: the outbox row and the
/// drift row both say so), by e-mail and, when configured, webhook.
pub async fn send(notifier: &crate::notify::Notifier, store: &crate::store::Store, report: &DriftReport, episode: i64) -> Result<(), DriftError> {
    let Some(to) = notifier.head_email.clone() else {
        tracing::warn!(request = %report.request, "drift: no notifications.head_email configured; the drift is recorded but nobody is told");
        return Ok(());
    };
    let id = RequestId::parse(&report.request).map_err(crate::store::StoreError::corrupt)?;
    let n = compose(report, to, id);
    let key = format!("{}#{episode}", Event::Drifted.as_str());
    let recipients = vec![n.to.as_str().to_string()];
    let failed = |source| DriftError::Notify { request: report.request.clone(), source };
    if let Some(mailer) = &notifier.mailer {
        let message_id = format!("<{}.drifted-{episode}.{}@{}>", report.request, hex::encode(rand::random::<[u8; 6]>()), mailer.from_domain());
        let row = outbox::begin_keyed(store, &report.request, &key, Channel::Email, &message_id, &recipients).await?;
        if row.status != outbox::Status::Sent {
            let message = mailer.compose(&n, &row.message_id).map_err(failed)?;
            match mailer.send(message).await {
                Ok(detail) => outbox::mark_sent(store, &Actor::system(), &row, &detail).await?,
                Err(e) => {
                    outbox::mark_failed(store, &row, &e.to_string()).await?;
                    return Err(failed(e));
                }
            }
        }
    }
    if let Some(webhook) = &notifier.webhook {
        let idempotency = format!("{}:drifted:{episode}", report.request);
        let row = outbox::begin_keyed(store, &report.request, &key, Channel::Webhook, &idempotency, &recipients).await?;
        if row.status != outbox::Status::Sent {
            match webhook.send(&n, &row.message_id).await {
                Ok(detail) => outbox::mark_sent(store, &Actor::system(), &row, &detail).await?,
                Err(e) => {
                    outbox::mark_failed(store, &row, &e.to_string()).await?;
                    return Err(failed(e));
                }
            }
        }
    }
    store.mark_drift_notified(&report.request, episode).await?;
    Ok(())
}
