//! What kolokasi writes into DNS: record kinds, record sets, the zones a provider serves, and
//! the plan of records one request needs (forward A/AAAA, reverse PTRs, CNAME aliases), each
//! paired with the zone it belongs to.
//!
//! Pure data and arithmetic: nothing here talks to a server.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::domain::Fqdn;

pub use super::kind::RecordKind;
use super::error::DnsError;
use super::value::RecordValue;

/// One rrset as kolokasi wants it to be: after a replace, (name, kind) holds exactly `values`.
///
/// Values are in presentation form: `198.51.100.140`, `2001:db8:100::2`,
/// `sipd.kaltimprov.go.id.` for PTR and CNAME targets, the bare text for TXT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    pub name: Fqdn,
    pub kind: RecordKind,
    pub ttl: u32,
    pub values: Vec<String>,
}

impl RecordSet {
    pub fn new(name: Fqdn, kind: RecordKind, ttl: u32, values: Vec<String>) -> Self {
        Self { name, kind, ttl, values }
    }

    /// The values parsed for this kind, in canonical order without duplicates (an rrset is a
    /// set: the servers drop duplicates, so comparing with a read-back needs them gone too).
    pub(crate) fn parsed_values(&self) -> Result<Vec<RecordValue>, DnsError> {
        let mut parsed = self.values.iter().map(|v| RecordValue::parse(&self.name, self.kind, v)).collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by_key(RecordValue::presentation);
        parsed.dedup();
        if self.kind == RecordKind::Cname && parsed.len() > 1 {
            return Err(DnsError::InvalidValue {
                name: self.name.clone(),
                kind: self.kind,
                value: self.values.join(" "),
                reason: "a name can hold only one CNAME target",
            });
        }
        Ok(parsed)
    }

    /// The values as a read-back will show them: canonical presentation form, sorted.
    pub fn normalized_values(&self) -> Result<Vec<String>, DnsError> {
        Ok(self.parsed_values()?.iter().map(RecordValue::presentation).collect())
    }
}

/// The zones a provider is authoritative for (and kolokasi may write into).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSet {
    pub forward: Vec<Fqdn>,
    pub reverse: Vec<Fqdn>,
}

impl ZoneSet {
    /// The forward zone holding `name`: the longest matching suffix.
    pub fn forward_zone_of(&self, name: &Fqdn) -> Option<&Fqdn> {
        longest_zone(&self.forward, name)
    }

    /// The reverse zone holding `reverse_name`: the longest matching suffix.
    pub fn reverse_zone_of(&self, reverse_name: &Fqdn) -> Option<&Fqdn> {
        longest_zone(&self.reverse, reverse_name)
    }

    fn no_zone(&self, what: String, zones: &[Fqdn]) -> DnsError {
        let zones = if zones.is_empty() { "no zones".to_string() } else { zones.iter().map(Fqdn::as_str).collect::<Vec<_>>().join(", ") };
        DnsError::NoZone { what, zones }
    }
}

fn longest_zone<'z>(zones: &'z [Fqdn], name: &Fqdn) -> Option<&'z Fqdn> {
    zones.iter().filter(|z| name.is_within(z)).max_by_key(|z| z.as_str().len())
}

/// The reverse-lookup name of an address: `d.c.b.a.in-addr.arpa` for IPv4, the 32-nibble
/// `….ip6.arpa` form for IPv6.
pub fn reverse_name(addr: IpAddr) -> Fqdn {
    let name = match addr {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut labels: Vec<String> = Vec::with_capacity(34);
            for byte in v6.octets().iter().rev() {
                labels.push(format!("{:x}", byte & 0x0f));
                labels.push(format!("{:x}", byte >> 4));
            }
            labels.push("ip6.arpa".to_string());
            labels.join(".")
        }
    };
    // Digits, hex letters and the arpa suffix always make a valid name.
    Fqdn::parse(&name).expect("a reverse name is always a valid FQDN")
}

/// Fails unless `name` lies inside `zone`: kolokasi never writes outside the zone it was given.
pub(crate) fn ensure_within(name: &Fqdn, zone: &Fqdn) -> Result<(), DnsError> {
    if name.is_within(zone) { Ok(()) } else { Err(DnsError::OutsideZone { name: name.clone(), zone: zone.clone() }) }
}

/// The records a request needs: A and/or AAAA for `domain`, a PTR for each address in the
/// matching reverse zone, and a CNAME to `domain` for each alias in `cnames` (e.g. `www.…`).
/// Each record set is paired with its zone (the longest matching suffix); an address or name
/// with no zone is an error naming it.
pub fn plan_request_records(
    domain: &Fqdn,
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
    cnames: &[Fqdn],
    ttl: u32,
    zones: &ZoneSet,
) -> Result<Vec<(Fqdn, RecordSet)>, DnsError> {
    let forward_zone =
        |name: &Fqdn| zones.forward_zone_of(name).cloned().ok_or_else(|| zones.no_zone(format!("the name {name}"), &zones.forward));
    let domain_zone = forward_zone(domain)?;
    let target = domain.to_absolute();
    let mut plan = Vec::new();

    let addresses = [v4.map(IpAddr::V4), v6.map(IpAddr::V6)];
    for addr in addresses.into_iter().flatten() {
        let kind = if addr.is_ipv4() { RecordKind::A } else { RecordKind::Aaaa };
        plan.push((domain_zone.clone(), RecordSet::new(domain.clone(), kind, ttl, vec![addr.to_string()])));
    }
    for addr in addresses.into_iter().flatten() {
        let ptr_name = reverse_name(addr);
        let zone = zones
            .reverse_zone_of(&ptr_name)
            .cloned()
            .ok_or_else(|| zones.no_zone(format!("the address {addr} (reverse name {ptr_name})"), &zones.reverse))?;
        plan.push((zone, RecordSet::new(ptr_name, RecordKind::Ptr, ttl, vec![target.clone()])));
    }
    for alias in cnames {
        if alias == domain {
            return Err(DnsError::InvalidValue {
                name: alias.clone(),
                kind: RecordKind::Cname,
                value: target,
                reason: "an alias cannot point at itself (the name already holds the address records)",
            });
        }
        let zone = forward_zone(alias)?;
        plan.push((zone, RecordSet::new(alias.clone(), RecordKind::Cname, ttl, vec![target.clone()])));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fqdn(s: &str) -> Fqdn {
        Fqdn::parse(s).unwrap()
    }

    fn zones() -> ZoneSet {
        ZoneSet {
            forward: vec![fqdn("kaltimprov.go.id"), fqdn("dev.kaltimprov.go.id")],
            reverse: vec![fqdn("100.51.198.in-addr.arpa"), fqdn("0.0.1.0.8.b.d.0.1.0.0.2.ip6.arpa")],
        }
    }

    #[test]
    fn reverse_names_follow_rfc_1035_and_3596() {
        assert_eq!(reverse_name("198.51.100.140".parse().unwrap()).as_str(), "140.100.51.198.in-addr.arpa");
        assert_eq!(
            reverse_name("2001:db8:100::2".parse().unwrap()).as_str(),
            "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn plans_forward_reverse_and_aliases_in_their_zones() {
        let domain = fqdn("sipd.kaltimprov.go.id");
        let plan = plan_request_records(
            &domain,
            Some("198.51.100.140".parse().unwrap()),
            Some("2001:db8:100::2".parse().unwrap()),
            &[fqdn("www.sipd.kaltimprov.go.id"), fqdn("app.dev.kaltimprov.go.id")],
            300,
            &zones(),
        )
        .unwrap();
        let summary: Vec<(String, String, RecordKind, Vec<String>)> =
            plan.iter().map(|(z, s)| (z.to_string(), s.name.to_string(), s.kind, s.values.clone())).collect();
        let target = vec!["sipd.kaltimprov.go.id.".to_string()];
        assert_eq!(
            summary,
            vec![
                ("kaltimprov.go.id".into(), "sipd.kaltimprov.go.id".into(), RecordKind::A, vec!["198.51.100.140".into()]),
                ("kaltimprov.go.id".into(), "sipd.kaltimprov.go.id".into(), RecordKind::Aaaa, vec!["2001:db8:100::2".into()]),
                ("100.51.198.in-addr.arpa".into(), "140.100.51.198.in-addr.arpa".into(), RecordKind::Ptr, target.clone()),
                (
                    "0.0.1.0.8.b.d.0.1.0.0.2.ip6.arpa".into(),
                    "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.8.b.d.0.1.0.0.2.ip6.arpa".into(),
                    RecordKind::Ptr,
                    target.clone()
                ),
                ("kaltimprov.go.id".into(), "www.sipd.kaltimprov.go.id".into(), RecordKind::Cname, target.clone()),
                // The longest suffix wins: dev.kaltimprov.go.id, not kaltimprov.go.id.
                ("dev.kaltimprov.go.id".into(), "app.dev.kaltimprov.go.id".into(), RecordKind::Cname, target),
            ]
        );
        assert!(plan.iter().all(|(z, s)| s.name.is_within(z) && s.ttl == 300));
    }

    #[test]
    fn names_and_addresses_without_a_zone_are_errors_that_name_them() {
        let z = zones();
        let err = plan_request_records(&fqdn("sipd.jatimprov.go.id"), None, None, &[], 300, &z).unwrap_err();
        assert!(matches!(err, DnsError::NoZone { .. }));
        assert!(err.to_string().contains("sipd.jatimprov.go.id"), "{err}");

        let err =
            plan_request_records(&fqdn("sipd.kaltimprov.go.id"), Some("203.0.113.5".parse().unwrap()), None, &[], 300, &z).unwrap_err();
        assert!(err.to_string().contains("203.0.113.5"), "{err}");

        let err = plan_request_records(&fqdn("sipd.kaltimprov.go.id"), None, None, &[fqdn("www.example.org")], 300, &z).unwrap_err();
        assert!(err.to_string().contains("www.example.org"), "{err}");

        let err = plan_request_records(&fqdn("a.kaltimprov.go.id"), None, None, &[fqdn("a.kaltimprov.go.id")], 300, &z).unwrap_err();
        assert!(matches!(err, DnsError::InvalidValue { .. }));
    }

    #[test]
    fn values_are_normalised_sorted_and_deduplicated() {
        let set = RecordSet::new(
            fqdn("x.kaltimprov.go.id"),
            RecordKind::Aaaa,
            60,
            vec!["2001:DB8:100:0::2".into(), "2001:db8:100::1".into(), "2001:db8:100::2".into()],
        );
        assert_eq!(set.normalized_values().unwrap(), vec!["2001:db8:100::1", "2001:db8:100::2"]);
        let cname = RecordSet::new(fqdn("x.kaltimprov.go.id"), RecordKind::Cname, 60, vec!["A.kaltimprov.go.id".into()]);
        assert_eq!(cname.normalized_values().unwrap(), vec!["a.kaltimprov.go.id."]);
        let two = RecordSet::new(fqdn("x.kaltimprov.go.id"), RecordKind::Cname, 60, vec!["a.go.id".into(), "b.go.id".into()]);
        assert!(matches!(two.normalized_values(), Err(DnsError::InvalidValue { .. })));
        let bad = RecordSet::new(fqdn("x.kaltimprov.go.id"), RecordKind::A, 60, vec!["2001:db8::1".into()]);
        assert!(matches!(bad.normalized_values(), Err(DnsError::InvalidValue { .. })));
    }

    #[test]
    fn names_outside_the_zone_are_refused() {
        assert!(ensure_within(&fqdn("a.kaltimprov.go.id"), &fqdn("kaltimprov.go.id")).is_ok());
        assert!(matches!(ensure_within(&fqdn("a.evil-kaltimprov.go.id"), &fqdn("kaltimprov.go.id")), Err(DnsError::OutsideZone { .. })));
    }
}
