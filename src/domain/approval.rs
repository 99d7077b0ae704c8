//! Form Persetujuan (approval or rejection), the hardware receipt of SOP step 7, and Form
//! Pencabutan (revocation). The host admin password is only ever held `Sealed`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::Date;

use super::{Fqdn, Official, Text, iso_date};
use crate::secrets::Sealed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalDecision {
    /// menyetujui
    Approve,
    /// menolak
    Reject,
}

/// Form Persetujuan as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub decision: ApprovalDecision,
    /// Where the form was signed (e.g. "Samarinda").
    pub place: Text,
    #[serde(with = "iso_date")]
    pub date: Date,
    /// Pertimbangan: the reasons, one point each.
    pub reasons: Vec<Text>,
    /// Kepala Bidang who signs the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<Official>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_center: Option<DataCenterBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colocation: Option<ColocationBlock>,
}

/// The "Data Center" block: NOC, Letak Server, Nama Domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCenterBlock {
    pub noc: Text,
    /// Letak Server, e.g. "R01 U10-U11".
    pub server_location: Text,
    pub domain: Fqdn,
}

/// The "Co-Location" block. S/N, type & brand and IP fill in as the process learns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColocationBlock {
    pub noc: Text,
    pub server_location: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_brand: Option<Text>,
    pub domain: Fqdn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_admin: Option<HostAdmin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<IpAddr>,
}

/// Host Admin (user and password). The password is sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostAdmin {
    pub user: Text,
    /// Sealed with context `host_admin_context(request)`; never shown in a view.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub password: Option<Sealed>,
}

/// What the unit delivered at SOP step 7 (the hardware gate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HardwareReceipt {
    pub serial_number: Text,
    pub type_brand: Text,
    /// The rack switch port the server is plugged into (validated against the device's model by
    /// the switch driver before use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_port: Option<Text>,
    /// The server's SSH host key as the inspector read it off the server's console
    /// (`ssh-keygen -lf` / the `.pub` file): the inspection logs in only to a server showing
    /// this key, with the host admin login of the Form Persetujuan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<crate::ssh::HostKey>,
}

/// Form Pencabutan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Revocation {
    pub reasons: Vec<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso_date::option")]
    pub effective: Option<Date>,
    /// The Kepala Bidang TIK who approves the terms of withdrawal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<Official>,
}

impl HostAdmin {
    /// The associated-data context that binds a sealed host admin password to its request.
    pub fn seal_context(request: &super::RequestId) -> String {
        format!("request/{request}/host-admin")
    }
}
