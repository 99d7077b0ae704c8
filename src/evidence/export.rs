//! `evidence export`: who may (an admin or the auditor), and the order that anchors the bundle
//! in the audit chain — collect the files, write the `evidence.export` audit row that records
//! each file's SHA-256, then take the audit proof (a signed checkpoint of the head, which is at
//! or after that row) and write the manifest, signed with the same checkpoint key (Ed25519).

use std::time::Instant;

use serde_json::json;
use time::OffsetDateTime;

use super::EvidenceError;
use super::collect::{self, File};
use super::manifest::{self, FileEntry, Manifest};
use crate::domain::RequestId;
use crate::lifecycle::{Actor, Role};
use crate::service::{Service, access};
use crate::store::AuditEntry;

/// Roles that may export a request's evidence (it holds personal data: names, NIPs).
pub const MAY_EXPORT: &[Role] = &[Role::Admin, Role::Auditor];

/// An exported bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest: Manifest,
    /// The `.zip`.
    pub bytes: Vec<u8>,
    /// `evidence-KLK-2026-00001.zip`.
    pub filename: String,
    pub elapsed_ms: u64,
}

/// Exports request `id`'s evidence (audited as `evidence.export`).
pub async fn export(svc: &Service, actor: &Actor, id: &RequestId) -> Result<Bundle, EvidenceError> {
    access::require(actor, MAY_EXPORT, "exporting a request's evidence")?;
    let started = Instant::now();
    let row = svc.store.request(id).await?;
    let (mut files, notes) = collect::collect(svc, actor, id).await?;
    let entries: Vec<FileEntry> = files.iter().map(|f| FileEntry::of(&f.path, &f.bytes)).collect();

    let mut w = svc.store.write().await?;
    let export_seq = w
        .audit(AuditEntry {
            actor: actor.clone(),
            request_id: Some(id.to_string()),
            action: "evidence.export".into(),
            reason: None,
            before: None,
            after: Some(json!({ "files": entries, "nips": access::nips(&row) })),
        })
        .await?;
    w.commit().await?;

    // A fresh checkpoint of the head, signed, and every row from the request's first to it.
    let proof = svc.store.audit_proof(id.as_str()).await?;
    // The proof is written as stored: redaction would change the hashed content.
    files.push(File { path: manifest::PROOF.into(), bytes: serde_json::to_vec_pretty(&proof).expect("serialisable") });

    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        request_id: id.to_string(),
        created_at: OffsetDateTime::now_utc(),
        created_by: format!("{} ({})", actor.name, actor.role),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        export_audit_seq: export_seq,
        files: files.iter().map(|f| FileEntry::of(&f.path, &f.bytes)).collect(),
        notes,
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("serialisable");
    let (key_id, public_key, signature) = svc.store.sign_with_checkpoint_key(&manifest::signed_message(&manifest_bytes)).await?;
    let signature = manifest::ManifestSignature { key_id, public_key, signature };
    let mut all = vec![
        File { path: manifest::MANIFEST.into(), bytes: manifest_bytes },
        File { path: manifest::SIGNATURE.into(), bytes: serde_json::to_vec_pretty(&signature).expect("serialisable") },
    ];
    all.extend(files);
    let bytes = super::archive::write(&all)?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(request = %id, actor = %actor.name, files = manifest.files.len(), bytes = bytes.len(), elapsed_ms, "evidence exported");
    Ok(Bundle { manifest, bytes, filename: format!("evidence-{id}.zip"), elapsed_ms })
}
