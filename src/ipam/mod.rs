//! IP address management: pools per NOC and VLAN (IPv4 and IPv6), and the arithmetic that maps
//! a pool's addresses to offsets. Allocation itself lives in the store (`store/ipam.rs`): a
//! free-range table makes "next free address" an index lookup, never a scan of the pool.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// An 802.1Q VLAN id, 1–4094.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Vlan(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("VLAN {0} is outside 1-4094")]
    Vlan(u32),
    #[error("pool name {0:?} must be 1-40 of a-z 0-9 - _")]
    PoolName(String),
    #[error("{0:?} is not an address or range (a.b.c.d, or a.b.c.d-a.b.c.e)")]
    Range(String),
    #[error("{addr} is not inside {cidr}")]
    Outside { addr: IpAddr, cidr: IpNet },
    #[error("the range {0} runs backwards")]
    Backwards(String),
    #[error("{0} has no usable addresses")]
    Empty(IpNet),
}

impl Vlan {
    pub fn new(id: u32) -> Result<Self, IpamError> {
        if (1..=4094).contains(&id) { Ok(Self(id as u16)) } else { Err(IpamError::Vlan(id)) }
    }
    pub fn get(self) -> u16 {
        self.0
    }
}
impl TryFrom<u16> for Vlan {
    type Error = IpamError;
    fn try_from(v: u16) -> Result<Self, IpamError> {
        Self::new(u32::from(v))
    }
}
impl From<Vlan> for u16 {
    fn from(v: Vlan) -> u16 {
        v.0
    }
}
impl fmt::Display for Vlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An inclusive address range (`198.51.100.130-198.51.100.139`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AddrRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl FromStr for AddrRange {
    type Err = IpamError;
    fn from_str(s: &str) -> Result<Self, IpamError> {
        let s = s.trim();
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let first: IpAddr = a.trim().parse().map_err(|_| IpamError::Range(s.into()))?;
        let last: IpAddr = b.trim().parse().map_err(|_| IpamError::Range(s.into()))?;
        if first.is_ipv4() != last.is_ipv4() {
            return Err(IpamError::Range(s.into()));
        }
        if to_u128(first) > to_u128(last) {
            return Err(IpamError::Backwards(s.into()));
        }
        Ok(Self { first, last })
    }
}
impl TryFrom<String> for AddrRange {
    type Error = IpamError;
    fn try_from(s: String) -> Result<Self, IpamError> {
        s.parse()
    }
}
impl From<AddrRange> for String {
    fn from(r: AddrRange) -> String {
        if r.first == r.last { r.first.to_string() } else { format!("{}-{}", r.first, r.last) }
    }
}

/// A pool as configured: where, which VLAN, which prefix, and what must never be handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    pub name: String,
    pub noc: String,
    pub vlan: Vlan,
    pub cidr: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Ranges kept for the data center's own use.
    #[serde(default)]
    pub reserved: Vec<AddrRange>,
    /// Single addresses never to hand out.
    #[serde(default)]
    pub excluded: Vec<IpAddr>,
}

/// Offsets are stored as BIGINT; IPv6 pools use at most the first 2^62 addresses.
pub const MAX_OFFSET: u128 = 1 << 62;

impl PoolSpec {
    pub fn validate(&self) -> Result<(), IpamError> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 40
            && self.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(IpamError::PoolName(self.name.clone()));
        }
        let inside = |a: &IpAddr| if self.cidr.contains(a) { Ok(()) } else { Err(IpamError::Outside { addr: *a, cidr: self.cidr }) };
        self.gateway.iter().try_for_each(inside)?;
        self.excluded.iter().try_for_each(inside)?;
        for r in &self.reserved {
            inside(&r.first)?;
            inside(&r.last)?;
        }
        if self.free_ranges().is_empty() {
            return Err(IpamError::Empty(self.cidr));
        }
        Ok(())
    }

    pub fn family(&self) -> u8 {
        if self.cidr.addr().is_ipv4() { 4 } else { 6 }
    }

    fn base(&self) -> u128 {
        to_u128(self.cidr.network())
    }

    /// The address at `offset` from the network address.
    pub fn address_at(&self, offset: i64) -> IpAddr {
        from_u128(self.base() + offset as u128, self.family())
    }

    pub fn offset_of(&self, addr: IpAddr) -> Option<i64> {
        self.cidr.contains(&addr).then(|| (to_u128(addr) - self.base()) as i64)
    }

    /// The usable offsets, minus network/broadcast, gateway, reserved and excluded addresses,
    /// as sorted inclusive ranges.
    pub fn free_ranges(&self) -> Vec<(i64, i64)> {
        let bits = self.cidr.max_prefix_len() - self.cidr.prefix_len();
        let size: u128 = if bits >= 127 { u128::MAX } else { 1u128 << bits };
        let (first, last) = match (self.family(), self.cidr.prefix_len()) {
            (4, p) if p >= 31 => (0, size - 1),
            (4, _) => (1, size - 2),            // network and broadcast
            _ => (1, (size - 1).min(MAX_OFFSET)), // subnet-router anycast at 0
        };
        let mut holes: Vec<(u128, u128)> = Vec::new();
        let off = |a: IpAddr| to_u128(a) - self.base();
        holes.extend(self.gateway.map(|g| (off(g), off(g))));
        holes.extend(self.excluded.iter().map(|a| (off(*a), off(*a))));
        holes.extend(self.reserved.iter().map(|r| (off(r.first), off(r.last))));
        holes.sort();
        let mut out = Vec::new();
        let mut next = first;
        for (a, b) in holes {
            if b < next {
                continue;
            }
            if a > next {
                out.push((next as i64, (a - 1).min(last) as i64));
            }
            next = b + 1;
            if next > last {
                break;
            }
        }
        if next <= last {
            out.push((next as i64, last as i64));
        }
        out.retain(|(a, b)| a <= b && (*a as u128) <= last);
        out
    }
}

pub fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn from_u128(v: u128, family: u8) -> IpAddr {
    if family == 4 { IpAddr::V4((v as u32).into()) } else { IpAddr::V6(v.into()) }
}

/// An address handed to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub pool: String,
    pub address: IpAddr,
    pub prefix_len: u8,
    pub gateway: Option<IpAddr>,
    pub vlan: Vlan,
    pub request_id: String,
    pub purpose: String,
}

/// What an `allocate_address` step saves and later steps, documents and the asset register read back
/// (`${steps.address-v4.address}`): the address with its network, or, where the pool does not
/// exist and the step is optional, nothing and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressOutput {
    pub address: Option<IpAddr>,
    pub prefix_len: Option<u8>,
    pub gateway: Option<IpAddr>,
    pub vlan: Option<u16>,
    pub pool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
}

impl crate::domain::SavedOutput for AddressOutput {}

impl AddressOutput {
    /// `address/prefix_len`, or the bare address when the prefix is unknown.
    pub fn with_prefix(&self) -> Option<String> {
        let address = self.address?;
        Some(match self.prefix_len {
            Some(p) => format!("{address}/{p}"),
            None => address.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(cidr: &str) -> PoolSpec {
        PoolSpec { name: "p".into(), noc: "NOC-SMD".into(), vlan: Vlan::new(120).unwrap(), cidr: cidr.parse().unwrap(), gateway: None, reserved: vec![], excluded: vec![] }
    }

    #[test]
    fn ipv4_free_ranges_skip_network_broadcast_gateway_and_reserved() {
        let mut p = pool("198.51.100.128/25");
        p.gateway = Some("198.51.100.129".parse().unwrap());
        p.reserved = vec!["198.51.100.130-198.51.100.139".parse().unwrap()];
        p.excluded = vec!["198.51.100.200".parse().unwrap()];
        p.validate().unwrap();
        assert_eq!(p.free_ranges(), vec![(12, 71), (73, 126)]);
        assert_eq!(p.address_at(12).to_string(), "198.51.100.140");
        assert_eq!(p.offset_of("198.51.100.254".parse().unwrap()), Some(126));
    }

    #[test]
    fn ipv6_pools_are_capped() {
        let p = pool("2001:db8:100::/64");
        assert_eq!(p.free_ranges(), vec![(1, MAX_OFFSET as i64)]);
        assert_eq!(p.address_at(1).to_string(), "2001:db8:100::1");
    }

    #[test]
    fn bad_pools_are_refused() {
        assert_eq!(Vlan::new(0), Err(IpamError::Vlan(0)));
        assert_eq!(Vlan::new(4095), Err(IpamError::Vlan(4095)));
        let mut p = pool("198.51.100.128/25");
        p.gateway = Some("198.51.100.1".parse().unwrap());
        assert!(matches!(p.validate(), Err(IpamError::Outside { .. })));
        let mut p = pool("198.51.100.128/30");
        p.reserved = vec!["198.51.100.129-198.51.100.130".parse().unwrap()];
        assert!(matches!(p.validate(), Err(IpamError::Empty(_))));
        assert!("198.51.100.9-198.51.100.1".parse::<AddrRange>().is_err());
        let mut p = pool("198.51.100.0/24");
        p.name = "Bad Name;".into();
        assert!(matches!(p.validate(), Err(IpamError::PoolName(_))));
    }
}
