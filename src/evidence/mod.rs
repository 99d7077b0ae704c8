//! The evidence bundle (issue 17 part 3): one archive with everything an auditor (BPK,
//! Inspektorat) asks about one request, checkable offline.
//!
//! - [`collect`]: the bundle's files from the store — the request and its history, every run's
//!   log, the device read-backs, the inspection facts and conformance reports, the documents.
//! - [`export`]: who may export, the audit row that anchors the files' hashes in the audit
//!   chain, the audit slice, the manifest, the archive.
//! - [`manifest`]: `manifest.json` (every file with its SHA-256 and size) and its signature.
//!
//! The audit slice is `store::audit::proof` (chain v2, signed checkpoint), checked offline.
//! - [`archive`]: the `.zip` container.
//! - [`verify`]: `evidence verify`: every check, every problem named, no database or config.
//! - [`redact`]: secrets (passwords, keys, tokens) never enter the archive.
//!
//! Reads only; the one write is the `evidence.export` audit row.

pub mod archive;
pub mod collect;
pub mod export;
pub mod manifest;
pub mod redact;
pub mod verify;

pub use export::{Bundle, export};
pub use manifest::{FileEntry, Manifest};
pub use verify::{Check, VerifyReport, verify};

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(transparent)]
    Service(#[from] crate::service::ServiceError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error("the archive cannot be read or written")]
    Zip(#[from] zip::result::ZipError),
    #[error("reading {path} failed")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl From<crate::store::StoreError> for EvidenceError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Service(e.into())
    }
}
