//! Where kolokasi's nftables objects live, and the JSON that names them: its own table
//! (`inet kolokasi`: maps `dest4`/`dest6`, request chains `KLK-…-v4-…`) or the operator's table
//! (maps `kolokasi_dest4`/`kolokasi_dest6`, dispatch chain `kolokasi`, request chains
//! `kolokasi_KLK-…-v4-…`). Everything kolokasi creates in an operator's table starts with
//! `kolokasi`, so nothing of the operator's is ever taken for kolokasi's.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::integration::NftFamily;
use crate::ssh::RequestTag;

/// kolokasi's own table (`own_table` mode) and its names.
pub const FAMILY: &str = "inet";
pub const TABLE: &str = "kolokasi";
pub const CHAIN_INPUT: &str = "input";
pub const CHAIN_FORWARD: &str = "forward";
pub const MAP_V4: &str = "dest4";
pub const MAP_V6: &str = "dest6";

/// The chain holding `request`'s rules for `destination`.
pub fn request_chain(request: &RequestTag, destination: IpAddr) -> String {
    format!("{request}{}", chain_suffix(destination))
}

/// The request whose chain for `destination` this is, by its name.
pub fn chain_owner(chain: &str, destination: IpAddr) -> Option<RequestTag> {
    RequestTag::parse(chain.strip_suffix(&chain_suffix(destination))?).ok()
}

/// `-v4-198_51_100_5`, `-v6-2001_db8__5`: the address in characters a chain name may hold.
fn chain_suffix(destination: IpAddr) -> String {
    match destination {
        IpAddr::V4(a) => format!("-v4-{}", a.to_string().replace('.', "_")),
        IpAddr::V6(a) => format!("-v6-{}", a.to_string().replace(':', "_")),
    }
}

/// The comment of the one jump kolokasi keeps in an operator's base chain.
pub const JUMP_COMMENT: &str = "kolokasi:jump";
/// The chain that jump leads to (in the operator's table).
pub const DISPATCH_CHAIN: &str = "kolokasi";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub family: NftFamily,
    pub table: String,
    /// Before each request chain's name.
    pub prefix: &'static str,
    pub map4: &'static str,
    pub map6: &'static str,
}

impl Layout {
    /// kolokasi's own table `inet kolokasi`.
    pub fn own() -> Self {
        Self { family: NftFamily::Inet, table: TABLE.into(), prefix: "", map4: MAP_V4, map6: MAP_V6 }
    }

    /// Inside an operator's table.
    pub fn operator(family: NftFamily, table: &str) -> Self {
        Self { family, table: table.into(), prefix: "kolokasi_", map4: "kolokasi_dest4", map6: "kolokasi_dest6" }
    }

    pub fn request_chain(&self, request: &RequestTag, destination: IpAddr) -> String {
        format!("{}{}", self.prefix, request_chain(request, destination))
    }

    pub fn chain_owner(&self, chain: &str, destination: IpAddr) -> Option<RequestTag> {
        chain_owner(chain.strip_prefix(self.prefix)?, destination)
    }

    pub fn map_of(&self, destination: IpAddr) -> &'static str {
        if destination.is_ipv4() { self.map4 } else { self.map6 }
    }

    /// The maps this table's family can hold: `(name, key type, ip protocol)`.
    pub fn maps(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        [(self.map4, "ipv4_addr", "ip", true), (self.map6, "ipv6_addr", "ip6", false)]
            .into_iter()
            .filter(|m| self.family.carries(m.3))
            .map(|(n, k, p, _)| (n, k, p))
            .collect()
    }

    pub fn table_ref(&self) -> Value {
        json!({"family": self.family.as_str(), "name": self.table})
    }

    pub fn chain_ref(&self, name: &str) -> Value {
        json!({"family": self.family.as_str(), "table": self.table, "name": name})
    }

    /// A map element: `destination : jump chain`, or the key alone (for deletion).
    pub fn element(&self, destination: IpAddr, chain: Option<&str>) -> Value {
        let elem = match chain {
            Some(c) => json!([[destination.to_string(), {"jump": {"target": c}}]]),
            None => json!([destination.to_string()]),
        };
        json!({"family": self.family.as_str(), "table": self.table, "name": self.map_of(destination), "elem": elem})
    }

    pub fn rule(&self, chain: &str, comment: Option<&str>, expr: Vec<Value>) -> Value {
        let mut r = json!({"family": self.family.as_str(), "table": self.table, "chain": chain, "expr": expr});
        if let Some(c) = comment {
            r["comment"] = json!(c);
        }
        r
    }

    /// The maps, and `chain` flushed and holding exactly one dispatch rule per map.
    pub fn maps_and_dispatch(&self, chain: &str) -> Vec<Value> {
        let mut batch = Vec::new();
        for (name, kind, _) in self.maps() {
            batch.push(json!({"add": {"map": {"family": self.family.as_str(), "table": self.table, "name": name, "type": kind, "map": "verdict"}}}));
        }
        batch.push(json!({"flush": {"chain": self.chain_ref(chain)}}));
        for (name, _, protocol) in self.maps() {
            let dispatch = json!({"vmap": {"key": {"payload": {"protocol": protocol, "field": "daddr"}}, "data": format!("@{name}")}});
            batch.push(json!({"add": {"rule": self.rule(chain, None, vec![dispatch])}}));
        }
        batch
    }
}

impl Layout {
    /// The maps and the dispatch chain `kolokasi` with its dispatch rules (operator's table).
    pub fn maps_and_dispatch_chain(&self) -> Vec<Value> {
        let mut batch = vec![json!({"add": {"chain": self.chain_ref(DISPATCH_CHAIN)}})];
        batch.extend(self.maps_and_dispatch(DISPATCH_CHAIN));
        batch
    }
}

pub fn batch_bytes(commands: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"nftables": commands})).expect("serialisable")
}

/// The `{"rule": …}` objects of an `nft -j` listing.
pub fn listed_rules(doc: &Value) -> impl Iterator<Item = &Value> {
    doc["nftables"].as_array().into_iter().flatten().filter_map(|i| i.get("rule"))
}
