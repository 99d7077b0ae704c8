//! Typed values for switch-port configuration: interface names (per device model), VLAN
//! settings and descriptions. These are the only values the switch drivers put into a device
//! command or an OVSDB transaction; each is parsed once and rejects anything a shell or a
//! device CLI could read as syntax.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ipam::Vlan;
use crate::ssh::RequestTag;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortValueError {
    #[error("{name:?} is not a valid {pattern} interface name ({rule})")]
    InterfaceName { name: String, pattern: PortPattern, rule: &'static str },
    #[error("the port description must not be empty")]
    EmptyDescription,
    #[error("the port description is {0} characters long; at most 64 are allowed")]
    DescriptionTooLong(usize),
    #[error("the port description must not contain {what}; allowed are letters, digits, space and - _ . : / ( ) #")]
    DescriptionCharacter { what: String },
}

/// The interface-name grammar of a device model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortPattern {
    /// Open vSwitch (Linux interface names): `^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$`.
    Ovs,
    /// IOS-style names: `GigabitEthernet1/0/1`, `Te1/1/4`, `Ethernet1/49.100`.
    Ios,
}

impl fmt::Display for PortPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ovs => "Open vSwitch",
            Self::Ios => "IOS-style",
        })
    }
}

impl PortPattern {
    fn rule(self) -> &'static str {
        match self {
            Self::Ovs => "1-15 of A-Z a-z 0-9 _ . : -, starting with a letter or digit",
            Self::Ios => "a type name then slot/port numbers, like GigabitEthernet1/0/1 or Te1/1/4.100",
        }
    }

    fn matches(self, s: &str) -> bool {
        let b = s.as_bytes();
        match self {
            Self::Ovs => {
                (1..=15).contains(&b.len())
                    && b[0].is_ascii_alphanumeric()
                    && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-'))
            }
            Self::Ios => {
                // [A-Za-z][A-Za-z-]{1,29} then digits{1,3} (/digits{1,3}){0,3} (.digits{1,4})?
                let letters = b.iter().take_while(|c| c.is_ascii_alphabetic() || **c == b'-').count();
                if !(2..=30).contains(&letters) || !b[0].is_ascii_alphabetic() {
                    return false;
                }
                let (numbers, sub) = match s[letters..].split_once('.') {
                    Some((n, sub)) => (n, Some(sub)),
                    None => (&s[letters..], None),
                };
                let digits = |p: &str, max: usize| (1..=max).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit());
                let parts: Vec<&str> = numbers.split('/').collect();
                parts.len() <= 4 && parts.iter().all(|p| digits(p, 3)) && sub.is_none_or(|p| digits(p, 4))
            }
        }
    }
}

/// A switch interface name, valid for the device model it was parsed for.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InterfaceName(String);

impl InterfaceName {
    pub fn parse(pattern: PortPattern, name: &str) -> Result<Self, PortValueError> {
        if pattern.matches(name) {
            Ok(Self(name.to_string()))
        } else {
            Err(PortValueError::InterfaceName { name: name.to_string(), pattern, rule: pattern.rule() })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InterfaceName {
    type Error = PortValueError;
    /// Stored names (run outputs) are accepted if any device model accepts them.
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Self::parse(PortPattern::Ovs, &v).or_else(|_| Self::parse(PortPattern::Ios, &v))
    }
}

impl From<InterfaceName> for String {
    fn from(v: InterfaceName) -> String {
        v.0
    }
}

impl AsRef<str> for InterfaceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InterfaceName({})", self.0)
    }
}

/// A port description: 1–64 of letters, digits, space and `- _ . : / ( ) #`. The set is small
/// on purpose: it is safe inside an ovs-vsctl quoted string, a JSON string and an IOS
/// `description` line alike.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortDescription(String);

crate::domain::string_newtype!(PortDescription, PortValueError, debug = named_quoted);

impl PortDescription {
    pub const MAX: usize = 64;

    pub fn parse(text: &str) -> Result<Self, PortValueError> {
        if text.trim().is_empty() {
            return Err(PortValueError::EmptyDescription);
        }
        if let Some(what) = text.chars().find_map(|c| forbidden(c, text)) {
            return Err(PortValueError::DescriptionCharacter { what });
        }
        let n = text.chars().count();
        if n > Self::MAX {
            return Err(PortValueError::DescriptionTooLong(n));
        }
        Ok(Self(text.to_string()))
    }
}

/// Names the first offending character in words an operator understands.
fn forbidden(c: char, text: &str) -> Option<String> {
    if c.is_ascii_alphanumeric() || " -_.:/()#".contains(c) {
        return None;
    }
    Some(match c {
        '\r' | '\n' => "a line break".into(),
        ';' => "`;` (command separator)".into(),
        '|' => "`|` (pipe)".into(),
        '`' => "a backtick (command substitution)".into(),
        '$' if text.contains("$(") => "`$(` (command substitution)".into(),
        '$' => "`$`".into(),
        '\'' | '"' => "quotes".into(),
        c if c.is_control() => format!("the non-printable character U+{:04X}", c as u32),
        c => format!("{c:?}"),
    })
}

/// What a port should carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortMode {
    /// Untagged member of one VLAN.
    Access(Vlan),
    /// Tagged member of these VLANs.
    Trunk(Vec<Vlan>),
}

/// 802.1Q handling of a port, as OVS names it (`vlan_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VlanMode {
    Access,
    Trunk,
    NativeTagged,
    NativeUntagged,
    Dot1qTunnel,
}

impl VlanMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Trunk => "trunk",
            Self::NativeTagged => "native-tagged",
            Self::NativeUntagged => "native-untagged",
            Self::Dot1qTunnel => "dot1q-tunnel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Access, Self::Trunk, Self::NativeTagged, Self::NativeUntagged, Self::Dot1qTunnel].into_iter().find(|m| m.as_str() == s)
    }
}

/// A port's VLAN settings exactly as the switch holds them, so a restore puts back what was
/// there (including "no mode set"), not an approximation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PortVlans {
    /// The access VLAN (or the native VLAN of a trunk).
    pub tag: Option<Vlan>,
    /// Allowed tagged VLANs, sorted; empty on a trunk means all.
    pub trunks: Vec<Vlan>,
    pub vlan_mode: Option<VlanMode>,
}

impl PortVlans {
    /// Sorts and de-duplicates the trunk list, as the switch reports it.
    pub fn normalised(mut self) -> Self {
        self.trunks.sort();
        self.trunks.dedup();
        self
    }

    /// The parking setting of a disabled port (see [`SwitchPortState::enabled`]).
    pub fn parked() -> Self {
        Self { tag: Some(parking_vlan()), trunks: Vec::new(), vlan_mode: Some(VlanMode::Access) }
    }
}

impl From<&PortMode> for PortVlans {
    fn from(mode: &PortMode) -> Self {
        match mode {
            PortMode::Access(v) => Self { tag: Some(*v), trunks: Vec::new(), vlan_mode: Some(VlanMode::Access) },
            PortMode::Trunk(vs) => Self { tag: None, trunks: vs.clone(), vlan_mode: Some(VlanMode::Trunk) }.normalised(),
        }
    }
}

/// VLAN 4094: where a disabled port is parked. Nothing else may use it.
pub fn parking_vlan() -> Vlan {
    Vlan::new(4094).expect("4094 is a VLAN id")
}

/// What kolokasi wants on a port, on behalf of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchPortConfig {
    pub port: InterfaceName,
    pub mode: PortMode,
    pub description: PortDescription,
    pub enabled: bool,
    /// Stamped on the port so the change can be found again and undone.
    pub request: RequestTag,
}

/// A port as read from the switch: everything kolokasi sets, and whether the port exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchPortState {
    pub port: InterfaceName,
    pub exists: bool,
    /// The VLANs the port carries when enabled.
    pub vlans: PortVlans,
    /// As found on the device (it may predate kolokasi, so it is plain text here); written
    /// back only through the JSON/ovs-vsctl string encoders and shell quoting.
    pub description: Option<String>,
    /// Open vSwitch has no persistent administrative up/down in its database (`admin_state`
    /// is status that ovs-vswitchd reports, and `ovs-ofctl mod-port … down` is lost on a
    /// restart and unreachable over OVSDB). So a disabled port is *parked*: its tag becomes
    /// VLAN 4094 ([`parking_vlan`]) and `external_ids:kolokasi-disabled` keeps the VLAN
    /// settings it returns to when enabled.
    pub enabled: bool,
    /// The request that owns the port (`external_ids:kolokasi-request`).
    pub request: Option<RequestTag>,
    /// The port before that request changed it (`external_ids:kolokasi-previous`, JSON), so
    /// an undo can restore it even if the forward step's output was never saved.
    pub previous: Option<Box<SwitchPortState>>,
}

impl SwitchPortState {
    pub fn missing(port: InterfaceName) -> Self {
        Self { port, exists: false, vlans: PortVlans::default(), description: None, enabled: true, request: None, previous: None }
    }

    /// The same port without kolokasi's bookkeeping (what a request's `previous` holds).
    pub fn without_bookkeeping(&self) -> Self {
        Self { request: None, previous: None, ..self.clone() }
    }

    /// The access VLAN the port carries, if it is an access port.
    pub fn access_vlan(&self) -> Option<Vlan> {
        match self.vlans.vlan_mode {
            Some(VlanMode::Access) | None if self.vlans.trunks.is_empty() => self.vlans.tag,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_follow_the_device_model() {
        for ok in ["r1p3", "eth0", "br0.120", "veth-a_b:1", "abcdefghijklmno"] {
            assert!(InterfaceName::parse(PortPattern::Ovs, ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "r1p3 -- del-port r1p4", "a;b", "$(reboot)", "a/b", "abcdefghijklmnop", "r1p3\n"] {
            assert!(InterfaceName::parse(PortPattern::Ovs, bad).is_err(), "{bad:?}");
        }
        for ok in ["GigabitEthernet1/0/1", "Te1/1/4", "Ethernet1/49.100", "Gi0/1", "FastEthernet0"] {
            assert!(InterfaceName::parse(PortPattern::Ios, ok).is_ok(), "{ok}");
        }
        for bad in ["Gi1/0/1 ; reload", "1/0/1", "Gi", "Gi1/0/1/2/3", "Gi1/a", "Gi1/0/1\r\nreload"] {
            assert!(InterfaceName::parse(PortPattern::Ios, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn descriptions_reject_metacharacters_with_a_clear_reason() {
        assert!(PortDescription::parse("kolokasi KLK-2026-00042 srv-sipd (rack 1/U12) #a:b").is_ok());
        let reason = |s: &str| PortDescription::parse(s).unwrap_err().to_string();
        assert!(reason("a\nb").contains("line break"));
        assert!(reason("a\rb").contains("line break"));
        assert!(reason("x; ovs-vsctl del-br br0").contains("`;`"));
        assert!(reason("a | b").contains("pipe"));
        assert!(reason("`id`").contains("backtick"));
        assert!(reason("$(reboot)").contains("$("));
        assert!(reason("a'b").contains("quotes"));
        assert!(reason("a\"b").contains("quotes"));
        assert!(reason("a\u{7}b").contains("non-printable"));
        assert!(reason(&"x".repeat(65)).contains("64"));
        assert!(reason("  ").contains("empty"));
    }

    #[test]
    fn state_round_trips_through_json() {
        let port = InterfaceName::parse(PortPattern::Ovs, "r1p3").unwrap();
        let mut s = SwitchPortState::missing(port);
        s.exists = true;
        s.vlans = PortVlans::from(&PortMode::Trunk(vec![Vlan::new(30).unwrap(), Vlan::new(10).unwrap()]));
        s.previous = Some(Box::new(SwitchPortState { description: Some("old \"one\"".into()), ..s.clone() }));
        let back: SwitchPortState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(s.vlans.trunks, vec![Vlan::new(10).unwrap(), Vlan::new(30).unwrap()]);
    }
}
