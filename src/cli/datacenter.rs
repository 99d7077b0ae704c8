//! `kolokasi datacenter show`: the inventory with what requests hold; `kolokasi datacenter
//! check`: reads every configured firewall and says whether kolokasi's rules can work there.

use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;
use super::output::{print_json, print_table};

#[derive(Debug, Subcommand)]
pub enum DatacenterCmd {
    /// Sites, racks, power and uplinks, with reservations.
    Show,
    /// Reads each firewall's ruleset and says whether its integration mode can work (exit 1 if
    /// one cannot: a table or chain missing, or a default-deny chain kolokasi's rules do not pass).
    Check,
}

pub async fn run(ctx: &Ctx, cmd: DatacenterCmd) -> anyhow::Result<ExitCode> {
    if let DatacenterCmd::Check = cmd {
        return check(ctx).await;
    }
    let service = ctx.service().await?;
    let usage = service.datacenter_usage(&ctx.reader()?).await?;
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

async fn check(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let report = ctx.engine().await?.datacenter_check(&ctx.reader()?).await?;
    let (works, all) = (report.works, report.firewalls);
    if ctx.json {
        print_json(&serde_json::json!({ "works": works, "firewalls": all }));
    } else {
        for d in &all {
            println!("{} (mode {}): {}", d.device, d.mode, if d.works { "can work" } else { "CANNOT WORK" });
            for c in &d.base_chains {
                println!("  base chain {} hook {} priority {} policy {}", c.label(), c.hook, c.priority, c.policy);
            }
            for f in &d.findings {
                let tag = match f.level {
                    crate::firewall::doctor::Level::Ok => "ok     ",
                    crate::firewall::doctor::Level::Warning => "warning",
                    crate::firewall::doctor::Level::Problem => "PROBLEM",
                };
                println!("  {tag} {}", f.message);
            }
        }
    }
    Ok(if works { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
