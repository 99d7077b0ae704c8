//! The declared server specification of a request (what the unit promises to bring or to run).
//!
//! Parsed once from the request file; inspection (SOP step 8) later compares the measured facts
//! of the real server against these values.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Text;

/// One server the unit brings (co-location) or one application's resources (hosting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// Nama Server (host name the unit gives it).
    pub name: Hostname,
    /// Prosesor, e.g. "Intel Xeon Silver 4310".
    pub processor: Text,
    pub cpu_cores: u16,
    /// RAM in GB.
    pub ram_gb: u32,
    pub motherboard: Text,
    /// Total usable storage in GB.
    pub storage_gb: u32,
    /// Storage as the unit describes it ("2x 480 GB SSD RAID1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Text>,
    /// PSU nameplate power in watts; capacity planning uses it as the worst case draw.
    pub psu_watts: u32,
    /// Rack units (U) the chassis occupies; 0 for hosting.
    pub rack_units: u8,
    pub os: OsSpec,
    #[serde(default)]
    pub applications: Vec<ApplicationSpec>,
    pub bandwidth_mbps: u32,
    #[serde(default)]
    pub services: Vec<ServicePort>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OsSpec {
    pub name: Text,
    pub version: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSpec {
    /// Package name as the OS's package manager knows it (`nginx`, `postgresql-14`).
    pub name: PackageName,
    /// Version constraint, e.g. `>= 1.18`, `= 14.11`, `*`.
    #[serde(default)]
    pub version: VersionConstraint,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("host name {0:?} must be 1-63 letters, digits or '-', not starting or ending with '-'")]
    Hostname(String),
    #[error("package name {0:?} must be 1-100 of a-z 0-9 . + - _")]
    Package(String),
    #[error("version constraint {0:?} must look like '>= 1.18', '= 14', '< 9' or '*'")]
    Constraint(String),
    #[error("service {0:?} must look like tcp/443 or udp/53 with a port 1-65535")]
    Service(String),
}

/// A single DNS-safe label used as the server's name.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hostname(String);

crate::domain::string_newtype!(Hostname, SpecError, debug = quoted);

impl Hostname {
    pub fn parse(input: &str) -> Result<Self, SpecError> {
        let s = input.trim().to_ascii_lowercase();
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok { Ok(Self(s)) } else { Err(SpecError::Hostname(input.to_string())) }
    }
}

/// A package name (Debian policy characters plus `_` for rpm).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PackageName(String);

crate::domain::string_newtype!(PackageName, SpecError, debug = quoted);

impl PackageName {
    pub fn parse(input: &str) -> Result<Self, SpecError> {
        let s = input.trim();
        let ok = !s.is_empty()
            && s.len() <= 100
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-._".contains(&b))
            && s.as_bytes()[0].is_ascii_alphanumeric();
        if ok { Ok(Self(s.to_string())) } else { Err(SpecError::Package(input.to_string())) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    Any,
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

/// A version constraint on an application. Versions are compared with Debian's ordering
/// (`dpkg --compare-versions`), which also orders plain dotted versions correctly.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VersionConstraint {
    pub op: CompareOp,
    pub version: String,
}

impl Default for VersionConstraint {
    fn default() -> Self {
        Self { op: CompareOp::Any, version: String::new() }
    }
}

impl FromStr for VersionConstraint {
    type Err = SpecError;
    fn from_str(input: &str) -> Result<Self, SpecError> {
        let s = input.trim();
        if s.is_empty() || s == "*" {
            return Ok(Self::default());
        }
        let (op, rest) = [(">=", CompareOp::Ge), ("<=", CompareOp::Le), ("==", CompareOp::Eq), ("=", CompareOp::Eq), (">", CompareOp::Gt), ("<", CompareOp::Lt)]
            .into_iter()
            .find_map(|(p, op)| s.strip_prefix(p).map(|r| (op, r)))
            .unwrap_or((CompareOp::Eq, s));
        let version = rest.trim();
        let ok = !version.is_empty()
            && version.len() <= 64
            && version.bytes().all(|b| b.is_ascii_alphanumeric() || b".+-~:_^".contains(&b))
            && version.as_bytes()[0].is_ascii_digit();
        if !ok {
            return Err(SpecError::Constraint(input.to_string()));
        }
        Ok(Self { op, version: version.to_string() })
    }
}

crate::domain::text_form!(VersionConstraint);
impl fmt::Display for VersionConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            CompareOp::Any => return f.write_str("*"),
            CompareOp::Eq => "=",
            CompareOp::Ge => ">=",
            CompareOp::Gt => ">",
            CompareOp::Le => "<=",
            CompareOp::Lt => "<",
        };
        write!(f, "{op} {}", self.version)
    }
}
impl fmt::Debug for VersionConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// A service the server exposes: `tcp/443`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServicePort {
    pub protocol: Protocol,
    pub port: u16,
}

impl FromStr for ServicePort {
    type Err = SpecError;
    fn from_str(input: &str) -> Result<Self, SpecError> {
        let err = || SpecError::Service(input.to_string());
        let (proto, port) = input.trim().split_once('/').ok_or_else(err)?;
        let protocol = match proto.to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => return Err(err()),
        };
        let port: u16 = port.parse().map_err(|_| err())?;
        if port == 0 {
            return Err(err());
        }
        Ok(Self { protocol, port })
    }
}
crate::domain::text_form!(ServicePort);
impl fmt::Display for ServicePort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        write!(f, "{p}/{}", self.port)
    }
}
impl fmt::Debug for ServicePort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn constraints_parse() {
        let c: VersionConstraint = ">= 1.18".parse().unwrap();
        assert_eq!((c.op, c.version.as_str()), (CompareOp::Ge, "1.18"));
        assert_eq!("14".parse::<VersionConstraint>().unwrap().op, CompareOp::Eq);
        assert_eq!("*".parse::<VersionConstraint>().unwrap().op, CompareOp::Any);
        assert!(">= 1.18; reboot".parse::<VersionConstraint>().is_err());
        assert!(">= latest".parse::<VersionConstraint>().is_err());
    }

    #[test]
    fn services_parse() {
        assert_eq!("tcp/443".parse::<ServicePort>().unwrap().to_string(), "tcp/443");
        assert_eq!("UDP/53".parse::<ServicePort>().unwrap().protocol, Protocol::Udp);
        assert!("tcp/0".parse::<ServicePort>().is_err());
        assert!("icmp/1".parse::<ServicePort>().is_err());
        assert!("tcp/70000".parse::<ServicePort>().is_err());
    }

    #[test]
    fn names() {
        assert_eq!(Hostname::parse("SRV-Sipd").unwrap().as_str(), "srv-sipd");
        assert!(Hostname::parse("srv sipd").is_err());
        assert!(PackageName::parse("postgresql-14").is_ok());
        assert!(PackageName::parse("nginx;id").is_err());
    }

    proptest! {
        #[test]
        fn service_ports_roundtrip(port in 1u16.., udp in any::<bool>()) {
            let s = format!("{}/{port}", if udp { "udp" } else { "tcp" });
            prop_assert_eq!(s.parse::<ServicePort>().unwrap().to_string(), s);
        }

        #[test]
        fn constraint_parser_never_panics(s in "\\PC{0,30}") {
            let _ = s.parse::<VersionConstraint>();
        }
    }
}
