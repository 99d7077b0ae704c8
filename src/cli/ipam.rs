//! `kolokasi ipam …`: pools, allocation, release, history.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::Ctx;
use super::output::{print_json, print_table, wita};
use crate::ipam::{AddrRange, PoolSpec, Vlan};

#[derive(Debug, Subcommand)]
pub enum IpamCmd {
    /// Pools with their use.
    Pools,
    /// Add a pool.
    AddPool {
        #[arg(long)]
        name: String,
        #[arg(long)]
        noc: String,
        #[arg(long)]
        vlan: u32,
        #[arg(long)]
        cidr: String,
        #[arg(long)]
        gateway: Option<String>,
        /// A reserved address or range (a-b); repeat for several.
        #[arg(long = "reserve")]
        reserved: Vec<String>,
        /// An address never to hand out; repeat for several.
        #[arg(long = "exclude")]
        excluded: Vec<String>,
    },
    /// Allocate an address to (request, purpose); asking again returns the same address.
    Allocate {
        #[arg(long)]
        request: String,
        #[arg(long)]
        pool: String,
        #[arg(long, default_value = "server")]
        purpose: String,
    },
    /// Release the address of (request, purpose).
    Release {
        #[arg(long)]
        request: String,
        #[arg(long, default_value = "server")]
        purpose: String,
    },
    /// Allocation history (who held which address, when).
    History {
        #[arg(long)]
        request: Option<String>,
        #[arg(long)]
        pool: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

fn purpose_ok(p: &str) -> anyhow::Result<()> {
    let ok = !p.is_empty() && p.len() <= 64 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b));
    anyhow::ensure!(ok, "purpose {p:?} must be 1-64 of letters, digits and - _ . / :");
    Ok(())
}

pub async fn run(ctx: &Ctx, cmd: IpamCmd) -> anyhow::Result<ExitCode> {
    let service = ctx.service().await?;
    match cmd {
        IpamCmd::Pools => {
            let pools = service.pools(&ctx.reader()?).await?;
            if ctx.json {
                print_json(&pools);
            } else {
                let rows: Vec<Vec<String>> = pools
                    .iter()
                    .map(|p| {
                        vec![
                            p.spec.name.clone(),
                            p.spec.noc.clone(),
                            p.spec.vlan.to_string(),
                            p.spec.cidr.to_string(),
                            p.spec.gateway.map(|g| g.to_string()).unwrap_or_default(),
                            p.used.to_string(),
                            p.free.to_string(),
                        ]
                    })
                    .collect();
                print_table(&["POOL", "NOC", "VLAN", "CIDR", "GATEWAY", "USED", "FREE"], &rows);
            }
        }
        IpamCmd::AddPool { name, noc, vlan, cidr, gateway, reserved, excluded } => {
            let spec = PoolSpec {
                name,
                noc,
                vlan: Vlan::new(vlan)?,
                cidr: cidr.parse().with_context(|| format!("--cidr {cidr:?} is not a prefix like 198.51.100.128/25"))?,
                gateway: gateway.map(|g| g.parse().with_context(|| format!("--gateway {g:?} is not an address"))).transpose()?,
                reserved: reserved.iter().map(|r| r.parse::<AddrRange>()).collect::<Result<_, _>>()?,
                excluded: excluded.iter().map(|e| e.parse().with_context(|| format!("--exclude {e:?} is not an address"))).collect::<Result<_, _>>()?,
            };
            let name = spec.name.clone();
            service.create_pool(ctx.actor()?, spec).await?;
            println!("pool {name} created");
        }
        IpamCmd::Allocate { request, pool, purpose } => {
            let request = crate::domain::RequestId::parse(&request)?;
            purpose_ok(&purpose)?;
            let a = service.allocate_address(ctx.actor()?, request.as_str(), &pool, &purpose).await?;
            if ctx.json { print_json(&a) } else { println!("{} {}/{} (VLAN {}) → {request} {purpose}", a.pool, a.address, a.prefix_len, a.vlan) }
        }
        IpamCmd::Release { request, purpose } => {
            let request = crate::domain::RequestId::parse(&request)?;
            purpose_ok(&purpose)?;
            match service.release_address(ctx.actor()?, request.as_str(), &purpose).await? {
                Some(a) if ctx.json => print_json(&a),
                Some(a) => println!("released {} from {request} {purpose}", a.address),
                None => println!("{request} {purpose} holds no address"),
            }
        }
        IpamCmd::History { request, pool, limit } => {
            let rows = service.allocation_history(&ctx.reader()?, request.as_deref(), pool.as_deref(), limit).await?;
            if ctx.json {
                print_json(&rows);
            } else {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.address.clone(),
                            r.pool.clone(),
                            r.request_id.clone(),
                            r.purpose.clone(),
                            format!("{} ({})", wita(r.allocated_at), r.allocated_by),
                            r.released_at.map(|t| format!("{} ({})", wita(t), r.released_by.clone().unwrap_or_default())).unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                print_table(&["ADDRESS", "POOL", "REQUEST", "PURPOSE", "ALLOCATED", "RELEASED"], &table);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
