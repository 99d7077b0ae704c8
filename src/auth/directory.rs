//! Sign-in with the office directory (Active Directory or OpenLDAP), beside local users.
//!
//! One sign-in is one connection, over TLS only (LDAPS, or StartTLS before anything is sent),
//! trusting only the configured CA:
//!
//! ```text
//! service bind ─▶ search (login_attribute = escaped login) ─▶ exactly one entry
//!   ─▶ disabled? (ppolicy pwdAccountLockedTime, AD userAccountControl) ─▶ refused
//!   ─▶ groups with member = that DN ─▶ first mapped group gives the role, none ─▶ refused
//!   ─▶ OPD from opd_attribute ─▶ simple bind as the DN with the password ─▶ DirectoryUser
//! ```
//!
//! An empty password is refused before any bind: LDAP treats a simple bind with a DN and no
//! password as an *unauthenticated* bind that succeeds (RFC 4513 §5.1.2). The login value is
//! escaped per RFC 4515 (`ldap3::ldap_escape`) and must be a valid kolokasi user name anyway.
//!
//! Owns no storage: the local user row is written by `service::users`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, ldap_escape};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::{DirectoryGroup, DirectorySettings};
use crate::lifecycle::{Actor, ActorError, Role};
use crate::secrets::Secret;

/// LDAP result code 49: the bind's credentials were wrong (or the account is locked).
const INVALID_CREDENTIALS: u32 = 49;
/// AD `userAccountControl` flag of a disabled account.
const AD_ACCOUNT_DISABLE: u64 = 0x2;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    Config(String),
    #[error("cannot read the directory CA file {path}")]
    CaFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the directory CA file {path} holds no usable PEM certificate")]
    CaPem { path: String },
    #[error("the office directory {url} cannot be reached")]
    Unreachable {
        url: String,
        // Boxed: ldap3's error is large, and this one travels inside ServiceError.
        #[source]
        source: Box<LdapError>,
    },
    #[error("the office directory {url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("the office directory refused kolokasi's service account (check directory.bind_dn and its password)")]
    ServiceBind(#[source] Box<LdapError>),
    #[error("searching the office directory failed")]
    Search(#[source] Box<LdapError>),
    #[error("an empty password is never sent to the directory")]
    EmptyPassword,
    #[error("a login name is 1-64 letters, digits, '.', '_', '-' or '@'")]
    BadLogin,
    #[error("no directory entry has this login")]
    NotFound,
    #[error("{0} directory entries have this login")]
    Ambiguous(usize),
    #[error("the account is disabled in the directory")]
    Disabled,
    #[error("the account is in no directory group mapped to a kolokasi role")]
    NoMappedGroup,
    #[error("the directory entry has no usable OPD in {attribute}")]
    Opd {
        attribute: String,
        #[source]
        source: Option<ActorError>,
    },
    #[error("the directory refused the password")]
    BadPassword,
}

impl DirectoryError {
    /// The directory (or kolokasi's access to it) is at fault, not the person signing in.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Timeout { .. } | Self::ServiceBind(_) | Self::Search(_) | Self::Config(_) | Self::CaFile { .. } | Self::CaPem { .. })
    }

    /// A short name for the audit row of a refused sign-in.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) | Self::CaFile { .. } | Self::CaPem { .. } => "directory_config",
            Self::Unreachable { .. } => "directory_unreachable",
            Self::Timeout { .. } => "directory_timeout",
            Self::ServiceBind(_) => "directory_service_bind",
            Self::Search(_) => "directory_search",
            Self::EmptyPassword => "empty_password",
            Self::BadLogin => "bad_login",
            Self::NotFound => "unknown_user",
            Self::Ambiguous(_) => "ambiguous_login",
            Self::Disabled => "disabled_in_directory",
            Self::NoMappedGroup => "no_mapped_group",
            Self::Opd { .. } => "no_usable_opd",
            Self::BadPassword => "wrong_password",
        }
    }
}

/// A person the directory vouched for: who they are and what kolokasi makes of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub username: String,
    pub dn: String,
    pub display_name: String,
    pub role: Role,
    pub unit: Option<String>,
    /// The mapped group that gave the role.
    pub group: String,
}

/// The configured directory, ready to sign people in.
#[derive(Clone)]
pub struct Directory {
    settings: DirectorySettings,
    bind_password: Secret,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("url", &self.settings.url)
            .field("base_dn", &self.settings.base_dn)
            .field("bind_dn", &self.settings.bind_dn)
            .field("bind_password", &self.bind_password)
            .finish_non_exhaustive()
    }
}

/// A DN as compared here: lower case, no blanks around `,` and `=`.
fn normalize_dn(dn: &str) -> String {
    dn.split(',').map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("=")).collect::<Vec<_>>().join(",").to_lowercase()
}

/// `host:port` of an `ldap://` or `ldaps://` URL (default ports 389 and 636).
fn host_port(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("ldap", url));
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    if has_port {
        authority.to_string()
    } else {
        let port = if scheme.eq_ignore_ascii_case("ldaps") { 636 } else { 389 };
        format!("{authority}:{port}")
    }
}

/// The search filter for one login: the value escaped per RFC 4515.
pub fn login_filter(attribute: &str, login: &str) -> String {
    format!("({attribute}={})", ldap_escape(login))
}

/// The groups filter for one member DN (escaped too: a DN may hold `(`, `)`, `*` or `\`).
fn member_filter(dn: &str) -> String {
    format!("(member={})", ldap_escape(dn))
}

/// The first mapping whose group is among `member_of`.
fn mapped_role<'a>(groups: &'a [DirectoryGroup], member_of: &[String]) -> Option<&'a DirectoryGroup> {
    let member_of: Vec<String> = member_of.iter().map(|g| normalize_dn(g)).collect();
    groups.iter().find(|g| member_of.contains(&normalize_dn(&g.group)))
}

/// An attribute's first value, whatever case the server spells the name in.
fn first_value<'a>(entry: &'a SearchEntry, attribute: &str) -> Option<&'a str> {
    entry.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(attribute)).and_then(|(_, v)| v.first()).map(String::as_str)
}

fn is_disabled(entry: &SearchEntry) -> bool {
    let locked = first_value(entry, "pwdAccountLockedTime").is_some_and(|v| !v.trim().is_empty());
    let ad_disabled = first_value(entry, "userAccountControl").and_then(|v| v.trim().parse::<u64>().ok()).is_some_and(|f| f & AD_ACCOUNT_DISABLE != 0);
    locked || ad_disabled
}

fn load_ca(path: &PathBuf) -> Result<Arc<rustls::ClientConfig>, DirectoryError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| DirectoryError::CaFile { path: shown.clone(), source })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|_| DirectoryError::CaPem { path: shown.clone() })?;
        roots.add(cert).map_err(|_| DirectoryError::CaPem { path: shown.clone() })?;
    }
    if roots.is_empty() {
        return Err(DirectoryError::CaPem { path: shown });
    }
    // aws-lc-rs named explicitly: never the process default, never ring (DESIGN.md).
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Config(format!("directory TLS settings: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Directory {
    /// From checked settings and the service account's password (already opened from the
    /// secret store or the environment).
    pub fn new(settings: DirectorySettings, bind_password: Secret) -> Result<Self, DirectoryError> {
        settings.check().map_err(DirectoryError::Config)?;
        if bind_password.is_empty() {
            return Err(DirectoryError::Config("directory: no password for bind_dn (bind_password_secret or KOLOKASI_DIRECTORY_BIND_PASSWORD)".into()));
        }
        let tls = load_ca(&settings.ca_file)?;
        Ok(Self { settings, bind_password, tls })
    }

    pub fn url(&self) -> &str {
        &self.settings.url
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.settings.timeout_seconds)
    }

    /// Checks `login` and `password` against the directory; see the module doc for the steps.
    pub async fn authenticate(&self, login: &str, password: &Secret) -> Result<DirectoryUser, DirectoryError> {
        if password.is_empty() {
            return Err(DirectoryError::EmptyPassword);
        }
        Actor::new(login, Role::Auditor).map_err(|_| DirectoryError::BadLogin)?;
        let seconds = self.settings.timeout_seconds;
        // One deadline over the whole exchange, on top of ldap3's per-operation timeouts.
        let whole = self.timeout() * 4;
        match tokio::time::timeout(whole, self.exchange(login, password)).await {
            Ok(result) => result,
            Err(_) => Err(DirectoryError::Timeout { url: self.settings.url.clone(), seconds }),
        }
    }

    async fn exchange(&self, login: &str, password: &Secret) -> Result<DirectoryUser, DirectoryError> {
        let mut ldap = self.connect().await?;
        let result = self.sign_in(&mut ldap, login, password).await;
        let _ = ldap.unbind().await;
        result
    }

    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        // The TCP connection is ours, with TCP_NODELAY: without it every sign-in waited ~40 ms
        // on delayed ACKs (48 ms per check on the lab's slapd, 2.5-3.3 ms with it).
        let unreachable = |source: std::io::Error| DirectoryError::Unreachable { url: self.settings.url.clone(), source: Box::new(LdapError::from(source)) };
        let address = host_port(&self.settings.url);
        let connecting = tokio::time::timeout(self.timeout(), tokio::net::TcpStream::connect(&address)).await;
        let tcp = connecting.map_err(|_| DirectoryError::Timeout { url: self.settings.url.clone(), seconds: self.settings.timeout_seconds })?.map_err(unreachable)?;
        tcp.set_nodelay(true).map_err(unreachable)?;
        let tcp = tcp.into_std().map_err(unreachable)?;
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout())
            .set_starttls(self.settings.starttls)
            .set_config(self.tls.clone())
            .set_std_stream(ldap3::StdStream::Tcp(tcp));
        let url = self.settings.url.clone();
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &url).await.map_err(|source| self.transport(source))?;
        ldap3::drive!(conn);
        ldap.with_timeout(self.timeout());
        Ok(ldap)
    }

    fn transport(&self, source: LdapError) -> DirectoryError {
        match source {
            LdapError::Timeout { .. } => DirectoryError::Timeout { url: self.settings.url.clone(), seconds: self.settings.timeout_seconds },
            source => DirectoryError::Unreachable { url: self.settings.url.clone(), source: Box::new(source) },
        }
    }

    async fn sign_in(&self, ldap: &mut Ldap, login: &str, password: &Secret) -> Result<DirectoryUser, DirectoryError> {
        let bound = ldap.simple_bind(&self.settings.bind_dn, self.bind_password.expose()).await.map_err(|e| self.transport(e))?;
        bound.success().map_err(|e| DirectoryError::ServiceBind(Box::new(e)))?;
        let entry = self.find_person(ldap, login).await?;
        if is_disabled(&entry) {
            return Err(DirectoryError::Disabled);
        }
        let member_of = self.groups_of(ldap, &entry.dn).await?;
        let mapping = mapped_role(&self.settings.groups, &member_of).ok_or(DirectoryError::NoMappedGroup)?;
        let unit = self.opd_of(&entry, login, mapping.role)?;
        let display_name = first_value(&entry, &self.settings.name_attribute).map(str::trim).filter(|n| !n.is_empty()).unwrap_or(login).to_string();
        // Last: the person's own bind. The connection is theirs from here on and is closed.
        let result = ldap.simple_bind(&entry.dn, password.expose()).await.map_err(|e| self.transport(e))?;
        match result.rc {
            0 => {}
            INVALID_CREDENTIALS => return Err(DirectoryError::BadPassword),
            _ => return Err(DirectoryError::Search(Box::new(LdapError::LdapResult { result }))),
        }
        Ok(DirectoryUser { username: login.to_string(), dn: entry.dn, display_name, role: mapping.role, unit, group: mapping.group.clone() })
    }

    async fn find_person(&self, ldap: &mut Ldap, login: &str) -> Result<SearchEntry, DirectoryError> {
        let filter = login_filter(&self.settings.login_attribute, login);
        let attributes = [self.settings.name_attribute.as_str(), self.settings.opd_attribute.as_str(), "pwdAccountLockedTime", "userAccountControl"];
        let found = ldap.search(&self.settings.base_dn, Scope::Subtree, &filter, attributes).await.map_err(|e| self.transport(e))?;
        let (entries, _) = found.success().map_err(|e| DirectoryError::Search(Box::new(e)))?;
        match entries.len() {
            0 => Err(DirectoryError::NotFound),
            1 => Ok(SearchEntry::construct(entries.into_iter().next().expect("one entry"))),
            n => Err(DirectoryError::Ambiguous(n)),
        }
    }

    async fn groups_of(&self, ldap: &mut Ldap, dn: &str) -> Result<Vec<String>, DirectoryError> {
        let base = self.settings.group_base_dn.as_deref().unwrap_or(&self.settings.base_dn);
        let found = ldap.search(base, Scope::Subtree, &member_filter(dn), ["1.1"]).await.map_err(|e| self.transport(e))?;
        let (entries, _) = found.success().map_err(|e| DirectoryError::Search(Box::new(e)))?;
        Ok(entries.into_iter().map(|e| SearchEntry::construct(e).dn).collect())
    }

    /// The OPD, validated as an actor's unit; a requester must have one.
    fn opd_of(&self, entry: &SearchEntry, login: &str, role: Role) -> Result<Option<String>, DirectoryError> {
        let attribute = &self.settings.opd_attribute;
        let opd_error = |source| DirectoryError::Opd { attribute: attribute.clone(), source };
        match first_value(entry, attribute).map(str::trim).filter(|v| !v.is_empty()) {
            Some(value) => Ok(Actor::in_unit(login, role, value).map_err(|e| opd_error(Some(e)))?.unit),
            None if role == Role::Requester => Err(opd_error(None)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_values_are_escaped_per_rfc_4515() {
        assert_eq!(login_filter("uid", "budi"), "(uid=budi)");
        assert_eq!(login_filter("uid", "*)(uid=*"), r"(uid=\2a\29\28uid=\2a)");
        assert_eq!(login_filter("sAMAccountName", "a\\b\0"), r"(sAMAccountName=a\5cb\00)");
        assert_eq!(member_filter("cn=x (y),dc=id"), r"(member=cn=x \28y\29,dc=id)");
    }

    #[test]
    fn urls_give_host_and_port() {
        assert_eq!(host_port("ldaps://dc1.kaltimprov.go.id"), "dc1.kaltimprov.go.id:636");
        assert_eq!(host_port("ldap://dc1.kaltimprov.go.id/"), "dc1.kaltimprov.go.id:389");
        assert_eq!(host_port("ldap://127.0.0.1:16389"), "127.0.0.1:16389");
        assert_eq!(host_port("ldaps://[2001:db8::1]"), "[2001:db8::1]:636");
        assert_eq!(host_port("ldaps://[2001:db8::1]:1636/dc=id"), "[2001:db8::1]:1636");
    }

    #[test]
    fn first_listed_group_decides_and_dns_compare_loosely() {
        let groups = vec![
            DirectoryGroup { group: "cn=kolokasi-admin,ou=groups,dc=id".into(), role: Role::Admin },
            DirectoryGroup { group: "cn=kolokasi-operator, ou=groups, dc=id".into(), role: Role::Operator },
        ];
        let both = ["CN=Kolokasi-Operator,OU=Groups,DC=id".to_string(), "cn=kolokasi-admin,ou=groups,dc=id".to_string()];
        assert_eq!(mapped_role(&groups, &both).map(|g| g.role), Some(Role::Admin));
        assert_eq!(mapped_role(&groups, &both[..1]).map(|g| g.role), Some(Role::Operator));
        assert!(mapped_role(&groups, &["cn=staf,dc=id".to_string()]).is_none());
    }

    #[test]
    fn disabled_accounts_are_recognised() {
        let entry = |k: &str, v: &str| SearchEntry { dn: "uid=x".into(), attrs: [(k.to_string(), vec![v.to_string()])].into(), bin_attrs: Default::default() };
        assert!(is_disabled(&entry("pwdAccountLockedTime", "000001010000Z")));
        assert!(is_disabled(&entry("userAccountControl", "514")));
        assert!(!is_disabled(&entry("userAccountControl", "512")));
        assert!(!is_disabled(&entry("cn", "x")));
    }
}
