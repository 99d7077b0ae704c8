//! Layered settings: defaults, then a YAML file (`--config` or `KOLOKASI_CONFIG`), then
//! `KOLOKASI_*` environment variables, then command-line flags.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::capacity::{Inventory, InventoryError};
use crate::lifecycle::Calendar;
use crate::lifecycle::sla::CalendarError;
use crate::secrets::{CipherError, MasterKey, Secret};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://FILE` (default `sqlite://kolokasi.db`) or `postgres://…`.
    pub database_url: String,
    /// The data-center inventory; without it the example inventory is used (and said so).
    pub inventory_file: Option<PathBuf>,
    /// A folder of holiday calendars (`YEAR.yaml`); without it the shipped 2026 calendar.
    pub calendar_dir: Option<PathBuf>,
    /// File holding the master key (base64 of 32 bytes).
    pub master_key_file: Option<PathBuf>,
    /// The master key itself (prefer the file or `KOLOKASI_MASTER_KEY`).
    pub master_key: Option<Secret>,
    /// Folder of playbooks (`colocation.yaml`, `hosting.yaml`, `decommission.yaml`); without it
    /// `./playbooks` if present, else the built-in copies.
    pub playbook_dir: Option<PathBuf>,
    /// Folder of document templates (`documents/*.html.j2`, `documents/*.typ`, labels, office).
    pub template_dir: PathBuf,
    /// Address for `serve`.
    pub listen: String,
    /// `text` or `json`.
    pub log_format: String,
    /// How long a worker's claim on a run lasts without renewal (seconds).
    pub lease_seconds: u64,
    /// Whether `serve` runs a worker that claims and drives runs.
    pub worker: bool,
    /// Password verifications at once (argon2id, ~19 MiB each); more sign-ins wait up to 2 s,
    /// then get 429.
    pub auth_verification_slots: usize,
    /// Configure the drivers from the local lab's `lab.json` (tests, demo, benchmarks).
    pub use_lab: bool,
    /// Mark the web console's cookies `Secure` (the console is reached over HTTPS).
    pub console_secure_cookies: bool,
    /// Legacy switch: a reverse proxy on this machine (loopback) may say who the client is.
    /// Prefer `trusted_proxies`.
    pub console_trust_proxy: bool,
    /// Networks of your reverse proxies / ingress (`10.42.0.0/16`): only a peer in one of them
    /// may say who the client is (`Forwarded`, `X-Forwarded-For`) and that it is on HTTPS
    /// (`X-Forwarded-Proto`). The client is the right-most hop outside these networks.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where SOP notices go: SMTP, webhook, sender, the Kepala Bidang's address
    /// (see [`crate::notify::settings`]).
    pub notifications: crate::notify::NotifySettings,
    /// The drift check `serve` runs (see [`crate::drift`]).
    pub drift: DriftSettings,
    /// Signed checkpoints of the audit chain head (see [`crate::service::audit_checkpoints`]).
    pub audit: AuditSettings,
    /// Sign-in with the office directory, beside local users (see [`crate::auth::directory`]).
    pub directory: Option<DirectorySettings>,
}

/// `directory:` in the configuration file: sign-in against the office's Active Directory or
/// OpenLDAP. Only over TLS: `ldaps://`, or `ldap://` with `starttls: true`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySettings {
    /// `ldaps://dc1.kaltimprov.go.id` or `ldap://dc1.kaltimprov.go.id` (with `starttls: true`).
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before anything is sent; required there.
    #[serde(default)]
    pub starttls: bool,
    /// The CA (PEM) that signed the directory server's certificate; the only one trusted.
    pub ca_file: PathBuf,
    /// The service account kolokasi searches with (read-only is enough).
    pub bind_dn: String,
    /// Name of its password in the sealed secret store (preferred).
    #[serde(default)]
    pub bind_password_secret: Option<String>,
    /// The password itself (prefer `bind_password_secret`, or `KOLOKASI_DIRECTORY_BIND_PASSWORD`).
    #[serde(default)]
    pub bind_password: Option<Secret>,
    /// Where people (and, without `group_base_dn`, groups) are searched.
    pub base_dn: String,
    /// Where groups are searched; `base_dn` if unset.
    #[serde(default)]
    pub group_base_dn: Option<String>,
    /// The attribute a person signs in with: `uid` (OpenLDAP) or `sAMAccountName` (AD).
    #[serde(default = "default_login_attribute")]
    pub login_attribute: String,
    /// The attribute holding a person's OPD (unit), as requests name it.
    #[serde(default = "default_opd_attribute")]
    pub opd_attribute: String,
    /// The attribute holding a person's display name.
    #[serde(default = "default_name_attribute")]
    pub name_attribute: String,
    /// Group DN → kolokasi role; the first listed group a person is a member of decides.
    pub groups: Vec<DirectoryGroup>,
    /// Seconds for connecting and for each directory operation.
    #[serde(default = "default_directory_timeout")]
    pub timeout_seconds: u64,
}

/// One line of `directory.groups`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryGroup {
    /// The group's DN (`cn=kolokasi-operator,ou=groups,dc=kaltimprov,dc=go,dc=id`).
    pub group: String,
    pub role: crate::lifecycle::Role,
}

fn default_login_attribute() -> String {
    "uid".into()
}

fn default_opd_attribute() -> String {
    "ou".into()
}

fn default_name_attribute() -> String {
    "cn".into()
}

fn default_directory_timeout() -> u64 {
    5
}

impl DirectorySettings {
    /// The checks made at configuration load: TLS is never optional, attribute names are
    /// names (they go into search filters), at least one group is mapped.
    pub fn check(&self) -> Result<(), String> {
        let url = self.url.trim().to_ascii_lowercase();
        if url.starts_with("ldaps://") {
            if self.starttls {
                return Err("starttls is for ldap:// URLs; an ldaps:// connection is TLS from the start".into());
            }
        } else if url.starts_with("ldap://") {
            if !self.starttls {
                return Err(format!(
                    "{} is plain LDAP: passwords would cross the network in clear; use ldaps:// or set starttls: true",
                    self.url
                ));
            }
        } else {
            return Err(format!("{:?} is not an ldaps:// or ldap:// URL", self.url));
        }
        for (key, attr) in [("login_attribute", &self.login_attribute), ("opd_attribute", &self.opd_attribute), ("name_attribute", &self.name_attribute)] {
            let ok = attr.len() <= 64 && attr.starts_with(|c: char| c.is_ascii_alphabetic()) && attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(format!("{key} {attr:?} is not an attribute name"));
            }
        }
        if self.groups.is_empty() {
            return Err("groups maps no directory group to a role: nobody could sign in".into());
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > 120 {
            return Err("timeout_seconds must be between 1 and 120".into());
        }
        Ok(())
    }
}

/// `audit:` in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// The append-only file checkpoints go to (`audit checkpoint`, `serve`); none: not written.
    pub checkpoint_file: Option<PathBuf>,
    /// Seconds between two checkpoints `serve` writes (0: only at shutdown). Default 15 minutes.
    pub checkpoint_interval_seconds: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { checkpoint_file: None, checkpoint_interval_seconds: 900 }
    }
}

/// `drift:` in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftSettings {
    /// Seconds between two scheduled checks of every live request (0: no schedule). Default hourly.
    pub interval_seconds: u64,
}

impl Default for DriftSettings {
    fn default() -> Self {
        Self { interval_seconds: 3600 }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://kolokasi.db".into(),
            inventory_file: None,
            calendar_dir: None,
            master_key_file: None,
            master_key: None,
            playbook_dir: None,
            template_dir: PathBuf::from("templates"),
            listen: "127.0.0.1:8080".into(),
            log_format: "text".into(),
            lease_seconds: 30,
            worker: true,
            auth_verification_slots: crate::service::DEFAULT_VERIFICATION_SLOTS,
            use_lab: false,
            console_secure_cookies: false,
            console_trust_proxy: false,
            trusted_proxies: Vec::new(),
            notifications: crate::notify::NotifySettings::default(),
            drift: DriftSettings::default(),
            audit: AuditSettings::default(),
            directory: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Key(#[from] CipherError),
    #[error("cannot create the master key file {path}")]
    KeyCreate {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Settings {
    /// Defaults ← file ← environment. `env` is passed in so tests do not touch the process's.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = file.map(Path::to_path_buf).or_else(|| env("KOLOKASI_CONFIG").map(PathBuf::from));
        let mut s = match file {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
                serde_yaml_ng::from_str(&text)
                    .map_err(|e| ConfigError::Parse { path: path.display().to_string(), message: e.to_string() })?
            }
            None => Self::default(),
        };
        if let Some(v) = env("KOLOKASI_DATABASE_URL") {
            s.database_url = v;
        }
        if let Some(v) = env("KOLOKASI_INVENTORY_FILE") {
            s.inventory_file = Some(v.into());
        }
        if let Some(v) = env("KOLOKASI_CALENDAR_DIR") {
            s.calendar_dir = Some(v.into());
        }
        if let Some(v) = env("KOLOKASI_MASTER_KEY_FILE") {
            s.master_key_file = Some(v.into());
        }
        if let Some(v) = env("KOLOKASI_MASTER_KEY") {
            s.master_key = Some(Secret::new(v));
        }
        if let Some(v) = env("KOLOKASI_TEMPLATE_DIR") {
            s.template_dir = v.into();
        }
        if let Some(v) = env("KOLOKASI_PLAYBOOK_DIR") {
            s.playbook_dir = Some(v.into());
        }
        if let Some(v) = env("KOLOKASI_LISTEN") {
            s.listen = v;
        }
        if let Some(v) = env("KOLOKASI_LOG_FORMAT") {
            s.log_format = v;
        }
        if let Some(v) = env("KOLOKASI_LEASE_SECONDS") {
            s.lease_seconds = v.parse().map_err(|_| ConfigError::Parse { path: "KOLOKASI_LEASE_SECONDS".into(), message: format!("{v:?} is not a number of seconds") })?;
        }
        if let Some(v) = env("KOLOKASI_AUTH_VERIFICATION_SLOTS") {
            s.auth_verification_slots = v.parse().map_err(|_| ConfigError::Parse { path: "KOLOKASI_AUTH_VERIFICATION_SLOTS".into(), message: format!("{v:?} is not a number") })?;
        }
        if let Some(v) = env("KOLOKASI_USE_LAB") {
            s.use_lab = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("KOLOKASI_CONSOLE_SECURE_COOKIES") {
            s.console_secure_cookies = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("KOLOKASI_CONSOLE_TRUST_PROXY") {
            s.console_trust_proxy = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("KOLOKASI_TRUSTED_PROXIES") {
            s.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().map_err(|_| ConfigError::Parse { path: "KOLOKASI_TRUSTED_PROXIES".into(), message: format!("{n:?} is not a network (10.42.0.0/16)") }))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = env("KOLOKASI_DRIFT_INTERVAL_SECONDS") {
            s.drift.interval_seconds = v.parse().map_err(|_| ConfigError::Parse { path: "KOLOKASI_DRIFT_INTERVAL_SECONDS".into(), message: format!("{v:?} is not a number of seconds") })?;
        }
        if let Some(v) = env("KOLOKASI_AUDIT_CHECKPOINT_FILE") {
            s.audit.checkpoint_file = Some(v.into());
        }
        if let Some(v) = env("KOLOKASI_AUDIT_CHECKPOINT_INTERVAL_SECONDS") {
            s.audit.checkpoint_interval_seconds =
                v.parse().map_err(|_| ConfigError::Parse { path: "KOLOKASI_AUDIT_CHECKPOINT_INTERVAL_SECONDS".into(), message: format!("{v:?} is not a number of seconds") })?;
        }
        if let Some(v) = env("KOLOKASI_WORKER") {
            s.worker = !matches!(v.as_str(), "0" | "false" | "no");
        }
        s.notifications.apply_env(&env).map_err(|(path, message)| ConfigError::Parse { path, message })?;
        if let Some(d) = &mut s.directory {
            if let Some(v) = env("KOLOKASI_DIRECTORY_BIND_PASSWORD") {
                d.bind_password = Some(Secret::new(v));
            }
            d.check().map_err(|message| ConfigError::Parse { path: "directory".into(), message })?;
        }
        Ok(s)
    }

    pub fn inventory(&self) -> Result<Inventory, ConfigError> {
        match &self.inventory_file {
            Some(p) => Ok(Inventory::load(p)?),
            None => Ok(Inventory::example()),
        }
    }

    pub fn calendar(&self) -> Result<Calendar, ConfigError> {
        match &self.calendar_dir {
            Some(p) => Ok(Calendar::load_dir(p)?),
            None => Ok(Calendar::builtin_2026()),
        }
    }

    /// The playbook folder in use, if any (else the built-in playbooks).
    pub fn playbook_dir(&self) -> Option<PathBuf> {
        self.playbook_dir.clone().or_else(|| Path::new("playbooks").is_dir().then(|| PathBuf::from("playbooks")))
    }

    /// The master key: from the environment, the configured file, or — for an embedded SQLite
    /// store only — a key file next to the database, created on first use (mode 0600).
    pub fn master_key(&self) -> Result<Option<MasterKey>, ConfigError> {
        if let Some(k) = &self.master_key {
            return Ok(Some(MasterKey::from_base64(k.expose())?));
        }
        if let Some(p) = &self.master_key_file {
            return Ok(Some(MasterKey::from_file(p)?));
        }
        let Some(db) = self.sqlite_path() else { return Ok(None) };
        let path = db.with_extension("key");
        if path.exists() {
            return Ok(Some(MasterKey::from_file(&path)?));
        }
        if db.exists() {
            // An existing store without its key: secrets sealed in it cannot be opened, and a
            // new key would not help. Sealing new secrets fails with a clear NoKey error.
            return Ok(None);
        }
        let key = MasterKey::generate_file(&path).map_err(|source| ConfigError::KeyCreate { path: path.display().to_string(), source })?;
        eprintln!("kolokasi: created master key {} (keep it safe and out of backups of the database)", path.display());
        Ok(Some(key))
    }

    fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite:")?;
        let rest = rest.trim_start_matches("//");
        let path = rest.split('?').next()?;
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }
}

impl Settings {
    /// The proxies whose forwarded headers are believed: `trusted_proxies`, plus loopback with
    /// the legacy `console_trust_proxy`.
    pub fn proxies(&self) -> crate::auth::TrustedProxies {
        let mut networks = self.trusted_proxies.clone();
        if self.console_trust_proxy && networks.is_empty() {
            return crate::auth::proxy::loopback();
        }
        if self.console_trust_proxy {
            networks.extend(["127.0.0.0/8", "::1/128"].map(|n| n.parse::<ipnet::IpNet>().expect("a network")));
        }
        crate::auth::TrustedProxies::new(networks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.yaml");
        std::fs::write(&file, "database_url: sqlite://a.db\nlisten: 0.0.0.0:9000\n").unwrap();
        let env = |k: &str| (k == "KOLOKASI_DATABASE_URL").then(|| "postgres://x/y".to_string());
        let s = Settings::load(Some(&file), env).unwrap();
        assert_eq!(s.database_url, "postgres://x/y");
        assert_eq!(s.listen, "0.0.0.0:9000");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.yaml");
        std::fs::write(&file, "databse_url: oops\n").unwrap();
        assert!(Settings::load(Some(&file), |_| None).unwrap_err().to_string().contains("databse_url"));
    }

    #[test]
    fn master_key_is_never_printed() {
        let s = Settings::load(None, |k| (k == "KOLOKASI_MASTER_KEY").then(|| "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string())).unwrap();
        assert!(!format!("{s:?}").contains("AAAAAAAA"));
        assert!(s.master_key().unwrap().is_some());
    }
}
