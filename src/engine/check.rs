//! `datacenter check`: reads every configured firewall and says whether its integration mode
//! can work there. One report for the CLI, the REST API and the console.

use serde::Serialize;

use super::Engine;
use crate::firewall::doctor::{Diagnosis, Finding, Level};
use crate::lifecycle::Actor;
use crate::service::ServiceError;

/// Every firewall's diagnosis; `works` is false if one cannot work as configured.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DatacenterCheck {
    pub works: bool,
    /// One diagnosis per firewall (mode, base chains, findings).
    // TODO(design): the firewall doctor's Diagnosis schema.
    #[schema(value_type = Vec<Object>)]
    pub firewalls: Vec<Diagnosis>,
}

impl Engine {
    /// Reads each firewall once, all at the same time (staff and the auditor). An unreachable
    /// firewall is a diagnosis that cannot work, not an error: the others are still reported.
    pub async fn datacenter_check(&self, by: &Actor) -> Result<DatacenterCheck, ServiceError> {
        self.service().may_read_datacenter(by, "checking the data center's firewalls")?;
        let reads = self.env.drivers.firewalls.iter().map(|(name, fw)| async move {
            fw.check().await.unwrap_or_else(|e| unreachable(name, &e.to_string()))
        });
        let firewalls = futures_util::future::join_all(reads).await;
        Ok(DatacenterCheck { works: firewalls.iter().all(|d| d.works), firewalls })
    }
}

fn unreachable(device: &str, error: &str) -> Diagnosis {
    Diagnosis {
        device: device.to_string(),
        mode: "unreachable",
        works: false,
        base_chains: Vec::new(),
        findings: vec![Finding {
            level: Level::Problem,
            message: format!("cannot read the ruleset: {error}"),
            pesan: format!("Ruleset tidak dapat dibaca: {error}"),
        }],
    }
}
