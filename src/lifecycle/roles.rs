//! The people of the SOP and the role each plays in the product.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// SOP roles. `Auditor` is read-only and not in the SOP; it exists for inspectors of the
/// inspectorate and for privacy requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// OPD staff filing the request.
    Requester,
    /// Administrator Bidang TIK: verifies, dispositions, approves.
    Admin,
    /// Pengawas Infrastruktur TIK: receives the disposition.
    Supervisor,
    /// Pengelola Teknologi Informasi: checks capacity, installs.
    Operator,
    /// Pemeriksa Teknologi Informasi: verifies the server against the spec, reports.
    Inspector,
    /// Kepala Bidang TIK: signs forms, approves revocations.
    Head,
    /// Read-only.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::Requester, Role::Admin, Role::Supervisor, Role::Operator, Role::Inspector, Role::Head, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requester => "requester",
            Self::Admin => "admin",
            Self::Supervisor => "supervisor",
            Self::Operator => "operator",
            Self::Inspector => "inspector",
            Self::Head => "head",
            Self::Auditor => "auditor",
        }
    }

    /// The SOP's own name for the role, for documents and the console.
    pub fn sop_title(self) -> &'static str {
        match self {
            Self::Requester => "OPD Pemohon",
            Self::Admin => "Administrator Bidang TIK",
            Self::Supervisor => "Pengawas Infrastruktur TIK",
            Self::Operator => "Pengelola Teknologi Informasi",
            Self::Inspector => "Pemeriksa Teknologi Informasi",
            Self::Head => "Kepala Bidang TIK",
            Self::Auditor => "Auditor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; roles are requester, admin, supervisor, operator, inspector, head, auditor")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who acts: a person's account name, the role they act in and, for a requester, the unit
/// (OPD) they belong to. A requester sees and acts only on requests of their own unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    pub role: Role,
    /// The requester's OPD unit name, exactly as `unit_name` in requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActorError {
    #[error("actor name must be 1-64 characters of letters, digits, '.', '_', '-' or '@'")]
    Name,
    #[error("a unit name must be 1-200 characters without control characters")]
    Unit,
}

impl Actor {
    pub fn new(name: &str, role: Role) -> Result<Self, ActorError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
        if !ok {
            return Err(ActorError::Name);
        }
        Ok(Self { name: name.to_string(), role, unit: None })
    }

    /// An actor belonging to the unit (OPD) `unit`.
    pub fn in_unit(name: &str, role: Role, unit: &str) -> Result<Self, ActorError> {
        let unit = unit.trim();
        if unit.is_empty() || unit.len() > 200 || unit.chars().any(char::is_control) {
            return Err(ActorError::Unit);
        }
        Ok(Self { unit: Some(unit.to_string()), ..Self::new(name, role)? })
    }

    /// The engine acting on its own (resume, retries).
    pub fn system() -> Self {
        Self { name: "kolokasi".into(), role: Role::Operator, unit: None }
    }

    /// The engine acting in `role` (a run's lifecycle event that needs that role).
    pub fn system_as(role: Role) -> Self {
        Self { role, ..Self::system() }
    }

    /// True if this actor may see requests of `unit`: everyone but a requester sees every unit;
    /// a requester sees only their own.
    pub fn sees_unit(&self, unit: &str) -> bool {
        self.role != Role::Requester || self.unit.as_deref() == Some(unit)
    }
}
