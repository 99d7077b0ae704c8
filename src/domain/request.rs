//! The request as the unit files it: surat permohonan + Form Pengajuan + server specification.


use serde::{Deserialize, Serialize};
use time::Date;

use super::{Email, Fqdn, Nip, Phone, ServerSpec, Text, iso_date};

/// The two services of the SOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// Co-location: the unit brings its own server to the data center.
    Colocation,
    /// Application hosting on the data center's shared platform.
    Hosting,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Colocation => "colocation",
            Self::Hosting => "hosting",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "colocation" => Some(Self::Colocation),
            "hosting" => Some(Self::Hosting),
            _ => None,
        }
    }
}

/// The request number printed on every form: `KLK-2026-00042`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

crate::domain::string_newtype!(RequestId, RequestIdError, debug = plain);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a request number; they look like KLK-2026-00042")]
pub struct RequestIdError(pub String);

impl RequestId {
    pub fn new(year: i32, seq: i64) -> Self {
        Self(format!("KLK-{year:04}-{seq:05}"))
    }

    pub fn parse(input: &str) -> Result<Self, RequestIdError> {
        let s = input.trim().to_ascii_uppercase();
        let err = || RequestIdError(input.to_string());
        let rest = s.strip_prefix("KLK-").ok_or_else(err)?;
        let (year, seq) = rest.split_once('-').ok_or_else(err)?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if year.len() != 4 || !digits(year) || seq.len() < 5 || seq.len() > 9 || !digits(seq) {
            return Err(err());
        }
        Ok(Self(s))
    }
}

/// Masa Berlaku Co-location: permanent, or not permanent until a date.
/// Written `permanent` or `{ until: 2027-12-31 }` in files and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ValidityRepr", into = "ValidityRepr")]
pub enum Validity {
    Permanent,
    Until(Date),
}

#[derive(Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum ValidityRepr {
    Word(String),
    Until {
        #[serde(with = "iso_date")]
        until: Date,
    },
}

impl TryFrom<ValidityRepr> for Validity {
    type Error = String;
    fn try_from(r: ValidityRepr) -> Result<Self, String> {
        match r {
            ValidityRepr::Word(w) if w == "permanent" => Ok(Self::Permanent),
            ValidityRepr::Word(w) => Err(format!("validity {w:?} must be `permanent` or `{{ until: YYYY-MM-DD }}`")),
            ValidityRepr::Until { until } => Ok(Self::Until(until)),
        }
    }
}

impl From<Validity> for ValidityRepr {
    fn from(v: Validity) -> Self {
        match v {
            Validity::Permanent => Self::Word("permanent".into()),
            Validity::Until(until) => Self::Until { until },
        }
    }
}

/// The requesting unit (OPD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// Nama Unit.
    pub name: Text,
    /// Alamat Unit.
    pub address: Text,
}

/// An official (Penanggung Jawab) with their NIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Official {
    pub name: Text,
    pub nip: Nip,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Text>,
}

/// Form Pengajuan with the server specification: everything the unit files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestForm {
    pub kind: RequestKind,
    pub unit: Unit,
    /// Penanggung Jawab.
    pub official: Official,
    /// Kontak Number.
    pub contact: Phone,
    /// Where notices go (SOP steps 6 and 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// Nama Domain.
    pub domain: Fqdn,
    /// Tanggal Aktif Domain.
    #[serde(with = "iso_date")]
    pub domain_active_from: Date,
    /// Masa Berlaku Co-location.
    pub validity: Validity,
    /// The servers (co-location) or the application's resources (hosting).
    pub servers: Vec<ServerSpec>,
    /// The Kepala Bidang of the unit who approved the form (Form Pengajuan is signed by them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<Official>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Text>,
}

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("request file is not valid YAML/JSON for a request: {0}")]
    Syntax(String),
    #[error("{0}")]
    Invalid(String),
}

impl RequestForm {
    /// Parses a request file (YAML, of which JSON is a subset) and checks the cross-field rules.
    /// Parses a YAML file; errors name the field path (`unit.name`), as for JSON.
    pub fn from_yaml(text: &str) -> Result<Self, FormError> {
        let form: Self = serde_path_to_error::deserialize(serde_yaml_ng::Deserializer::from_str(text)).map_err(|e| FormError::Syntax(e.to_string()))?;
        form.validate()?;
        Ok(form)
    }

    /// Parses a JSON body; errors name the field path (`servers[0].ram_gb`).
    pub fn from_json(text: &str) -> Result<Self, FormError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let form: Self = serde_path_to_error::deserialize(de).map_err(|e| FormError::Syntax(e.to_string()))?;
        form.validate()?;
        Ok(form)
    }

    /// Rules that span fields.
    pub fn validate(&self) -> Result<(), FormError> {
        let invalid = |m: String| Err(FormError::Invalid(m));
        if self.servers.is_empty() {
            return invalid("servers: at least one server specification is required".into());
        }
        if self.servers.len() > 16 {
            return invalid("servers: at most 16 servers per request".into());
        }
        if let Validity::Until(end) = self.validity
            && end <= self.domain_active_from {
                return invalid(format!("validity: the end date {end} must be after domain_active_from {}", self.domain_active_from));
            }
        let mut names = std::collections::BTreeSet::new();
        for (i, s) in self.servers.iter().enumerate() {
            let at = |f: &str| format!("servers[{i}].{f}");
            if !names.insert(s.name.as_str()) {
                return invalid(format!("{}: server name {:?} appears twice", at("name"), s.name.as_str()));
            }
            if s.cpu_cores == 0 || s.cpu_cores > 1024 {
                return invalid(format!("{}: must be 1-1024", at("cpu_cores")));
            }
            if s.ram_gb == 0 || s.ram_gb > 65_536 {
                return invalid(format!("{}: must be 1-65536 GB", at("ram_gb")));
            }
            if s.storage_gb == 0 {
                return invalid(format!("{}: must be at least 1 GB", at("storage_gb")));
            }
            if s.bandwidth_mbps == 0 || s.bandwidth_mbps > 100_000 {
                return invalid(format!("{}: must be 1-100000 Mbps", at("bandwidth_mbps")));
            }
            match self.kind {
                RequestKind::Colocation => {
                    if !(1..=10).contains(&s.rack_units) {
                        return invalid(format!("{}: a co-located server takes 1-10 U", at("rack_units")));
                    }
                    if s.psu_watts == 0 || s.psu_watts > 10_000 {
                        return invalid(format!("{}: must be 1-10000 W", at("psu_watts")));
                    }
                }
                RequestKind::Hosting => {
                    if s.rack_units != 0 {
                        return invalid(format!("{}: hosting uses no rack space; set 0", at("rack_units")));
                    }
                }
            }
            let mut seen = std::collections::BTreeSet::new();
            for svc in &s.services {
                if !seen.insert(*svc) {
                    return invalid(format!("{}: {svc} listed twice", at("services")));
                }
            }
        }
        Ok(())
    }

    pub fn total_power_watts(&self) -> u64 {
        self.servers.iter().map(|s| u64::from(s.psu_watts)).sum()
    }

    pub fn total_bandwidth_mbps(&self) -> u64 {
        self.servers.iter().map(|s| u64::from(s.bandwidth_mbps)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = include_str!("../../deploy/examples/colocation-request.yaml");

    #[test]
    fn the_sample_request_parses() {
        let form = RequestForm::from_yaml(SAMPLE).unwrap();
        assert_eq!(form.kind, RequestKind::Colocation);
        assert_eq!(form.domain.as_str(), "sipd.kaltimprov.go.id");
        assert_eq!(form.servers[0].services.len(), 2);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = SAMPLE.replace("198503152010011002", "19850315201001100");
        let err = RequestForm::from_yaml(&bad).unwrap_err().to_string();
        assert!(err.contains("official") && err.contains("18 digits") && err.contains("line 8"), "{err}");

        let bad = SAMPLE.replace("sipd.kaltimprov.go.id", "sipd;reboot.go.id");
        let err = RequestForm::from_yaml(&bad).unwrap_err().to_string();
        assert!(err.contains("domain"), "{err}");

        let bad = SAMPLE.replace("rack_units: 1", "rack_units: 0");
        let err = RequestForm::from_yaml(&bad).unwrap_err().to_string();
        assert!(err.contains("servers[0].rack_units"), "{err}");

        let bad = SAMPLE.replace("kind: colocation", "kind: colocation\nsurprise: 1");
        assert!(RequestForm::from_yaml(&bad).unwrap_err().to_string().contains("surprise"));
    }

    #[test]
    fn json_errors_carry_the_path() {
        let form = RequestForm::from_yaml(SAMPLE).unwrap();
        let mut v = serde_json::to_value(&form).unwrap();
        v["servers"][0]["ram_gb"] = serde_json::json!("lots");
        let err = RequestForm::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(err.contains("servers[0].ram_gb"), "{err}");
    }

    #[test]
    fn request_ids() {
        assert_eq!(RequestId::new(2026, 42).as_str(), "KLK-2026-00042");
        assert_eq!(RequestId::parse("klk-2026-00042").unwrap().as_str(), "KLK-2026-00042");
        assert!(RequestId::parse("KLK-2026-1").is_err());
        assert!(RequestId::parse("KLK-2026-00042'; drop table requests;--").is_err());
    }
}
