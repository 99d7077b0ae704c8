//! The command-line interface, grouped by noun (`kolokasi request …`, `kolokasi capacity …`).
//! One file per noun; each turns flags into domain values and calls the service layer.

mod asset;
mod audit;
mod backup;
mod capacity;
mod datacenter;
mod demo;
mod document;
mod drift;
mod evidence;
mod ipam;
mod output;
mod playbook;
mod privacy;
mod remote;
mod request;
mod run;
mod secret;
mod serve;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::lifecycle::{Actor, Role};
use crate::service::Service;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(name = "kolokasi", version, about = "Co-location and application hosting, from request to handover (SOP Diskominfo Kaltim)")]
pub struct Cli {
    /// Configuration file (YAML); also KOLOKASI_CONFIG.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// sqlite://FILE or postgres://…; also KOLOKASI_DATABASE_URL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Who is acting (account name); also KOLOKASI_ACTOR.
    #[arg(long, global = true, env = "KOLOKASI_ACTOR")]
    actor: Option<String>,
    /// The SOP role acted in: requester, admin, supervisor, operator, inspector, head, auditor.
    #[arg(long, global = true, env = "KOLOKASI_ROLE")]
    role: Option<Role>,
    /// The unit (OPD) a requester belongs to, exactly as in their requests; also KOLOKASI_UNIT.
    #[arg(long, global = true, env = "KOLOKASI_UNIT")]
    unit: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Talk to a remote `kolokasi serve` at this URL instead of opening the database (request
    /// list/show/submit and every SOP step, run status); also KOLOKASI_SERVER.
    #[arg(long, global = true, env = "KOLOKASI_SERVER")]
    server: Option<String>,
    /// File holding the API token for --server (or KOLOKASI_TOKEN; never an argument).
    #[arg(long, global = true, env = "KOLOKASI_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Noun,
}

#[derive(Debug, Subcommand)]
enum Noun {
    /// Requests: submit, list, show, and every SOP step.
    #[command(subcommand)]
    Request(request::RequestCmd),
    /// Provisioning and decommissioning runs: start, status, plan, retry, skip, unwind.
    #[command(subcommand)]
    Run(run::RunCmd),
    /// Drift: compare live requests' devices with what their runs wrote; repair or accept.
    #[command(subcommand)]
    Drift(drift::DriftCmd),
    /// Evidence bundle of a request for auditors: export (admin, auditor), verify offline.
    #[command(subcommand)]
    Evidence(evidence::EvidenceCmd),
    /// Playbooks: check, list, actions.
    #[command(subcommand)]
    Playbook(playbook::PlaybookCmd),
    /// Capacity check of a request (SOP step 3).
    #[command(subcommand)]
    Capacity(capacity::CapacityCmd),
    /// The data-center inventory and what requests hold.
    #[command(subcommand)]
    Datacenter(datacenter::DatacenterCmd),
    /// IP address pools, allocations and their history.
    #[command(subcommand)]
    Ipam(ipam::IpamCmd),
    /// The audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Device credentials in the sealed store: set, list, reveal.
    #[command(subcommand)]
    Secret(secret::SecretCmd),
    /// The SOP's documents (forms, berita acara) as HTML or PDF.
    #[command(subcommand)]
    Document(document::DocumentCmd),
    /// The asset register: list, review, export.
    #[command(subcommand)]
    Asset(asset::AssetCmd),
    /// Everything held about one official (by NIP) and every access to it (UU 27/2022).
    #[command(subcommand)]
    Privacy(privacy::PrivacyCmd),
    /// Accounts: add, list, disable, passwd.
    #[command(subcommand)]
    User(user::UserCmd),
    /// API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(user::TokenCmd),
    /// Serve the REST API.
    Serve(serve::ServeArgs),
    /// Write a consistent snapshot of the whole store to a file (SQLite or PostgreSQL).
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty store; checks checksums, the audit chain and the counts.
    Restore(backup::RestoreArgs),
    /// Walk a sample request through the SOP on a fresh SQLite store.
    Demo(demo::DemoArgs),
}

/// What every command needs.
pub(crate) struct Ctx {
    pub settings: Settings,
    pub actor: Option<Actor>,
    pub json: bool,
    /// Set by `--server`: commands that support it go through the REST API.
    pub remote: Option<remote::Remote>,
}

impl Ctx {
    pub async fn service(&self) -> anyhow::Result<Service> {
        // The key first: a new embedded store gets its key file before the database exists.
        let key = self.settings.master_key()?;
        let store = Store::connect(&self.settings.database_url)
            .await
            .with_context(|| format!("cannot open the database {}", redact_url(&self.settings.database_url)))?;
        let service = Service::new(store, self.settings.inventory()?, self.settings.calendar()?, key).with_template_dir(self.settings.template_dir.clone()).with_verification_slots(self.settings.auth_verification_slots);
        service.ensure_pools().await?;
        let service = match &self.settings.directory {
            Some(d) => {
                let directory = directory(d, &service).await?;
                service.with_directory(directory)
            }
            None => service,
        };
        // Lifecycle events that start runs need the playbook definitions, whichever front end moves them.
        let playbooks = crate::engine::Engine::load_playbooks(self.settings.playbook_dir().as_deref(), &crate::actions::builtin())?;
        Ok(service.with_run_definitions(crate::engine::definitions(&playbooks)))
    }

    /// The engine over the service, with the configured drivers and playbooks.
    pub async fn engine(&self) -> anyhow::Result<crate::engine::Engine> {
        let service = self.service().await?;
        let registry = crate::actions::builtin();
        let playbooks = crate::engine::Engine::load_playbooks(self.settings.playbook_dir().as_deref(), &registry)?;
        let mut drivers = if self.settings.use_lab {
            crate::engine::Drivers::from_lab(&crate::lab::Lab::load()?)?
        } else {
            crate::engine::Drivers::from_inventory(&service, &service.inventory).await?
        };
        let notifications = &self.settings.notifications;
        if notifications.smtp.is_some() || notifications.webhook.is_some() {
            drivers.notify = crate::notify::Notifier::from_settings(notifications, &service).await?;
        }
        let mut engine = crate::engine::Engine::new(service, drivers, registry, playbooks)?;
        engine.lease = time::Duration::seconds(self.settings.lease_seconds.max(1) as i64);
        Ok(engine)
    }

    pub fn actor(&self) -> anyhow::Result<&Actor> {
        self.actor.as_ref().context("say who acts: --actor NAME --role ROLE (or KOLOKASI_ACTOR and KOLOKASI_ROLE)")
    }

    /// Who reads: the named actor, or else the local operating-system user in the read-only
    /// auditor role. Whoever runs the CLI on the store's machine can open the database anyway;
    /// the reads are still role-checked and audited under that account name.
    pub fn reader(&self) -> anyhow::Result<Actor> {
        if let Some(actor) = &self.actor {
            return Ok(actor.clone());
        }
        let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "local".into());
        let name: String = user.chars().filter(|c| c.is_ascii_alphanumeric() || "._-@".contains(*c)).take(48).collect();
        Ok(Actor::new(&format!("os.{}", if name.is_empty() { "local" } else { &name }), Role::Auditor)?)
    }
}

/// The office directory from `directory:`; its service password from the sealed store
/// (`bind_password_secret`) or the settings / `KOLOKASI_DIRECTORY_BIND_PASSWORD`.
async fn directory(d: &crate::config::DirectorySettings, service: &Service) -> anyhow::Result<crate::auth::Directory> {
    let password = match (&d.bind_password_secret, &d.bind_password) {
        (Some(name), _) => service.secret(name).await.with_context(|| format!("directory: cannot open secret {name}"))?,
        (None, Some(p)) => p.clone(),
        (None, None) => anyhow::bail!("directory: no password for bind_dn (bind_password_secret or KOLOKASI_DIRECTORY_BIND_PASSWORD)"),
    };
    Ok(crate::auth::Directory::new(d.clone(), password)?)
}

/// Whether a URL carries a password (`scheme://user:password@host`).
fn url_has_password(url: &str) -> bool {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => url[s + 3..at].contains(':'),
        _ => false,
    }
}

/// Hides a password in a database URL for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:[redacted]@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Flags that would put a secret on the command line, where every user of the machine sees it
/// (`ps`, /proc/PID/cmdline) and shell history keeps it: (flag, how to give it instead).
const SECRET_FLAGS: &[(&str, &str)] = &[
    ("--password", "--password-stdin"),
    ("--host-admin-password", "--host-admin-password-file FILE or --host-admin-password-stdin"),
    ("--secret", "`secret set NAME --kind K --stdin` or --from-file FILE"),
    ("--token", "--token-file FILE (or KOLOKASI_TOKEN_FILE)"),
    ("--api-key", "`secret set NAME --kind api-key --stdin`"),
    ("--tsig-secret", "`secret set NAME --kind tsig --stdin`"),
    ("--master-key", "KOLOKASI_MASTER_KEY_FILE (a file readable by kolokasi only)"),
    ("--private-key", "`request attach-key ID --file FILE`"),
];

/// Refuses a secret given as an argument, before anything is parsed or logged: the message
/// names the flag and the safe way, never the value. Also a `--database-url` with a password.
pub fn refuse_secret_args(args: &[String]) -> Result<(), String> {
    for (i, arg) in args.iter().enumerate() {
        let flag = arg.split_once('=').map_or(arg.as_str(), |(f, _)| f);
        if let Some((f, instead)) = SECRET_FLAGS.iter().find(|(f, _)| *f == flag) {
            return Err(format!("refusing {f}: a secret on the command line is visible to every user of this machine (ps) and kept in shell history; use {instead}"));
        }
        let url = match flag {
            "--database-url" => arg.split_once('=').map(|(_, v)| v.to_string()).or_else(|| args.get(i + 1).cloned()),
            _ => None,
        };
        if url.is_some_and(|u| url_has_password(&u)) {
            return Err("refusing --database-url with a password: it would be visible to every user of this machine (ps); use KOLOKASI_DATABASE_URL or database_url in the configuration file".into());
        }
    }
    Ok(())
}

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Err(message) = refuse_secret_args(&args[1.min(args.len())..]) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Offline: no configuration, no database.
    if let Noun::Evidence(evidence::EvidenceCmd::Verify { archive, public_key }) = &cli.command {
        return evidence::verify(archive, public_key.as_deref(), cli.json);
    }
    let mut settings = Settings::load(cli.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(url) = cli.database_url {
        settings.database_url = url;
    }
    init_tracing(&settings.log_format);
    let actor = match (cli.actor, cli.role, cli.unit) {
        (Some(name), Some(role), Some(unit)) => Some(Actor::in_unit(&name, role, &unit)?),
        (Some(name), Some(role), None) => Some(Actor::new(&name, role)?),
        (None, None, None) => None,
        (None, None, Some(_)) => anyhow::bail!("--unit goes with --actor and --role"),
        _ => anyhow::bail!("--actor and --role go together"),
    };
    let remote = cli.server.as_deref().map(|s| remote::Remote::new(s, cli.token_file.as_deref())).transpose()?;
    let ctx = Ctx { settings, actor, json: cli.json, remote };
    match cli.command {
        Noun::Request(cmd) => request::run(&ctx, cmd).await,
        Noun::Run(cmd) => run::run(&ctx, cmd).await,
        Noun::Drift(cmd) => drift::run(&ctx, cmd).await,
        Noun::Evidence(cmd) => evidence::run(&ctx, cmd).await,
        Noun::Playbook(cmd) => playbook::run(&ctx, cmd).await,
        Noun::Capacity(cmd) => capacity::run(&ctx, cmd).await,
        Noun::Datacenter(cmd) => datacenter::run(&ctx, cmd).await,
        Noun::Ipam(cmd) => ipam::run(&ctx, cmd).await,
        Noun::Audit(cmd) => audit::run(&ctx, cmd).await,
        Noun::Secret(cmd) => secret::run(&ctx, cmd).await,
        Noun::Document(cmd) => document::run(&ctx, cmd).await,
        Noun::Asset(cmd) => asset::run(&ctx, cmd).await,
        Noun::Privacy(cmd) => privacy::run(&ctx, cmd).await,
        Noun::User(cmd) => user::run_user(&ctx, cmd).await,
        Noun::Token(cmd) => user::run_token(&ctx, cmd).await,
        Noun::Serve(args) => serve::run(&ctx, args).await,
        Noun::Backup(args) => backup::backup(&ctx, args).await,
        Noun::Restore(args) => backup::restore(&ctx, args).await,
        Noun::Demo(args) => demo::run(&ctx, args).await,
    }
}

fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("KOLOKASI_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}
