//! The service layer: every operation the CLI, the REST API and (later) the console offer, each
//! checked against the lifecycle and written with its audit row in one transaction.
//!
//! Owns no I/O of its own beyond the store; front ends parse input into domain types first.

pub(crate) mod access;
mod assets;
pub mod audit_checkpoints;
mod commands;
mod documents;
mod host_admin_key;
mod ipam;
mod oversight;
pub(crate) mod ownership;
mod privacy;
mod rekey;
mod requests;
mod secrets;
mod sessions;
mod directory_sign_in;
mod users;

use std::sync::Arc;

use crate::capacity::Inventory;
use crate::domain::FormError;
use crate::lifecycle::{Calendar, TransitionError};
use crate::secrets::{CipherError, MasterKey};
use crate::store::{Store, StoreError};

pub use commands::{ApproveInput, Command, RejectInput};
pub use crate::documents::{DocFormat, Document, DocumentKind, Lang};
pub use assets::ExportFormat;
pub use host_admin_key::{AttachedKey, describe_private_key, host_admin_key_name};
pub use privacy::{PrivacyExport, RequestNaming};
pub use rekey::RotationReport;
pub use requests::{RequestView, view_approval};
pub use sessions::{ConsoleSession, NewSession};
pub use users::{NewUser, TokenView, UserView};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    /// Authentication failed; the message is generic on purpose (no hint which part was wrong).
    #[error("{0}")]
    Unauthorized(String),
    /// Too many failed sign-ins from this address or for this account.
    #[error(transparent)]
    RateLimited(#[from] crate::auth::Limited),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("storage failed")]
    Store(#[source] StoreError),
    #[error(transparent)]
    Document(#[from] crate::documents::DocumentError),
    #[error("secret handling failed")]
    Cipher(#[from] CipherError),
    /// The office directory cannot check a directory user's sign-in now; local accounts
    /// still sign in.
    #[error("the office directory cannot be reached to check this sign-in; local accounts still sign in")]
    DirectoryUnavailable(#[source] crate::auth::DirectoryError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict(why) => Self::Conflict(why),
            // The holder stays unnamed here: a requester may not learn another unit's request.
            StoreError::Claimed { name, .. } => Self::Conflict(format!("{name} is already claimed by another request")),
            other => Self::Store(other),
        }
    }
}

/// Shared state of one kolokasi process.
#[derive(Clone)]
pub struct Service {
    pub store: Store,
    pub inventory: Arc<Inventory>,
    pub calendar: Arc<Calendar>,
    key: Option<Arc<MasterKey>>,
    /// Playbook definitions by name (JSON), set by the engine: runs are created from them in
    /// the same transaction as the lifecycle event that starts them.
    run_definitions: Arc<std::collections::BTreeMap<String, String>>,
    /// Forward zones the engine's DNS drivers serve (besides the inventory's DNS devices).
    dns_zones: Arc<Vec<crate::domain::Fqdn>>,
    /// The document templates (`templates/` unless configured).
    templates: Arc<crate::documents::Templates>,
    /// Failed API-token uses per address and the audit budget of failures (in memory, per
    /// process); password sign-ins are limited in the store (`auth_limits`), shared by replicas.
    limiter: Arc<crate::auth::AuthLimiter>,
    /// Password verifications allowed at once (argon2id takes ~19 MiB each).
    verifications: Arc<tokio::sync::Semaphore>,
    /// Set when this process's run worker has stopped on its own: readiness fails from then on.
    worker_down: Arc<std::sync::atomic::AtomicBool>,
    /// The office directory people may sign in with, beside local users (`directory:`).
    directory: Option<Arc<crate::auth::Directory>>,
}

/// A reason from a person (an audit row's "why"): visible text only, at most 500 characters
/// (see [`crate::domain::text::reason`]); `None` when blank. The one check every reason passes:
/// service commands, run controls, ownership and drift actions.
pub fn checked_reason(reason: &str) -> Result<Option<String>, ServiceError> {
    crate::domain::text::reason(reason).map_err(|e| ServiceError::Invalid(format!("reason: {e}")))
}

/// Password verifications at once unless configured: 4 × ~19 MiB.
pub const DEFAULT_VERIFICATION_SLOTS: usize = 4;

impl Service {
    pub fn new(store: Store, inventory: Inventory, calendar: Calendar, key: Option<MasterKey>) -> Self {
        let key = key.map(Arc::new);
        // The audit chain's keys are sealed under the master key too (see store::audit).
        store.use_master_key(key.clone());
        Self { store, inventory: Arc::new(inventory), calendar: Arc::new(calendar), key, run_definitions: Arc::default(), dns_zones: Arc::default(), limiter: Arc::default(), verifications: Arc::new(tokio::sync::Semaphore::new(DEFAULT_VERIFICATION_SLOTS)), worker_down: Arc::default(), directory: None, templates: Arc::new(crate::documents::Templates::new(crate::documents::default_template_dir())) }
    }

    /// At most `slots` password verifications at once (`auth_verification_slots`).
    pub fn with_verification_slots(mut self, slots: usize) -> Self {
        self.verifications = Arc::new(tokio::sync::Semaphore::new(slots.max(1)));
        self
    }

    /// Signs people unknown locally (or marked as directory users) in through `directory`.
    pub fn with_directory(mut self, directory: crate::auth::Directory) -> Self {
        self.directory = Some(Arc::new(directory));
        self
    }

    /// `serve` says its run worker stopped unasked; `/health/ready` answers 503 from then on.
    pub fn report_worker_down(&self) {
        self.worker_down.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn worker_is_down(&self) -> bool {
        self.worker_down.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn with_run_definitions(mut self, definitions: std::collections::BTreeMap<String, String>) -> Self {
        self.run_definitions = Arc::new(definitions);
        self
    }

    /// The forward zones the engine's DNS drivers write (for the zone-apex and outside-name rules).
    pub fn with_dns_zones(mut self, zones: Vec<crate::domain::Fqdn>) -> Self {
        self.dns_zones = Arc::new(zones);
        self
    }

    /// Reads the document templates from `dir` (with the documents in `dir/documents/`).
    pub fn with_template_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.templates = Arc::new(crate::documents::Templates::new(dir));
        self
    }

    /// The playbook a request of `kind` is provisioned with.
    pub fn provisioning_playbook(kind: crate::domain::RequestKind) -> &'static str {
        kind.as_str()
    }

    pub(crate) fn key(&self) -> Result<&MasterKey, ServiceError> {
        self.key.as_deref().ok_or(ServiceError::Cipher(CipherError::NoKey))
    }
}
