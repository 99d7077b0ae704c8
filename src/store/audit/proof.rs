//! The audit proof of one request, pure (no database): the request's audit rows in full, the
//! digests and hashes of every row between them and a signed checkpoint of the head. Anyone with
//! the proof (and, better, the checkpoint key from elsewhere) checks it offline without learning
//! other requests' contents.
//!
//! v1 rows (written before chain v2) inside the slice carry `digest = ""`: they are checked for
//! their link, and for their v1 hash when their content is included, and counted in
//! [`ProofSummary::v1_rows`] ("linked but not independently checkable" when content is absent).

use serde::{Deserialize, Serialize};

use super::AuditRecord;
use super::chain::{self, Canonical};
pub use super::checkpoint::{Checkpoint, CheckpointError};
use crate::store::micros;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProof {
    pub request_id: String,
    /// Contiguous rows from the request's first audit row up to `checkpoint.seq`.
    pub rows: Vec<ProofRow>,
    pub checkpoint: Checkpoint,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProofRow {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    /// Empty for a v1 row.
    pub digest: String,
    /// Full content only for the request's own rows.
    pub entry: Option<AuditRecord>,
}

impl Eq for ProofRow {}

/// Which key the checkpoint's signature was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignedBy {
    /// The key the verifier passed in (from elsewhere than the proof).
    TrustedKey,
    /// Only the key inside the proof: shows integrity, not who signed.
    EmbeddedKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofSummary {
    pub request_id: String,
    pub first_seq: i64,
    pub checkpoint_seq: i64,
    pub checkpoint_hash: String,
    pub rows: usize,
    /// Rows whose content was included and checked.
    pub entries: usize,
    /// v1 rows: linked; their content is checked only when included.
    pub v1_rows: usize,
    pub signed_by: SignedBy,
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof has no rows")]
    Empty,
    #[error("the first row {seq} is not one of request {request}'s rows")]
    FirstRow { seq: i64, request: String },
    #[error("row {seq} follows row {prev}: rows are missing")]
    Gap { seq: i64, prev: i64 },
    #[error("row {seq} does not link to the previous row's hash")]
    Link { seq: i64 },
    #[error("row {seq}'s content does not match its digest")]
    Digest { seq: i64 },
    #[error("row {seq}'s hash does not match its digest and link")]
    Hash { seq: i64 },
    #[error("row {seq}'s content belongs to another request or another row")]
    Entry { seq: i64 },
    #[error("the last row ({seq}) is not the checkpoint's row {checkpoint} with its hash")]
    Head { seq: i64, checkpoint: i64 },
    #[error("checkpoint")]
    Signature(#[source] CheckpointError),
}

/// Checks one row on its own: content against digest (or v1 hash), digest and link against hash.
fn check_row(row: &ProofRow, request_id: &str) -> Result<(), ProofError> {
    let seq = row.seq;
    let texts = row.entry.as_ref().map(|e| (e.before.as_ref().map(|v| v.to_string()), e.after.as_ref().map(|v| v.to_string())));
    let canonical = row.entry.as_ref().zip(texts.as_ref()).map(|(e, (before, after))| {
        if e.seq != seq || e.request_id.as_deref() != Some(request_id) || e.hash != row.hash {
            return Err(ProofError::Entry { seq });
        }
        Ok(Canonical {
            seq,
            at: micros(e.at),
            actor: &e.actor,
            role: &e.role,
            request_id: e.request_id.as_deref(),
            action: &e.action,
            reason: e.reason.as_deref(),
            before: before.as_deref(),
            after: after.as_deref(),
        })
    });
    let canonical = canonical.transpose()?;
    if row.digest.is_empty() {
        // v1: the hash covers content and link together; checkable only with the content.
        return match canonical {
            Some(c) if chain::v1_hash(&row.prev_hash, &c) != row.hash => Err(ProofError::Hash { seq }),
            _ => Ok(()),
        };
    }
    if let Some(c) = canonical
        && chain::digest(&c) != row.digest
    {
        return Err(ProofError::Digest { seq });
    }
    if chain::link_hash(&row.prev_hash, seq, &row.digest) != row.hash {
        return Err(ProofError::Hash { seq });
    }
    Ok(())
}

/// Verifies a proof: every row, every link, the checkpoint row and its signature (against
/// `trusted_public_key`, hex, if given; else against the key embedded in the checkpoint).
pub fn verify(proof: &AuditProof, trusted_public_key: Option<&str>) -> Result<ProofSummary, ProofError> {
    let first = proof.rows.first().ok_or(ProofError::Empty)?;
    if first.entry.as_ref().and_then(|e| e.request_id.as_deref()) != Some(proof.request_id.as_str()) {
        return Err(ProofError::FirstRow { seq: first.seq, request: proof.request_id.clone() });
    }
    let (mut entries, mut v1_rows) = (0, 0);
    let mut prev: Option<&ProofRow> = None;
    for row in &proof.rows {
        if let Some(p) = prev {
            if row.seq != p.seq + 1 {
                return Err(ProofError::Gap { seq: row.seq, prev: p.seq });
            }
            if row.prev_hash != p.hash {
                return Err(ProofError::Link { seq: row.seq });
            }
        }
        check_row(row, &proof.request_id)?;
        entries += usize::from(row.entry.is_some());
        v1_rows += usize::from(row.digest.is_empty());
        prev = Some(row);
    }
    let last = prev.expect("at least one row");
    let cp = &proof.checkpoint;
    if last.seq != cp.seq || last.hash != cp.hash {
        return Err(ProofError::Head { seq: last.seq, checkpoint: cp.seq });
    }
    cp.verify_signature(trusted_public_key).map_err(ProofError::Signature)?;
    Ok(ProofSummary {
        request_id: proof.request_id.clone(),
        first_seq: first.seq,
        checkpoint_seq: cp.seq,
        checkpoint_hash: cp.hash.clone(),
        rows: proof.rows.len(),
        entries,
        v1_rows,
        signed_by: if trusted_public_key.is_some() { SignedBy::TrustedKey } else { SignedBy::EmbeddedKey },
        public_key: trusted_public_key.unwrap_or(&cp.public_key).to_string(),
    })
}
