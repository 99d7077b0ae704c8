//! `kolokasi request …`: submit, list, show, and the SOP steps.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::Ctx;
use super::output::{print_json, print_table, wita};
use crate::domain::{HardwareReceipt, Nip, Official, RequestForm, RequestId, RequestKind, Revocation, Text};
use crate::lifecycle::State;
use crate::secrets::Secret;
use crate::service::{ApproveInput, Command, RejectInput, RequestView, Service};
use crate::store::ListFilter;

#[derive(Debug, Subcommand)]
pub enum RequestCmd {
    /// Submit a request from a YAML or JSON file (SOP step 1).
    Submit { file: PathBuf },
    /// List requests.
    List(ListArgs),
    /// Show one request: form, approval, capacity, SLA, history.
    Show { id: String },
    /// Verify and disposition to the supervisor and DC team (SOP step 2; admin).
    Verify(Reason),
    /// Complete the Form Pengajuan, optionally with a corrected file (SOP step 4; requester).
    CompleteForm {
        id: String,
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Approve: Form Persetujuan (SOP step 5; admin). Reserves the placement.
    Approve(ApproveArgs),
    /// Reject with reasons: Form Persetujuan (SOP step 5; admin).
    Reject(RejectArgs),
    /// Tell the unit it is approved; co-location then waits for hardware (SOP step 6).
    Start(Reason),
    /// Record the delivered server (SOP step 7).
    Hardware(HardwareArgs),
    /// Attach the host admin's SSH private key (ed25519 or RSA, unencrypted) that the unit
    /// handed over: the inspection then logs in with it instead of the Form Persetujuan's
    /// password. Sealed in the secret store; only its type and fingerprint are ever shown.
    AttachKey {
        id: String,
        /// The private key file (OpenSSH or PEM format).
        #[arg(long)]
        file: PathBuf,
    },
    /// File a Form Pencabutan (revocation).
    Revoke {
        id: String,
        /// A reason (pertimbangan); repeat for several.
        #[arg(long = "reason", required = true)]
        reasons: Vec<String>,
    },
    /// Approve the revocation's terms; decommissioning starts (head or admin).
    ApproveRevocation(Reason),
    /// Allow a zone apex or a name outside the configured DNS zones for a request (admin;
    /// audited). Without it, approval and the DNS step refuse such a name.
    AllowName {
        id: String,
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Let the request's DNS step take over an existing rrset (admin; audited): its next
    /// write or undo treats the values it then finds as its own, instead of a conflict.
    AdoptRecord {
        id: String,
        name: String,
        /// A, AAAA, PTR, CNAME or TXT.
        #[arg(value_name = "TYPE")]
        kind: String,
        #[arg(long)]
        reason: String,
    },
    /// Withdraw a request; what its provisioning run did is unwound first.
    Withdraw {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct Reason {
    id: String,
    /// Why (kept in the audit trail).
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    state: Option<String>,
    #[arg(long)]
    unit: Option<String>,
    #[arg(long)]
    kind: Option<String>,
    /// Only requests past their SLA due time.
    #[arg(long)]
    overdue: bool,
    /// Continue after this request number (pagination).
    #[arg(long)]
    after: Option<String>,
    #[arg(long, default_value_t = 100)]
    limit: i64,
}

#[derive(Debug, Args)]
pub struct Signer {
    /// Name of the Kepala Bidang who signs.
    #[arg(long, requires = "signer_nip")]
    signer_name: Option<String>,
    #[arg(long, requires = "signer_name")]
    signer_nip: Option<String>,
}

impl Signer {
    fn official(&self) -> anyhow::Result<Option<Official>> {
        let (Some(name), Some(nip)) = (&self.signer_name, &self.signer_nip) else { return Ok(None) };
        Ok(Some(Official { name: Text::parse(name).context("--signer-name")?, nip: Nip::parse(nip).context("--signer-nip")?, position: None }))
    }
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    id: String,
    /// Where the form is signed.
    #[arg(long, default_value = "Samarinda")]
    place: String,
    /// A reason (pertimbangan); repeat for several.
    #[arg(long = "reason")]
    reasons: Vec<String>,
    #[arg(long)]
    host_admin_user: Option<String>,
    /// Read the host admin password from this file (never pass it as an argument).
    #[arg(long, conflicts_with = "host_admin_password_stdin")]
    host_admin_password_file: Option<PathBuf>,
    /// Read the host admin password from standard input.
    #[arg(long)]
    host_admin_password_stdin: bool,
    #[command(flatten)]
    signer: Signer,
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    id: String,
    #[arg(long, default_value = "Samarinda")]
    place: String,
    #[arg(long = "reason", required = true)]
    reasons: Vec<String>,
    #[command(flatten)]
    signer: Signer,
}

#[derive(Debug, Args)]
pub struct HardwareArgs {
    id: String,
    #[arg(long)]
    serial: String,
    #[arg(long)]
    type_brand: String,
    /// The switch port the server is plugged into.
    #[arg(long)]
    port: Option<String>,
    /// The server's SSH host key as read on its console ("ssh-ed25519 AAAA…"); the inspection
    /// logs in only to a server that shows it.
    #[arg(long)]
    host_key: Option<String>,
    #[arg(long)]
    reason: Option<String>,
}

fn id(raw: &str) -> anyhow::Result<RequestId> {
    Ok(RequestId::parse(raw)?)
}

fn texts(values: &[String], what: &str) -> anyhow::Result<Vec<Text>> {
    values.iter().map(|v| Text::parse(v).with_context(|| format!("{what} {v:?}"))).collect()
}

/// `request list|show|submit` against a remote server (`--server`); `None` for the SOP steps,
/// which are built below and sent as commands.
async fn remote_read(ctx: &Ctx, remote: &super::remote::Remote, cmd: &RequestCmd) -> anyhow::Result<Option<ExitCode>> {
    let out = match cmd {
        RequestCmd::Submit { file } => {
            let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
            let form = RequestForm::from_yaml(&text).with_context(|| format!("{} is not a valid request", file.display()))?;
            let r = remote.post("/api/v1/requests", &serde_json::to_value(&form)?).await?;
            if !ctx.json {
                println!("{} submitted ({})", r["id"].as_str().unwrap_or("?"), State::Submitted.label_id());
                return Ok(Some(ExitCode::SUCCESS));
            }
            r
        }
        RequestCmd::List(a) => {
            let mut query = vec![format!("limit={}", a.limit)];
            let mut add = |k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    query.push(format!("{k}={}", url_escape(v)));
                }
            };
            add("state", &a.state);
            add("unit", &a.unit);
            add("kind", &a.kind);
            add("after", &a.after);
            if a.overdue {
                query.push("overdue=true".into());
            }
            let r = remote.get(&format!("/api/v1/requests?{}", query.join("&"))).await?;
            if !ctx.json {
                let rows: Vec<Vec<String>> = r["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| ["id", "kind", "state", "unit", "domain"].iter().map(|k| i[*k].as_str().unwrap_or("-").to_string()).collect())
                    .collect();
                print_table(&["REQUEST", "KIND", "STATE", "UNIT", "DOMAIN"], &rows);
                return Ok(Some(ExitCode::SUCCESS));
            }
            r["items"].clone()
        }
        RequestCmd::Show { id: raw } => {
            let v = remote.get(&format!("/api/v1/requests/{}", id(raw)?)).await?;
            if !ctx.json {
                let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("-").to_string();
                println!("{}  {} ({})", s("/id"), s("/state_label"), s("/state"));
                println!("  unit      {}", s("/form/unit/name"));
                println!("  official  {} ({})", s("/form/official/name"), s("/form/official/nip"));
                println!("  domain    {}", s("/form/domain"));
                println!("  history   {} events", v["history"].as_array().map_or(0, Vec::len));
                return Ok(Some(ExitCode::SUCCESS));
            }
            v
        }
        _ => return Ok(None),
    };
    print_json(&out);
    Ok(Some(ExitCode::SUCCESS))
}

fn parse_name(raw: &str) -> anyhow::Result<crate::domain::Fqdn> {
    crate::domain::Fqdn::parse(raw).with_context(|| format!("{raw:?} is not a domain name"))
}

/// Percent-encodes a query value.
/// A path segment or query value for the remote API: everything but unreserved characters escaped.
fn url_escape(v: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(v, UNRESERVED).to_string()
}

pub async fn run(ctx: &Ctx, cmd: RequestCmd) -> anyhow::Result<ExitCode> {
    if let Some(remote) = &ctx.remote
        && let Some(code) = remote_read(ctx, remote, &cmd).await? {
            return Ok(code);
        }
    let local = match ctx.remote {
        Some(_) => None,
        None => Some(ctx.service().await?),
    };
    let service = || local.as_ref().expect("a local store when not remote");
    let (target, command) = match cmd {
        RequestCmd::Submit { file } => return submit(ctx, service(), &file).await,
        RequestCmd::List(a) => return list(ctx, service(), a).await,
        RequestCmd::Show { id: raw } => {
            let view = service().request(&ctx.reader()?, &id(&raw)?).await?;
            if ctx.json { print_json(&view) } else { print_view(&view) }
            return Ok(ExitCode::SUCCESS);
        }
        RequestCmd::AttachKey { id: raw, file } => return attach_key(ctx, local.as_ref(), &raw, &file).await,
        RequestCmd::AllowName { id: raw, name, reason } => return allow_name(ctx, local.as_ref(), &raw, &name, &reason).await,
        RequestCmd::AdoptRecord { id: raw, name, kind, reason } => return adopt_record(ctx, local.as_ref(), &raw, &name, &kind, &reason).await,
        event => event_command(event)?,
    };
    let target = id(&target)?;
    if let Some(remote) = &ctx.remote {
        let r = remote.post(&format!("/api/v1/requests/{target}/events"), &super::remote::command_json(&command)).await?;
        if ctx.json { print_json(&r) } else { println!("{target}: {} ({})", r["state"].as_str().unwrap_or("?"), r["state_label"].as_str().unwrap_or("?")) }
        return Ok(ExitCode::SUCCESS);
    }
    let state = service().apply(ctx.actor()?, &target, command).await?;
    if ctx.json {
        print_json(&json!({ "id": target, "state": state, "state_label": state.label_id() }));
    } else {
        println!("{target}: {} ({})", state, state.label_id());
        if state == State::ClosedNoCapacity {
            let view = service().request(ctx.actor()?, &target).await?;
            if let Some(v) = view.capacity {
                println!("  {}", v.summary());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn submit(ctx: &Ctx, service: &Service, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let form = RequestForm::from_yaml(&text).with_context(|| format!("{} is not a valid request", file.display()))?;
    let id = service.submit(ctx.actor()?, form).await?;
    if ctx.json {
        print_json(&json!({ "id": id, "state": State::Submitted }));
    } else {
        println!("{id} submitted ({})", State::Submitted.label_id());
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(ctx: &Ctx, service: &Service, a: ListArgs) -> anyhow::Result<ExitCode> {
    let filter = ListFilter {
        state: a.state.map(|s| s.parse()).transpose()?,
        unit: a.unit,
        kind: a.kind.map(|k| RequestKind::parse(&k).with_context(|| format!("unknown kind {k:?}"))).transpose()?,
        due_before: a.overdue.then(time::OffsetDateTime::now_utc),
        after: a.after,
        limit: a.limit,
    };
    let items = service.list(&ctx.reader()?, &filter).await?;
    if ctx.json {
        print_json(&items);
    } else {
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|r| vec![r.id.clone(), r.kind.as_str().into(), r.state.to_string(), r.unit.clone(), r.domain.clone(), r.sla_due_at.map(wita).unwrap_or_else(|| "-".into())])
            .collect();
        print_table(&["REQUEST", "KIND", "STATE", "UNIT", "DOMAIN", "SLA DUE"], &rows);
    }
    Ok(ExitCode::SUCCESS)
}

async fn attach_key(ctx: &Ctx, local: Option<&Service>, raw: &str, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let target = id(raw)?;
    let pem = Secret::new(std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?);
    let attached = match (&ctx.remote, local) {
        (Some(remote), _) => {
            let r = remote.post(&format!("/api/v1/requests/{target}/host-admin-key"), &json!({ "private_key": pem.expose() })).await?;
            serde_json::from_value::<Value>(r)?
        }
        (None, Some(service)) => serde_json::to_value(service.attach_host_admin_key(ctx.actor()?, &target, &pem).await?)?,
        (None, None) => unreachable!("a local store when not remote"),
    };
    if ctx.json {
        print_json(&attached);
    } else {
        println!(
            "{target}: host admin key attached ({} {})",
            attached["algorithm"].as_str().unwrap_or("?"),
            attached["fingerprint"].as_str().unwrap_or("?")
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn allow_name(ctx: &Ctx, local: Option<&Service>, raw: &str, name: &str, reason: &str) -> anyhow::Result<ExitCode> {
    let target = id(raw)?;
    let name = parse_name(name)?;
    match (&ctx.remote, local) {
        (Some(remote), _) => drop(remote.post(&format!("/api/v1/requests/{target}/allowed-names"), &json!({ "name": name, "reason": reason })).await?),
        (None, Some(service)) => service.allow_name(ctx.actor()?, &target, &name, reason).await?,
        (None, None) => unreachable!("a local store when not remote"),
    }
    if ctx.json { print_json(&json!({ "request": target, "name": name, "allowed": true })) } else { println!("{target}: {name} allowed") }
    Ok(ExitCode::SUCCESS)
}

async fn adopt_record(ctx: &Ctx, local: Option<&Service>, raw: &str, name: &str, kind: &str, reason: &str) -> anyhow::Result<ExitCode> {
    let target = id(raw)?;
    let name = parse_name(name)?;
    match (&ctx.remote, local) {
        (Some(remote), _) => drop(remote.post(&format!("/api/v1/requests/{target}/adopted-records"), &json!({ "name": name, "type": kind, "reason": reason })).await?),
        (None, Some(service)) => service.adopt_record(ctx.actor()?, &target, &name, kind, reason).await?,
        (None, None) => unreachable!("a local store when not remote"),
    }
    let kind = kind.trim().to_ascii_uppercase();
    if ctx.json { print_json(&json!({ "request": target, "name": name, "type": kind, "adopted": true })) } else { println!("{target}: {name} {kind} adopted") }
    Ok(ExitCode::SUCCESS)
}

/// The SOP event a subcommand asks for, with the request it names (not yet parsed).
fn event_command(cmd: RequestCmd) -> anyhow::Result<(String, Command)> {
    Ok(match cmd {
        RequestCmd::Verify(r) => (r.id, Command::Verify { reason: r.reason }),
        RequestCmd::CompleteForm { id, file, reason } => {
            let form = file
                .map(|f| -> anyhow::Result<_> {
                    let text = std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
                    Ok(Box::new(RequestForm::from_yaml(&text)?))
                })
                .transpose()?;
            (id, Command::CompleteForm { form, reason })
        }
        RequestCmd::Approve(a) => {
            let input = ApproveInput {
                place: Text::parse(&a.place).context("--place")?,
                reasons: texts(&a.reasons, "--reason")?,
                signed_by: a.signer.official()?,
                host_admin_user: a.host_admin_user.as_deref().map(Text::parse).transpose().context("--host-admin-user")?,
                host_admin_password: host_admin_password(&a)?,
            };
            (a.id, Command::Approve(input))
        }
        RequestCmd::Reject(a) => {
            let input = RejectInput { place: Text::parse(&a.place).context("--place")?, reasons: texts(&a.reasons, "--reason")?, signed_by: a.signer.official()? };
            (a.id, Command::Reject(input))
        }
        RequestCmd::Start(r) => (r.id, Command::StartProvisioning { reason: r.reason }),
        RequestCmd::Hardware(h) => {
            let receipt = HardwareReceipt {
                serial_number: Text::parse(&h.serial).context("--serial")?,
                type_brand: Text::parse(&h.type_brand).context("--type-brand")?,
                switch_port: h.port.as_deref().map(Text::parse).transpose().context("--port")?,
                host_key: h.host_key.as_deref().map(crate::ssh::HostKey::parse).transpose().context("--host-key")?,
            };
            (h.id, Command::HardwareReceived { receipt, reason: h.reason })
        }
        RequestCmd::Revoke { id, reasons } => {
            (id, Command::RequestRevocation { revocation: Revocation { reasons: texts(&reasons, "--reason")?, effective: None, approved_by: None } })
        }
        RequestCmd::ApproveRevocation(r) => (r.id, Command::ApproveRevocation { approved_by: None, reason: r.reason }),
        RequestCmd::Withdraw { id, reason } => (id, Command::Withdraw { reason }),
        RequestCmd::Submit { .. }
        | RequestCmd::List(_)
        | RequestCmd::Show { .. }
        | RequestCmd::AttachKey { .. }
        | RequestCmd::AllowName { .. }
        | RequestCmd::AdoptRecord { .. } => unreachable!("handled before the SOP events"),
    })
}

/// The host admin password from standard input or a file, never from the command line.
fn host_admin_password(a: &ApproveArgs) -> anyhow::Result<Option<Secret>> {
    Ok(if a.host_admin_password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Some(Secret::new(s.trim_end_matches(['\r', '\n'])))
    } else if let Some(f) = &a.host_admin_password_file {
        let s = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        Some(Secret::new(s.trim_end_matches(['\r', '\n'])))
    } else {
        None
    })
}

fn print_view(v: &RequestView) {
    let f = &v.form;
    println!("{}  [{}]  {}", v.id, v.kind.as_str(), v.state_label);
    println!("  Nama Unit        : {}", f.unit.name);
    println!("  Penanggung Jawab : {} (NIP {})", f.official.name, f.official.nip.grouped());
    println!("  Kontak           : {}", f.contact);
    println!("  Nama Domain      : {} (aktif {})", f.domain, f.domain_active_from);
    for s in &f.servers {
        println!(
            "  Server {:<10}: {} / {} core / {} GB RAM / {} GB storage / PSU {} W / {} U / {} {}",
            s.name, s.processor, s.cpu_cores, s.ram_gb, s.storage_gb, s.psu_watts, s.rack_units, s.os.name, s.os.version
        );
    }
    if let Some(c) = &v.capacity {
        println!("  Kapasitas        : {}", c.summary());
    }
    if let Some(h) = &v.hardware {
        println!("  Perangkat        : S/N {} / {}", h.serial_number, h.type_brand);
    }
    if let Some(fp) = &v.host_key_fingerprint {
        println!("  Host key server  : {fp} (dicatat saat serah terima; inspeksi hanya masuk ke server dengan kunci ini)");
    }
    if let Some(k) = &v.host_admin_key {
        println!("  Kunci SSH admin  : {} {} (inspeksi masuk dengan kunci ini)", k.algorithm, k.fingerprint);
    }
    if let Some(a) = &v.approval {
        println!("  Persetujuan      : {}", a["decision"].as_str().unwrap_or("-"));
        if let Some(loc) = a.pointer("/data_center/server_location").and_then(|x| x.as_str()) {
            println!("  Letak Server     : {} {}", a.pointer("/data_center/noc").and_then(|x| x.as_str()).unwrap_or(""), loc);
        }
    }
    let sla = &v.sla;
    let status = if sla.stopped {
        "selesai".to_string()
    } else if sla.paused {
        "dijeda (menunggu OPD)".to_string()
    } else {
        sla.due_at.map(|d| format!("batas {}", wita(d))).unwrap_or_default()
    };
    println!(
        "  SLA              : {:.1} of 4 hari kerja used, {status}{}",
        sla.used_seconds as f64 / 86_400.0,
        if sla.overdue { " — TERLAMBAT" } else { "" }
    );
    println!("  Riwayat:");
    println!("    {:<20} {:<22} {:<20} ALASAN", "WAKTU", "LANGKAH", "OLEH");
    println!("    {:<20} {:<22} {:<20}", wita(v.submitted_at), "submit", f.official.name.as_str());
    for e in &v.history {
        println!("    {:<20} {:<22} {:<20} {}", wita(e.at), e.event, format!("{} ({})", e.actor, e.role), e.reason.as_deref().unwrap_or(""));
    }
}
