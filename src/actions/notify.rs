//! `notify`: sends an SOP notice to the requesting unit — `event: approved` (SOP step 6,
//! Pemberitahuan Persetujuan) or `event: live` (SOP step 9, Laporan Penyelesaian, Cc the Kepala
//! Bidang, with `attach: berita-acara`) — by e-mail and, when configured, by webhook.
//!
//! Idempotent through the outbox (one notice per request, event and channel; a re-run after a
//! crash re-sends under the same Message-ID: see [`crate::notify`]). Passing SMTP faults are
//! retried by the engine; a refused login or address stops the run for an operator.
//! Without a mail transport the step does not pretend: it succeeds with
//! `{"delivered": false, "reason": "no SMTP configured"}` and logs a warning.
//!
//! Undo: a notice cannot be recalled; there is nothing to undo, and the outbox row stays as the
//! record that it was sent.

use std::net::IpAddr;

use serde_json::{Value, json};

use crate::engine::action::{optional, required};
use crate::engine::{Action, ActionCtx, BoxFuture, Outcome, Param, ParamKind, StepError};
use crate::lifecycle::Actor;
use crate::notify::message::{self, Facts, MessageError};
use crate::notify::{Attachment, Channel, Event, Notification, outbox};
use crate::service::{DocFormat, DocumentKind, Lang};

pub struct Notify;

const PARAMS: &[Param] = &[
    required("event", ParamKind::Text),
    optional("attach", ParamKind::Text),
    optional("ipv4", ParamKind::Address),
    optional("ipv6", ParamKind::Address),
];

fn event(ctx: &ActionCtx<'_>) -> Result<Event, StepError> {
    let e = ctx.param_str("event")?;
    Event::parse(e).ok_or_else(|| StepError::invalid(format!("event {e:?}: say approved or live")))
}

fn facts(ctx: &ActionCtx<'_>) -> Facts {
    let addresses = ["ipv4", "ipv6"]
        .iter()
        .filter_map(|k| ctx.param_opt_str(k))
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .collect();
    Facts { addresses }
}


fn store_error(e: crate::store::StoreError) -> StepError {
    StepError::from(e).context("notification outbox")
}

/// The documents named by `attach`.
async fn attachments(ctx: &ActionCtx<'_>) -> Result<Vec<Attachment>, StepError> {
    match ctx.param_opt_str("attach") {
        None => Ok(Vec::new()),
        Some("berita-acara") => berita_acara(ctx).await.map(|a| vec![a]),
        Some(other) => Err(StepError::invalid(format!(
            "attach {other:?}: only berita-acara"
        ))),
    }
}

/// The Berita Acara Serah Terima as PDF, rendered from the request's record (the same bytes
/// every time, so a re-sent notice carries the same attachment). Rendering is audited by the
/// service layer; the document never carries credentials.
async fn berita_acara(ctx: &ActionCtx<'_>) -> Result<Attachment, StepError> {
    let doc = ctx
        .env
        .service
        .render_document(
            &Actor::system(),
            &ctx.request.id,
            DocumentKind::BeritaAcara,
            DocFormat::Pdf,
            Lang::Id,
            false,
        )
        .await
        .map_err(|e| StepError::from(e).context(format!("Berita Acara of {}", ctx.request.id)))?;
    Ok(Attachment {
        filename: doc.filename,
        content_type: doc.content_type.to_string(),
        bytes: doc.bytes,
    })
}

/// One channel: outbox row first, then the side effect, then `sent`.
async fn deliver(
    ctx: &ActionCtx<'_>,
    n: &Notification,
    channel: Channel,
    key: &str,
    recipients: &[String],
) -> Result<Value, StepError> {
    let store = &ctx.env.service.store;
    let id = ctx.request.id.as_str();
    let row = outbox::begin(store, id, n.event, channel, key, recipients)
        .await
        .map_err(store_error)?;
    if row.status == outbox::Status::Sent {
        return Ok(
            json!({ "status": "sent", "message_id": row.message_id, "sent_earlier": true, "detail": row.detail }),
        );
    }
    let notifier = &ctx.env.drivers.notify;
    let sent = match channel {
        Channel::Email => {
            let mailer = notifier.mailer.as_ref().expect("caller checked");
            let message = mailer.compose(n, &row.message_id).map_err(StepError::from)?;
            mailer.send(message).await
        }
        Channel::Webhook => {
            notifier
                .webhook
                .as_ref()
                .expect("caller checked")
                .send(n, &row.message_id)
                .await
        }
    };
    match sent {
        Ok(detail) => {
            outbox::mark_sent(store, &Actor::system(), &row, &detail)
                .await
                .map_err(store_error)?;
            Ok(
                json!({ "status": "sent", "message_id": row.message_id, "attempts": row.attempts, "detail": detail }),
            )
        }
        Err(e) => {
            outbox::mark_failed(store, &row, &e.to_string())
                .await
                .map_err(store_error)?;
            Err(StepError::from(e))
        }
    }
}

impl Action for Notify {
    fn name(&self) -> &'static str {
        "notify"
    }
    fn describe(&self) -> &'static str {
        "e-mail (and webhook) an SOP notice: approved (step 6) or live with the handover record (step 9)"
    }
    fn params(&self) -> &'static [Param] {
        PARAMS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &[
            "delivered",
            "reason",
            "message_id",
            "recipients",
            "email",
            "webhook",
        ]
    }
    fn plan(&self, ctx: &ActionCtx<'_>) -> String {
        let event = ctx.param_str("event").unwrap_or("?");
        let to = ctx
            .request
            .form
            .email
            .as_ref()
            .map(|e| e.as_str())
            .unwrap_or("(no e-mail address on the form)");
        let transport = match &ctx.env.drivers.notify.mailer {
            Some(m) => format!("over {}", m.describe()),
            None => "— no SMTP configured, nothing will be sent".into(),
        };
        let attach = ctx
            .param_opt_str("attach")
            .map(|a| format!(", attaching {a}"))
            .unwrap_or_default();
        format!(
            "e-mail the {event} notice to {to}{attach} {transport} (once per request, recorded in the outbox)"
        )
    }
    fn run<'a>(&'a self, ctx: &'a ActionCtx<'a>) -> BoxFuture<'a, Result<Outcome, StepError>> {
        Box::pin(async move {
            let event = event(ctx)?;
            let notifier = &ctx.env.drivers.notify;
            if !notifier.is_configured() {
                tracing::warn!(request = %ctx.request.id, event = event.as_str(), "notify: no SMTP configured, the notice is not sent");
                return Ok(Outcome::Done(
                    json!({ "delivered": false, "reason": "no SMTP configured" }),
                ));
            }
            let mut n = match message::compose(
                ctx.request,
                event,
                notifier.head_email.as_ref(),
                &facts(ctx),
            ) {
                Ok(n) => n,
                Err(e @ MessageError::NoRecipient(_)) => {
                    tracing::warn!(request = %ctx.request.id, event = event.as_str(), "notify: {e}");
                    return Ok(Outcome::Done(
                        json!({ "delivered": false, "reason": e.to_string() }),
                    ));
                }
                Err(e) => return Err(StepError::invalid(e.to_string())),
            };
            n.attachments = attachments(ctx).await?;
            let recipients: Vec<String> = std::iter::once(&n.to)
                .chain(&n.cc)
                .map(|e| e.as_str().to_string())
                .collect();
            let nonce = hex::encode(rand::random::<[u8; 8]>());
            let mut out = json!({ "recipients": recipients });
            match &notifier.mailer {
                Some(mailer) => {
                    let key = format!(
                        "<{}.{}.{nonce}@{}>",
                        ctx.request.id,
                        event.as_str(),
                        mailer.from_domain()
                    );
                    let email = deliver(ctx, &n, Channel::Email, &key, &recipients).await?;
                    out["delivered"] = json!(true);
                    out["message_id"] = email["message_id"].clone();
                    out["email"] = email;
                }
                None => {
                    tracing::warn!(request = %ctx.request.id, event = event.as_str(), "notify: no SMTP configured, only the webhook is sent");
                    out["delivered"] = json!(false);
                    out["reason"] = json!("no SMTP configured");
                }
            }
            if notifier.webhook.is_some() {
                let key = format!("{}:{}:{nonce}", ctx.request.id, event.as_str());
                out["webhook"] = deliver(ctx, &n, Channel::Webhook, &key, &recipients).await?;
            }
            Ok(Outcome::Done(out))
        })
    }
    fn undo<'a>(
        &'a self,
        ctx: &'a ActionCtx<'a>,
        _output: Option<&'a Value>,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            // A notice cannot be recalled; the outbox row stays as the record that it was sent.
            tracing::info!(request = %ctx.request.id, step = ctx.step, "notify: nothing to undo (a sent notice cannot be recalled)");
            Ok(())
        })
    }
}
