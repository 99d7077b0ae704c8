//! Application hosting on the data center's Kubernetes cluster (SOP: *hosting aplikasi*).
//!
//! - [`platform`]: the cluster as the inventory describes it (`hosting_platform.kubernetes`).
//! - [`names`]: Kubernetes naming rules and the encoding of free text into label values.
//! - [`plan`]: what one application gets (names, labels, totals, ports), from typed values.
//! - `objects`: the typed k8s-openapi objects built from a plan (feature `kubernetes`).
//! - `kubernetes`: the kube client: server-side apply, read-back, ownership-checked deletes.
//!
//! Owns every object kolokasi creates in the cluster and nothing else: an object is touched
//! only by its fixed name and only while it carries this request's label.

pub mod names;
pub mod plan;
pub mod platform;

#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(feature = "kubernetes")]
pub mod objects;

pub use plan::{AppPlan, PlanError};
pub use platform::KubernetesPlatform;

#[cfg(feature = "kubernetes")]
pub use kubernetes::Cluster;

/// Stands in for the cluster client in builds without the `kubernetes` feature: it cannot be
/// made, so every hosting step says plainly that this build cannot do it.
#[cfg(not(feature = "kubernetes"))]
pub struct Cluster {
    never: std::convert::Infallible,
}

#[cfg(not(feature = "kubernetes"))]
impl Cluster {
    pub fn new(_platform: &KubernetesPlatform) -> Result<Self, HostingError> {
        Err(HostingError::NotBuilt)
    }
    pub fn platform(&self) -> &KubernetesPlatform {
        match self.never {}
    }
    pub async fn compare(&self, _plan: &AppPlan) -> Result<Vec<(String, Option<String>)>, HostingError> {
        match self.never {}
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HostingError {
    #[error("this kolokasi was built without Kubernetes support (cargo feature `kubernetes`)")]
    NotBuilt,
    #[error("Kubernetes connection settings: {0}")]
    Config(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{what}: the Kubernetes API answered {code}: {message}")]
    Api { what: String, code: u16, message: String },
    #[error("{what}: cannot reach the Kubernetes API")]
    Unreachable {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("namespace {namespace} exists and is not this request's (it belongs to {owner}); refusing to take it over")]
    Held { namespace: String, owner: String },
    #[error("{what} reads back differently from what was applied at {path}")]
    Verify { what: String, path: String },
    #[error("namespace {0} is still being deleted")]
    Terminating(String),
}

impl HostingError {
    /// Whether trying again later may help (the API was down, busy, or still deleting).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Terminating(_) => true,
            Self::Api { code, .. } => *code >= 500 || *code == 429 || *code == 409,
            _ => false,
        }
    }
}
