//! `kolokasi datacenter show`: the inventory with what requests hold.

use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;
use super::output::{print_json, print_table};

#[derive(Debug, Subcommand)]
pub enum DatacenterCmd {
    /// Sites, racks, power and uplinks, with reservations.
    Show,
}

pub async fn run(ctx: &Ctx, cmd: DatacenterCmd) -> anyhow::Result<ExitCode> {
    let DatacenterCmd::Show = cmd;
    let service = ctx.service().await?;
    let usage = service.store.capacity_usage().await?;
    if ctx.json {
        print_json(&serde_json::json!({ "inventory": *service.inventory, "usage": usage }));
        return Ok(ExitCode::SUCCESS);
    }
    for site in &service.inventory.sites {
        println!("{} — {}", site.noc, site.name);
        println!(
            "  UPS {} W, genset {} W, uplink {} Mbps ({} committed, {} reserved by requests)",
            site.ups.capacity_watts(),
            site.genset.capacity_watts(),
            site.uplink_mbps,
            site.uplink_committed_mbps,
            usage.bandwidth_mbps.get(&site.noc).copied().unwrap_or(0)
        );
        let rows: Vec<Vec<String>> = site
            .racks
            .iter()
            .map(|r| {
                let reserved: Vec<_> = usage.units.iter().filter(|u| u.noc == site.noc && u.rack == r.name).collect();
                let used_u: u32 = r.occupied.iter().map(|o| u32::from(o.to_u - o.from_u + 1)).sum::<u32>()
                    + reserved.iter().map(|u| u32::from(u.to_u - u.from_u + 1)).sum::<u32>();
                let power: u64 = r.occupied.iter().map(|o| o.power_w).sum::<u64>() + reserved.iter().map(|u| u.power_w).sum::<u64>();
                vec![r.name.clone(), format!("{used_u}/{} U", r.height_u), format!("{power}/{} W", r.power_budget_w), reserved.len().to_string()]
            })
            .collect();
        print_table(&["RAK", "TERPAKAI", "DAYA", "RESERVASI"], &rows);
    }
    Ok(ExitCode::SUCCESS)
}
