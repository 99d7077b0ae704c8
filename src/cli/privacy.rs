//! `kolokasi privacy export NIP`: everything held about one official and every access to it
//! (UU 27/2022 Pasal 32). Admin or auditor; the export is audited.

use std::process::ExitCode;

use clap::Subcommand;

use super::Ctx;
use super::output::{print_json, print_table, wita};

#[derive(Debug, Subcommand)]
pub enum PrivacyCmd {
    /// Requests naming the NIP (as official or signatory), accounts, assets, changes and reads.
    Export { nip: String },
}

pub async fn run(ctx: &Ctx, cmd: PrivacyCmd) -> anyhow::Result<ExitCode> {
    let service = ctx.service().await?;
    let PrivacyCmd::Export { nip } = cmd;
    let export = service.privacy_export(&ctx.reader()?, &nip).await?;
    if ctx.json {
        print_json(&export);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Data pribadi NIP {} (per {})", export.nip, wita(export.generated_at));
    let rows: Vec<Vec<String>> = export
        .requests
        .iter()
        .map(|r| vec![r.id.clone(), r.capacities.join(", "), r.state.to_string(), r.form.unit.name.to_string(), r.form.official.name.to_string(), r.form.contact.to_string()])
        .collect();
    print_table(&["PERMOHONAN", "SEBAGAI", "STATUS", "UNIT", "NAMA", "KONTAK"], &rows);
    println!("\nAkun: {}", if export.users.is_empty() { "-".into() } else { export.users.iter().map(|u| u.username.clone()).collect::<Vec<_>>().join(", ") });
    println!("Aset: {}", if export.assets.is_empty() { "-".into() } else { export.assets.iter().map(|a| a.id.clone()).collect::<Vec<_>>().join(", ") });
    let audit = |rows: &[crate::store::AuditRecord]| -> Vec<Vec<String>> {
        rows.iter().map(|a| vec![a.seq.to_string(), wita(a.at), format!("{} ({})", a.actor, a.role), a.request_id.clone().unwrap_or_default(), a.action.clone()]).collect()
    };
    println!("\nPerubahan ({}):", export.changes.len());
    print_table(&["#", "WAKTU", "OLEH", "PERMOHONAN", "TINDAKAN"], &audit(&export.changes));
    println!("\nAkses ({}):", export.accesses.len());
    print_table(&["#", "WAKTU", "OLEH", "PERMOHONAN", "TINDAKAN"], &audit(&export.accesses));
    Ok(ExitCode::SUCCESS)
}
