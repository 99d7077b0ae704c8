//! `SavedOutput` — a step's output as saved in the run log, read back typed.

use serde::de::DeserializeOwned;

/// A typed output some step saves (`ipam::AddressOutput`, `dns::DnsStepOutput`, …): undo, the
/// drift check, the documents and the asset register read it back through [`read`](Self::read).
pub trait SavedOutput: DeserializeOwned {
    /// The output as saved; `None` if it does not have this shape.
    fn read(saved: &serde_json::Value) -> Option<Self> {
        Self::deserialize(saved).ok()
    }
}
