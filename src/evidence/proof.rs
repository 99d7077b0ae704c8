//! `audit/proof.json`: the request's slice of the audit chain — every row from the request's
//! first one to the chain's head, contiguous — and its offline check.
//!
//! Rows of this request carry their full content as stored, so their hashes are recomputed;
//! rows of other requests carry only `(seq, prev_hash, hash)`: their content is not disclosed,
//! so they are linked but not independently checkable. The last row must be the head.
//!
//! TODO(design): this is the v1 chain (SHA-256 over the row and the previous hash); the head
//! is not signed here. The keyed chain's signed checkpoint (branch `audit-keyed`, module
//! `store::audit::proof`) replaces it when it lands.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::StoredAuditRow;

pub const FORMAT_V1: &str = "kolokasi-audit-slice/v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SliceProof {
    pub format: String,
    pub request_id: String,
    pub head_seq: i64,
    pub head_hash: String,
    pub rows: Vec<SliceRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SliceRow {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    /// The row as stored, for this request's rows only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<StoredAuditRow>,
}

/// What a proof checks out to.
#[derive(Debug, Clone, Serialize)]
pub struct ProofSummary {
    pub rows: usize,
    /// Rows whose hash was recomputed from their content.
    pub checked: usize,
    /// Rows of other requests: linked, content not disclosed.
    pub linked_only: usize,
    pub head_seq: i64,
    pub head_hash: String,
}

impl SliceProof {
    pub fn new(request_id: &str, rows: Vec<StoredAuditRow>, head: (i64, String)) -> Self {
        let rows = rows
            .into_iter()
            .map(|r| {
                let mine = r.request_id.as_deref() == Some(request_id);
                SliceRow { seq: r.seq, prev_hash: r.prev_hash.clone(), hash: r.hash.clone(), entry: mine.then_some(r) }
            })
            .collect();
        Self { format: FORMAT_V1.into(), request_id: request_id.into(), head_seq: head.0, head_hash: head.1, rows }
    }

    /// This request's audit rows, as stored.
    pub fn entries(&self) -> impl Iterator<Item = &StoredAuditRow> {
        self.rows.iter().filter_map(|r| r.entry.as_ref())
    }
}

/// The v1 row hash, exactly as `store::audit` computes it (kept here so that the check needs
/// nothing but the archive).
pub fn v1_hash(prev: &str, r: &StoredAuditRow) -> String {
    let canonical = serde_json::json!([prev, r.seq, r.at, r.actor, r.role, r.request_id, r.action, r.reason, r.before_json, r.after_json]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Checks every link, every disclosed row's hash and the head; each problem is named.
pub fn check(proof: &SliceProof) -> Result<ProofSummary, Vec<String>> {
    let mut problems = Vec::new();
    if proof.format != FORMAT_V1 {
        problems.push(format!("unknown audit proof format {:?}", proof.format));
    }
    let mut checked = 0;
    for (i, row) in proof.rows.iter().enumerate() {
        if let Some(prev) = i.checked_sub(1).map(|j| &proof.rows[j]) {
            if row.seq != prev.seq + 1 {
                problems.push(format!("audit row {} follows row {}: rows are missing from the slice", row.seq, prev.seq));
            }
            if row.prev_hash != prev.hash {
                problems.push(format!("audit row {} does not link to row {} (prev_hash differs)", row.seq, prev.seq));
            }
        }
        if let Some(e) = &row.entry {
            checked += 1;
            if e.seq != row.seq || e.prev_hash != row.prev_hash || e.hash != row.hash {
                problems.push(format!("audit row {}: its entry names other seq or hashes than the row", row.seq));
            } else if v1_hash(&e.prev_hash, e) != e.hash {
                problems.push(format!("audit row {} ({}): content does not match its hash (edited)", row.seq, e.action));
            }
            if e.request_id.as_deref() != Some(proof.request_id.as_str()) {
                problems.push(format!("audit row {} is disclosed but belongs to another request", row.seq));
            }
        }
    }
    match proof.rows.last() {
        Some(last) if last.seq != proof.head_seq || last.hash != proof.head_hash => {
            problems.push(format!("the slice ends at row {} but the head is row {} ({})", last.seq, proof.head_seq, short(&proof.head_hash)));
        }
        None => problems.push("the audit slice is empty: the request has no audit rows".into()),
        _ => {}
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ProofSummary { rows: proof.rows.len(), checked, linked_only: proof.rows.len() - checked, head_seq: proof.head_seq, head_hash: proof.head_hash.clone() })
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(16)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, prev: &str, request: &str) -> StoredAuditRow {
        let mut r = StoredAuditRow {
            seq,
            at: 1_700_000_000_000_000 + seq,
            actor: "admin.tik".into(),
            role: "admin".into(),
            request_id: Some(request.into()),
            action: "request.verify".into(),
            reason: None,
            before_json: Some(r#"{"state":"submitted"}"#.into()),
            after_json: Some(r#"{"state":"verified"}"#.into()),
            prev_hash: prev.into(),
            hash: String::new(),
        };
        r.hash = v1_hash(prev, &r);
        r
    }

    fn chain() -> SliceProof {
        let a = row(1, "genesis", "KLK-2026-00001");
        let b = row(2, &a.hash, "KLK-2026-00002");
        let c = row(3, &b.hash, "KLK-2026-00001");
        let head = (3, c.hash.clone());
        SliceProof::new("KLK-2026-00001", vec![a, b, c], head)
    }

    #[test]
    fn a_slice_checks_and_hides_other_requests() {
        let proof = chain();
        assert!(proof.rows[1].entry.is_none(), "the other request's row is linked only");
        let summary = check(&proof).unwrap();
        assert_eq!((summary.rows, summary.checked, summary.linked_only), (3, 2, 1));
    }

    #[test]
    fn an_edit_a_gap_and_a_wrong_head_are_each_named() {
        let mut edited = chain();
        edited.rows[2].entry.as_mut().unwrap().actor = "orang.lain".into();
        assert!(check(&edited).unwrap_err().iter().any(|p| p.contains("audit row 3 (request.verify): content does not match its hash")));
        let mut gap = chain();
        gap.rows.remove(1);
        let problems = check(&gap).unwrap_err();
        assert!(problems.iter().any(|p| p.contains("rows are missing")) && problems.iter().any(|p| p.contains("does not link")), "{problems:?}");
        let mut head = chain();
        head.head_seq = 4;
        assert!(check(&head).unwrap_err().iter().any(|p| p.contains("the head is row 4")));
    }
}
