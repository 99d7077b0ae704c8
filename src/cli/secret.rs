//! `kolokasi secret …`: the sealed store of device credentials. Values go in from a file or
//! standard input (never a flag: flags end up in shell history and `ps`), and come out only
//! through `reveal`, which is admin-only and audited.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Subcommand};

use super::Ctx;
use super::output::{print_json, print_table, wita};
use crate::secrets::{Secret, SecretKind};

#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Store (or replace) a secret, sealed under the master key.
    #[command(group(ArgGroup::new("source").required(true).args(["from_file", "stdin"])))]
    Set {
        name: String,
        /// ssh-key, password, tsig or api-key.
        #[arg(long)]
        kind: SecretKind,
        /// Read the value from this file (an SSH key's PEM, say).
        #[arg(long)]
        from_file: Option<PathBuf>,
        /// Read the value from standard input.
        #[arg(long)]
        stdin: bool,
    },
    /// Names, kinds and when each was set (never values).
    List,
    /// Print a secret's value (admin only; audited).
    Reveal { name: String },
    /// Re-encrypt everything sealed under the master key (secret store, host admin passwords)
    /// with a new key, in one transaction (admin only; audited). Create the new key file first
    /// (32 random bytes, base64; e.g. `head -c32 /dev/urandom | base64 > new.key`), then start
    /// kolokasi with the new key.
    RotateKey {
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

/// The value as given; a one-line value loses its line end (`echo pw | kolokasi secret set`),
/// a multi-line one (a PEM) is kept whole.
fn read_value(from_file: Option<PathBuf>) -> anyhow::Result<Secret> {
    let mut text = String::new();
    match from_file {
        Some(path) => text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?,
        None => {
            std::io::stdin().read_to_string(&mut text).context("cannot read standard input")?;
        }
    }
    if text.trim_end().lines().count() <= 1 {
        text = text.trim_end_matches(['\r', '\n']).to_string();
    }
    Ok(Secret::new(text))
}

pub async fn run(ctx: &Ctx, cmd: SecretCmd) -> anyhow::Result<ExitCode> {
    let service = ctx.service().await?;
    match cmd {
        SecretCmd::Set { name, kind, from_file, stdin: _ } => {
            let value = read_value(from_file)?;
            service.set_secret(ctx.actor()?, &name, kind, &value).await?;
            println!("secret {name} ({kind}) stored");
        }
        SecretCmd::List => {
            let secrets = service.secrets(&ctx.reader()?).await?;
            if ctx.json {
                print_json(&secrets);
            } else {
                let rows: Vec<Vec<String>> =
                    secrets.iter().map(|s| vec![s.name.clone(), s.kind.to_string(), format!("{} ({})", wita(s.updated_at), s.updated_by)]).collect();
                print_table(&["NAME", "KIND", "UPDATED"], &rows);
            }
        }
        SecretCmd::Reveal { name } => {
            let value = service.reveal_secret(ctx.actor()?, &name).await?;
            println!("{}", value.expose());
        }
        SecretCmd::RotateKey { new_key_file } => {
            let new_key = crate::secrets::MasterKey::from_file(&new_key_file).with_context(|| format!("cannot read the new key {}", new_key_file.display()))?;
            let report = service.rotate_master_key(ctx.actor()?, &new_key).await?;
            if ctx.json {
                print_json(&report);
            } else {
                println!(
                    "re-encrypted {} secrets and {} host admin passwords from key {} to key {}; from now on use {} (KOLOKASI_MASTER_KEY_FILE)",
                    report.secrets,
                    report.host_admin_passwords,
                    report.old_key_id,
                    report.new_key_id,
                    new_key_file.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
