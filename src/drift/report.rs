//! One request's drift result: `in sync`, or each drifted item with what the run log says was
//! written (`expected`), what the device holds now (`found`) and the device; accepted drifts
//! and items whose device could not be read are listed apart.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftStatus {
    InSync,
    Drifted,
    /// Nothing drifted that could be read, but a device could not be read.
    Unknown,
}

impl DriftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InSync => "in_sync",
            Self::Drifted => "drifted",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "in_sync" => Some(Self::InSync),
            "drifted" => Some(Self::Drifted),
            "unknown" => Some(Self::Unknown),
            _ => None,
        }
    }

    /// The console's badge.
    pub fn label_id(self) -> &'static str {
        match self {
            Self::InSync => "Sesuai",
            Self::Drifted => "Menyimpang",
            Self::Unknown => "Tidak terbaca",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::InSync => "In sync",
            Self::Drifted => "Drifted",
            Self::Unknown => "Unreadable",
        }
    }
}

/// An item whose device holds something else than the run wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DriftItem {
    pub item: String,
    pub step: String,
    pub device: String,
    #[schema(value_type = crate::api::schemas::AnyJson)]
    pub expected: Value,
    #[schema(value_type = crate::api::schemas::AnyJson)]
    pub found: Value,
    /// The operator's reason, for an accepted drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
}

/// An item that could not be compared: its device did not answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Unreadable {
    pub item: String,
    pub device: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DriftReport {
    pub request: String,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    pub status: DriftStatus,
    /// How many items were compared.
    pub checked: usize,
    pub drifted: Vec<DriftItem>,
    pub accepted: Vec<DriftItem>,
    pub unreadable: Vec<Unreadable>,
}

impl DriftReport {
    /// The status these lists amount to.
    pub fn derive_status(&mut self) {
        self.status = if !self.drifted.is_empty() {
            DriftStatus::Drifted
        } else if !self.unreadable.is_empty() {
            DriftStatus::Unknown
        } else {
            DriftStatus::InSync
        };
    }

    /// The report for people: one line, or one block per drifted item.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}: {} ({} items checked)\n", self.request, self.status.as_str().replace('_', " "), self.checked);
        let show = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for d in &self.drifted {
            out.push_str(&format!("  DRIFT {}  (step {}, device {})\n    expected: {}\n    found:    {}\n", d.item, d.step, d.device, show(&d.expected), show(&d.found)));
        }
        for d in &self.accepted {
            out.push_str(&format!("  accepted {} on {}: found {} ({})\n", d.item, d.device, show(&d.found), d.accepted.as_deref().unwrap_or("")));
        }
        for u in &self.unreadable {
            out.push_str(&format!("  UNREADABLE {} on {}: {}\n", u.item, u.device, u.error));
        }
        out
    }
}
