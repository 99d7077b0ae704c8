//! `manifest.json`: what the archive holds — every other file with its SHA-256 and size — and
//! for which request, when, by whom, by which kolokasi.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The archive format this kolokasi writes and checks.
pub const FORMAT: &str = "kolokasi-evidence/1";
pub const MANIFEST: &str = "manifest.json";
/// The manifest's Ed25519 signature by the audit checkpoint key, when one is configured.
pub const SIGNATURE: &str = "manifest.sig.json";
pub const PROOF: &str = "audit/proof.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub request_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub tool_version: String,
    /// The `evidence.export` audit row that records these files' hashes (all but the proof).
    pub export_audit_seq: i64,
    pub files: Vec<FileEntry>,
    /// What the bundle could not include, and why (a document not yet applicable, …).
    #[serde(default)]
    pub notes: Vec<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl FileEntry {
    pub fn of(path: &str, bytes: &[u8]) -> Self {
        Self { path: path.to_string(), sha256: sha256_hex(bytes), size: bytes.len() as u64 }
    }
}

/// The text an Ed25519 manifest signature covers.
pub fn signed_message(manifest_bytes: &[u8]) -> String {
    format!("kolokasi-evidence-manifest\n{}", sha256_hex(manifest_bytes))
}

/// `manifest.sig.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestSignature {
    pub key_id: String,
    /// Hex Ed25519 public key.
    pub public_key: String,
    /// Hex Ed25519 signature over [`signed_message`].
    pub signature: String,
}
