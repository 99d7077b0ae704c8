//! The capacity check of SOP step 3: is there space (tempat), power (listrik), UPS, genset and
//! bandwidth for this request, and where would it go?
//!
//! Pure: takes the inventory, what is already reserved, and the request; returns a verdict. The
//! service layer records it and, at approval, re-runs it inside the reserving transaction.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Inventory, Site};
use crate::domain::{RequestForm, RequestKind};

/// What requests hold now (from the store).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub units: Vec<ReservedUnits>,
    /// Bandwidth reserved by requests, per NOC.
    pub bandwidth_mbps: BTreeMap<String, u64>,
    pub hosting: HostingUsage,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReservedUnits {
    pub noc: String,
    pub rack: String,
    pub from_u: u8,
    pub to_u: u8,
    pub power_w: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HostingUsage {
    pub cpu_cores: u64,
    pub ram_gb: u64,
    pub storage_gb: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Tempat: contiguous rack units.
    RackSpace,
    /// Listrik: the rack's power budget.
    RackPower,
    Ups,
    Genset,
    Bandwidth,
    HostingCpu,
    HostingRam,
    HostingStorage,
    /// No site or platform is configured for this kind of request.
    NoSite,
}

impl Resource {
    pub fn label_id(self) -> &'static str {
        match self {
            Self::RackSpace => "ruang rak (tempat)",
            Self::RackPower => "daya rak (listrik)",
            Self::Ups => "UPS",
            Self::Genset => "genset",
            Self::Bandwidth => "bandwidth",
            Self::HostingCpu => "CPU platform hosting",
            Self::HostingRam => "RAM platform hosting",
            Self::HostingStorage => "storage platform hosting",
            Self::NoSite => "lokasi",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shortage {
    pub resource: Resource,
    pub needed: u64,
    pub available: u64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Placement {
    pub server: String,
    pub noc: String,
    pub rack: String,
    pub from_u: u8,
    pub to_u: u8,
    pub power_w: u64,
}

impl Placement {
    /// "R01 U5-U6" — Letak Server on the forms.
    pub fn location(&self) -> String {
        if self.from_u == self.to_u {
            format!("{} U{}", self.rack, self.from_u)
        } else {
            format!("{} U{}-U{}", self.rack, self.from_u, self.to_u)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verdict {
    pub ok: bool,
    pub noc: Option<String>,
    pub placements: Vec<Placement>,
    pub bandwidth_mbps: u64,
    pub shortages: Vec<Shortage>,
}

impl Verdict {
    /// One line for the closing reason: "short of UPS: needs 500 W, 120 W free".
    pub fn summary(&self) -> String {
        if self.ok {
            let places: Vec<_> = self.placements.iter().map(|p| format!("{} → {}", p.server, p.location())).collect();
            return format!("capacity available at {}: {}", self.noc.as_deref().unwrap_or("-"), places.join(", "));
        }
        self.shortages.iter().map(|s| s.detail.clone()).collect::<Vec<_>>().join("; ")
    }
}

/// Runs the check over every site and returns the first that fits, or the shortages of the site
/// that came closest.
pub fn check(inventory: &Inventory, usage: &Usage, form: &RequestForm) -> Verdict {
    match form.kind {
        RequestKind::Colocation => {
            let mut best: Option<Verdict> = None;
            for site in &inventory.sites {
                let v = check_site(site, usage, form);
                if v.ok {
                    return v;
                }
                if best.as_ref().is_none_or(|b| v.shortages.len() < b.shortages.len()) {
                    best = Some(v);
                }
            }
            best.unwrap_or_else(|| no_site("no NOC is configured in the inventory"))
        }
        RequestKind::Hosting => check_hosting(inventory, usage, form),
    }
}

fn no_site(detail: &str) -> Verdict {
    Verdict {
        ok: false,
        noc: None,
        placements: vec![],
        bandwidth_mbps: 0,
        shortages: vec![Shortage { resource: Resource::NoSite, needed: 1, available: 0, detail: detail.into() }],
    }
}

/// Free U map and power headroom of one rack, updated as the plan places servers.
struct RackState<'a> {
    name: &'a str,
    free: Vec<bool>, // index 1..=height
    power_left: i64,
}

fn check_site(site: &Site, usage: &Usage, form: &RequestForm) -> Verdict {
    let mut racks = rack_states(site, usage);
    let mut shortages = Vec::new();
    let mut placements = Vec::new();
    // Largest chassis first, so small servers do not fragment the runs big ones need.
    let mut order: Vec<_> = form.servers.iter().collect();
    order.sort_by_key(|s| std::cmp::Reverse(s.rack_units));
    for server in order {
        match place(site, &mut racks, server) {
            Ok(p) => placements.push(p),
            Err(shortage) => shortages.push(shortage),
        }
    }
    shortages.extend(site_shortages(site, usage, form));
    let ok = shortages.is_empty();
    Verdict {
        ok,
        noc: Some(site.noc.clone()),
        placements: if ok { placements } else { vec![] },
        bandwidth_mbps: form.total_bandwidth_mbps(),
        shortages,
    }
}

/// Each rack's free units and power headroom after what is installed and what is reserved.
fn rack_states<'a>(site: &'a Site, usage: &Usage) -> Vec<RackState<'a>> {
    site.racks
        .iter()
        .map(|r| {
            let mut free = vec![true; usize::from(r.height_u) + 1];
            free[0] = false;
            let mut power = r.power_budget_w as i64;
            for o in &r.occupied {
                (o.from_u..=o.to_u).for_each(|u| free[usize::from(u)] = false);
                power -= o.power_w as i64;
            }
            for res in usage.units.iter().filter(|x| x.noc == site.noc && x.rack == r.name) {
                (res.from_u..=res.to_u.min(r.height_u)).for_each(|u| free[usize::from(u)] = false);
                power -= res.power_w as i64;
            }
            RackState { name: &r.name, free, power_left: power }
        })
        .collect()
}

/// Places one server in the first rack with a free run of its height and the power for it, or
/// says which of the two is short.
fn place(site: &Site, racks: &mut [RackState<'_>], server: &crate::domain::ServerSpec) -> Result<Placement, Shortage> {
    let need_u = server.rack_units;
    let need_w = i64::from(server.psu_watts);
    let mut space_somewhere = false;
    for rack in racks.iter_mut() {
        let Some(from) = first_run(&rack.free, need_u) else { continue };
        space_somewhere = true;
        if rack.power_left >= need_w {
            let to = from + need_u - 1;
            (from..=to).for_each(|u| rack.free[usize::from(u)] = false);
            rack.power_left -= need_w;
            return Ok(Placement {
                server: server.name.to_string(),
                noc: site.noc.clone(),
                rack: rack.name.to_string(),
                from_u: from,
                to_u: to,
                power_w: need_w as u64,
            });
        }
    }
    Err(if space_somewhere {
        let best = racks.iter().filter(|r| first_run(&r.free, need_u).is_some()).map(|r| r.power_left.max(0)).max().unwrap_or(0);
        Shortage {
            resource: Resource::RackPower,
            needed: need_w as u64,
            available: best as u64,
            detail: format!("{}: no rack with {need_u} U free has {need_w} W of power budget left for {} (best: {best} W)", site.noc, server.name),
        }
    } else {
        let longest = racks.iter().map(|r| longest_run(&r.free)).max().unwrap_or(0);
        Shortage {
            resource: Resource::RackSpace,
            needed: u64::from(need_u),
            available: u64::from(longest),
            detail: format!("{}: no rack has {need_u} contiguous free U for {} (largest free run: {longest} U)", site.noc, server.name),
        }
    })
}

/// Site-wide power chain (UPS, genset) and uplink.
fn site_shortages(site: &Site, usage: &Usage, form: &RequestForm) -> Vec<Shortage> {
    let mut shortages = Vec::new();
    let static_load: u64 = site.racks.iter().flat_map(|r| &r.occupied).map(|o| o.power_w).sum();
    let reserved_load: u64 = usage.units.iter().filter(|u| u.noc == site.noc).map(|u| u.power_w).sum();
    let need_power = form.total_power_watts();
    for (resource, source, name) in [(Resource::Ups, &site.ups, "UPS"), (Resource::Genset, &site.genset, "genset")] {
        let cap = source.capacity_watts();
        let used = static_load + reserved_load + source.base_load_w;
        let free = cap.saturating_sub(used);
        if need_power > free {
            shortages.push(Shortage {
                resource,
                needed: need_power,
                available: free,
                detail: format!("{}: {name} has {free} W free of {cap} W; the request needs {need_power} W", site.noc),
            });
        }
    }
    let need_bw = form.total_bandwidth_mbps();
    let bw_used = site.uplink_committed_mbps + usage.bandwidth_mbps.get(&site.noc).copied().unwrap_or(0);
    let bw_free = site.uplink_mbps.saturating_sub(bw_used);
    if need_bw > bw_free {
        shortages.push(Shortage {
            resource: Resource::Bandwidth,
            needed: need_bw,
            available: bw_free,
            detail: format!("{}: uplink has {bw_free} Mbps free of {} Mbps; the request needs {need_bw} Mbps", site.noc, site.uplink_mbps),
        });
    }
    shortages
}

fn check_hosting(inventory: &Inventory, usage: &Usage, form: &RequestForm) -> Verdict {
    let Some(platform) = &inventory.hosting_platform else {
        return no_site("no hosting platform is configured in the inventory");
    };
    let mut shortages = Vec::new();
    let sum = |f: fn(&crate::domain::ServerSpec) -> u64| form.servers.iter().map(f).sum::<u64>();
    let needs = [
        (Resource::HostingCpu, "CPU cores", sum(|s| u64::from(s.cpu_cores)), platform.cpu_cores, usage.hosting.cpu_cores),
        (Resource::HostingRam, "GB RAM", sum(|s| u64::from(s.ram_gb)), platform.ram_gb, usage.hosting.ram_gb),
        (Resource::HostingStorage, "GB storage", sum(|s| u64::from(s.storage_gb)), platform.storage_gb, usage.hosting.storage_gb),
    ];
    for (resource, unit, need, cap, used) in needs {
        let free = cap.saturating_sub(used);
        if need > free {
            shortages.push(Shortage {
                resource,
                needed: need,
                available: free,
                detail: format!("hosting platform has {free} {unit} free of {cap}; the request needs {need}"),
            });
        }
    }
    let need_bw = form.total_bandwidth_mbps();
    if let Some(site) = inventory.site(&platform.noc) {
        let used = site.uplink_committed_mbps + usage.bandwidth_mbps.get(&site.noc).copied().unwrap_or(0);
        let free = site.uplink_mbps.saturating_sub(used);
        if need_bw > free {
            shortages.push(Shortage {
                resource: Resource::Bandwidth,
                needed: need_bw,
                available: free,
                detail: format!("{}: uplink has {free} Mbps free of {} Mbps; the request needs {need_bw} Mbps", site.noc, site.uplink_mbps),
            });
        }
    }
    Verdict { ok: shortages.is_empty(), noc: Some(platform.noc.clone()), placements: vec![], bandwidth_mbps: need_bw, shortages }
}

/// Lowest U at which `len` contiguous free units start.
fn first_run(free: &[bool], len: u8) -> Option<u8> {
    let len = usize::from(len);
    let mut run = 0;
    for (u, f) in free.iter().enumerate() {
        run = if *f { run + 1 } else { 0 };
        if run == len {
            return Some((u + 1 - len) as u8);
        }
    }
    None
}

fn longest_run(free: &[bool]) -> u8 {
    let (mut best, mut run) = (0, 0);
    for f in free {
        run = if *f { run + 1 } else { 0 };
        best = best.max(run);
    }
    best as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Inventory;

    fn form() -> RequestForm {
        RequestForm::from_yaml(include_str!("../../deploy/examples/colocation-request.yaml")).unwrap()
    }

    fn inv(edit: impl Fn(&mut Inventory)) -> Inventory {
        let mut i = Inventory::example();
        edit(&mut i);
        i
    }

    #[test]
    fn places_the_sample_in_the_lowest_free_slot() {
        let v = check(&Inventory::example(), &Usage::default(), &form());
        assert!(v.ok, "{v:?}");
        assert_eq!(v.placements[0].location(), "R01 U5");
        assert_eq!(v.noc.as_deref(), Some("NOC-SMD"));
    }

    #[test]
    fn reserved_units_are_skipped() {
        let usage = Usage {
            units: vec![ReservedUnits { noc: "NOC-SMD".into(), rack: "R01".into(), from_u: 5, to_u: 6, power_w: 400 }],
            ..Usage::default()
        };
        let v = check(&Inventory::example(), &usage, &form());
        assert_eq!(v.placements[0].location(), "R01 U7");
    }

    fn only_short(v: &Verdict, r: Resource) {
        assert!(!v.ok);
        assert_eq!(v.shortages.iter().map(|s| s.resource).collect::<Vec<_>>(), vec![r], "{v:?}");
    }

    #[test]
    fn short_of_rack_space() {
        let i = inv(|i| i.sites[0].racks.iter_mut().for_each(|r| r.occupied.push(crate::capacity::inventory::Occupied { from_u: 21, to_u: 38, label: "x".into(), power_w: 0 })));
        let i = {
            let mut i = i;
            i.sites[0].racks[0].occupied.push(crate::capacity::inventory::Occupied { from_u: 5, to_u: 20, label: "y".into(), power_w: 0 });
            i.sites[0].racks[1].occupied.push(crate::capacity::inventory::Occupied { from_u: 39, to_u: 40, label: "z".into(), power_w: 0 });
            i
        };
        let v = check(&i, &Usage::default(), &form());
        only_short(&v, Resource::RackSpace);
        assert!(v.summary().contains("contiguous free U"), "{}", v.summary());
    }

    #[test]
    fn short_of_rack_power() {
        let i = inv(|i| i.sites[0].racks.iter_mut().for_each(|r| r.power_budget_w = 800));
        only_short(&check(&i, &Usage::default(), &form()), Resource::RackPower);
    }

    #[test]
    fn short_of_ups() {
        let i = inv(|i| i.sites[0].ups = crate::capacity::inventory::PowerSource { capacity_kva: None, power_factor: None, capacity_w: Some(3800), base_load_w: 0 });
        let v = check(&i, &Usage::default(), &form());
        only_short(&v, Resource::Ups);
        assert_eq!((v.shortages[0].needed, v.shortages[0].available), (500, 250));
    }

    #[test]
    fn short_of_genset() {
        let i = inv(|i| i.sites[0].genset.base_load_w = 79_800);
        only_short(&check(&i, &Usage::default(), &form()), Resource::Genset);
    }

    #[test]
    fn short_of_bandwidth() {
        let usage = Usage { bandwidth_mbps: [("NOC-SMD".to_string(), 750)].into(), ..Usage::default() };
        let v = check(&Inventory::example(), &usage, &form());
        only_short(&v, Resource::Bandwidth);
        assert_eq!(v.shortages[0].available, 50);
    }

    #[test]
    fn hosting_checks_the_platform() {
        let mut f = RequestForm::from_yaml(include_str!("../../deploy/examples/hosting-request.yaml")).unwrap();
        assert!(check(&Inventory::example(), &Usage::default(), &f).ok);
        f.servers[0].ram_gb = 2000;
        only_short(&check(&Inventory::example(), &Usage::default(), &f), Resource::HostingRam);
    }

    #[test]
    fn runs() {
        let free = [false, true, true, false, true, true, true];
        assert_eq!(first_run(&free, 2), Some(1));
        assert_eq!(first_run(&free, 3), Some(4));
        assert_eq!(first_run(&free, 4), None);
        assert_eq!(longest_run(&free), 3);
    }
}
