//! Rendering the SOP's documents through the service layer: who may see what, the record the
//! document is made from, and the audit row every rendering writes (a document is a read of
//! personal data; one that carries the host admin password is a reveal, audited as such).

use serde_json::json;

use super::{Service, ServiceError, access};
use crate::documents::{self, DocFormat, Document, DocumentKind, Lang, Record};
use crate::domain::{HostAdmin, RequestId};
use crate::lifecycle::{Actor, Role};
use crate::store::AuditEntry;

/// Roles that may print the host admin credentials (Form Persetujuan's Co-Location block).
const MAY_REVEAL: &[Role] = &[Role::Admin, Role::Head];

impl Service {
    /// Renders one document of request `id`. The host admin password appears only with
    /// `include_credentials`, for an admin or the Kepala Bidang, on the Form Persetujuan; the
    /// rendering is audited (`document.render`, and `document.reveal_credentials` for a reveal)
    /// before the bytes are returned.
    pub async fn render_document(
        &self,
        actor: &Actor,
        id: &RequestId,
        kind: DocumentKind,
        format: DocFormat,
        lang: Lang,
        include_credentials: bool,
    ) -> Result<Document, ServiceError> {
        if include_credentials {
            access::require(actor, MAY_REVEAL, "printing the host admin credentials")?;
            if kind != DocumentKind::Persetujuan {
                return Err(ServiceError::Invalid(format!("only the Form Persetujuan carries credentials, not the {kind}")));
            }
        }
        let (row, events) = tokio::try_join!(self.store.request(id), self.store.request_events(id))?;
        access::scope(actor, id.as_str(), row.form.unit.name.as_str())?;
        let run_id = crate::domain::RunId::new(id, Service::provisioning_playbook(row.form.kind)).to_string();
        let provisioning = self.store.step_outputs(&run_id).await?;

        let password = if include_credentials {
            let sealed = row.approval.as_ref().and_then(|a| a.colocation.as_ref()).and_then(|c| c.host_admin.as_ref()).and_then(|h| h.password.as_ref());
            let sealed = sealed.ok_or_else(|| ServiceError::Conflict(format!("request {id} has no host admin password recorded")))?;
            Some(self.key()?.open(sealed, &HostAdmin::seal_context(id))?)
        } else {
            None
        };

        let nips = access::nips(&row);
        let templates = self.templates.clone();
        let record_kind = kind;
        let (bytes, sha256) = tokio::task::spawn_blocking(move || {
            let record = Record { request: &row, events: &events, provisioning: &provisioning, host_admin_password: password.as_ref() };
            let office = templates.office()?;
            let data = documents::document_data(&record, record_kind, lang, &office)?;
            let sha = data["sha256"].as_str().unwrap_or_default().to_string();
            Ok::<_, documents::DocumentError>((documents::render(&templates, record_kind, format, lang, &data)?, sha))
        })
        .await
        .map_err(|e| ServiceError::Invalid(format!("rendering stopped: {e}")))??;

        let detail = json!({ "kind": kind, "format": format, "lang": lang, "sha256": sha256, "credentials": include_credentials, "nips": nips });
        let mut w = self.store.write().await?;
        w.audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(id.to_string()),
            action: "document.render".into(),
            reason: None,
            before: None,
            after: Some(detail.clone()),
        })
        .await?;
        if include_credentials {
            w.audit(AuditEntry {
                actor: actor.clone(),
                request_id: Some(id.to_string()),
                action: "document.reveal_credentials".into(),
                reason: None,
                before: None,
                after: Some(json!({ "kind": kind, "sha256": sha256, "secret": "host_admin" })),
            })
            .await?;
        }
        w.commit().await?;
        tracing::info!(request = %id, actor = %actor.name, %kind, format = format.as_str(), credentials = include_credentials, "document rendered");
        Ok(Document { bytes, content_type: format.content_type(), filename: documents::filename(id.as_str(), kind, lang, format), sha256 })
    }
}
