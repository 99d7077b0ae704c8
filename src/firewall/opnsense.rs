//! OPNsense through its firewall REST API (`/api/firewall/filter/…`: the rules of Firewall ‣
//! Automation ‣ Filter, from the os-firewall API). One `pass` rule per allowed service, each
//! described `kolokasi:<request>:<kind>` — the comment the nftables driver writes — which is
//! how kolokasi finds its rules again: `searchRule` by the request tag, then an exact match of
//! the `kolokasi:<request>:` prefix (the search is a substring match, so `KLK-1` also finds
//! `KLK-10`).
//!
//! - `allow`: search, `addRule` for each rule whose description is missing, then `apply`.
//! - `remove`: search, `delRule/{uuid}` for exactly the request's rules, then `apply`.
//!
//! `apply` runs even when nothing changed: `addRule` and `delRule` only change the saved
//! configuration, so a crash between them and `apply` leaves the change saved but not
//! enforced, and the re-run that finds everything in place must still load it into pf.
//!
//! Placement: the device's `sequence` (inventory) gives kolokasi's rules an OPNsense filter
//! sequence; rules are evaluated in sequence order, first `quick` match wins, so a sequence
//! lower than the operator's block rules puts kolokasi's passes before them.
//! Unlike nftables (whose table accepts by default) no per-destination `block` is added:
//! OPNsense blocks unsolicited inbound traffic on an interface unless a rule passes it.
//! `datacenter check` reads the operator's rules and says whether that holds here: a quick
//! block at a lower sequence shadows kolokasi's passes (cannot work), an earlier pass-all
//! means they restrict nothing (warning). See [`super::opnsense_check`].
//!
//! Credentials: HTTP Basic with the API key and secret, encoded once into a header value
//! marked sensitive; `Debug` and errors never show them. 401/403 are not retryable;
//! connection failures, timeouts and 5xx are.
//!
//! Owns only rules whose description starts with `kolokasi:`; never touches any other rule.
//!
//! The API shape follows OPNsense's API documentation and core source (ApiControllerBase,
//! ApiMutableModelControllerBase, FilterController): request fields are strings, `addRule`
//! answers `{"result":"saved","uuid"}` or `{"result":"failed","validations":{…}}` with HTTP
//! 200, `searchRule` reads `current`/`rowCount`/`searchPhrase` from a JSON POST body. It has
//! been tested against an emulator of those endpoints, not against a real OPNsense.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderValue, LOCATION};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use super::rule::{FirewallRule, Protocol, RuleComment};
use super::{Allowed, FirewallError, InstalledRule};
use crate::secrets::Secret;
use crate::ssh::RequestTag;

const API_PATH: &str = "/api/firewall/filter";
/// What every kolokasi description starts with (see `rule::comment`).
use super::rule::PREFIX as KOLOKASI_PREFIX;
/// Rows per `searchRule` page; more pages are fetched until `total` rows were seen.
const PAGE_SIZE: u64 = 500;
/// A bound on pages, against a server that never reaches its own `total`.
const MAX_PAGES: u64 = 1000;
/// How much of an unexpected answer to quote in an error message.
const MAX_MESSAGE_LEN: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum OpnsenseError {
    // --- configuration (fix it; retrying cannot help) ---
    #[error("invalid OPNsense configuration for {device}: {message}")]
    Config { device: String, message: String },
    #[error("{0:?} is not an OPNsense interface identifier: 1-32 of a-z A-Z 0-9 _ starting with a letter (wan, lan, opt1)")]
    Interface(String),

    // --- OPNsense said no (not retryable) ---
    #[error(
        "the OPNsense API key was rejected by {device} (HTTP {status}): check the API key and secret, \
         and that the key's user may use the firewall filter API"
    )]
    ApiKeyRejected { device: String, status: u16 },
    #[error("OPNsense {device} has no {endpoint} endpoint (HTTP 404): is the firewall automation API (os-firewall) available there?")]
    NoFilterApi { device: String, endpoint: &'static str },
    #[error("OPNsense {device} refused the rule {description:?}: {validations}")]
    RuleRejected { device: String, description: String, validations: String },
    #[error("OPNsense {device} refused {endpoint} (HTTP {status}): {message}")]
    Refused { device: String, endpoint: &'static str, status: u16, message: String },
    #[error("OPNsense {device} could not load its firewall rules (apply said {status:?}): the changes are saved but not in force")]
    ApplyFailed { device: String, status: String },
    #[error("unexpected answer from OPNsense {device} to {endpoint}: {message}")]
    Unexpected { device: String, endpoint: &'static str, message: String },

    // --- transient (retry with backoff) ---
    #[error("no answer from OPNsense {device} to {endpoint} within {after:?}")]
    Timeout { device: String, endpoint: &'static str, after: Duration },
    #[error("cannot reach OPNsense {device} at {api_url}")]
    Unreachable {
        device: String,
        api_url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("OPNsense {device} failed on {endpoint} (HTTP {status}): {message}")]
    Server { device: String, endpoint: &'static str, status: u16, message: String },
}

impl OpnsenseError {
    /// Timeouts, unreachable APIs and HTTP 5xx; never rejected credentials or rules.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Unreachable { .. } | Self::Server { .. })
    }
}

/// An OPNsense interface (or interface group) identifier: `wan`, `lan`, `opt1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpnsenseInterface(String);

impl OpnsenseInterface {
    pub fn parse(input: &str) -> Result<Self, OpnsenseError> {
        let ok = (1..=32).contains(&input.len())
            && input.as_bytes()[0].is_ascii_alphabetic()
            && input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok { Ok(Self(input.to_string())) } else { Err(OpnsenseError::Interface(input.to_string())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How to reach an OPNsense firewall's API.
#[derive(Debug, Clone)]
pub struct OpnsenseConfig {
    /// kolokasi's name for the firewall (`fw-opn-1`).
    pub device: String,
    /// `https://192.0.2.1` or `https://fw.example:8443` (`/api/…` is added here). Plain
    /// `http://` is allowed only to a loopback address (an SSH tunnel, the test emulator):
    /// the credentials travel in every request.
    pub api_url: String,
    pub api_key: Secret,
    pub api_secret: Secret,
    /// The interface kolokasi's rules filter on, inbound (usually `wan`).
    pub interface: OpnsenseInterface,
    /// The longest any one API call may take, connecting included.
    pub timeout: Duration,
    /// PEM of the CA (or the firewall's self-signed certificate) to trust instead of the
    /// system's roots.
    pub ca_certificate_pem: Option<String>,
    /// The filter-rule `sequence` (1–999999) kolokasi's rules get: OPNsense evaluates rules in
    /// sequence order and the first matching `quick` rule wins, so a sequence below the
    /// operator's own block rules places kolokasi's passes before them. `None`: the model's
    /// default (appended among the operator's rules).
    pub sequence: Option<u32>,
}

/// A rule's id on OPNsense: a UUID, checked before it goes into a URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RuleUuid(String);

impl RuleUuid {
    fn parse(text: &str) -> Option<Self> {
        let groups: Vec<&str> = text.split('-').collect();
        let shape = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
        (shape && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))).then(|| Self(text.to_ascii_lowercase()))
    }
}

/// A kolokasi rule found on the firewall.
#[derive(Debug, Clone)]
struct FoundRule {
    uuid: RuleUuid,
    description: String,
    comment: RuleComment,
}

impl FoundRule {
    // TODO(design): `InstalledRule` is nftables-shaped (chain, handle). OPNsense addresses a
    // rule by its uuid alone, so the uuid goes in `chain` and `handle` is 0 (a handle
    // nftables never assigns). A driver-neutral rule id would be cleaner.
    fn installed(self) -> InstalledRule {
        InstalledRule { chain: self.uuid.0, handle: 0, comment: self.comment }
    }
}

/// An OPNsense firewall. `Debug` shows where it is, never the credentials.
pub struct Opnsense {
    device: String,
    api_url: String,
    interface: OpnsenseInterface,
    timeout: Duration,
    sequence: Option<u32>,
    /// `Basic base64(key:secret)`, marked sensitive.
    authorization: HeaderValue,
    http: reqwest::Client,
    /// `allow` and `remove` search, then change: two steps that must not interleave with
    /// another change from this process.
    change: tokio::sync::Mutex<()>,
}

impl Opnsense {
    pub fn new(cfg: OpnsenseConfig) -> Result<Self, OpnsenseError> {
        let device = cfg.device.trim().to_string();
        let config_error = |message: String| OpnsenseError::Config { device: device.clone(), message };
        if device.is_empty() {
            return Err(config_error("the device name is empty".into()));
        }
        if cfg.timeout.is_zero() {
            return Err(config_error("the timeout must be longer than zero".into()));
        }
        if cfg.sequence.is_some_and(|n| !(1..=999_999).contains(&n)) {
            return Err(config_error("the rule sequence must be 1-999999".into()));
        }
        let api_url = cfg.api_url.trim().trim_end_matches('/').to_string();
        check_api_url(&api_url).map_err(config_error)?;
        if cfg.api_key.is_empty() || cfg.api_secret.is_empty() {
            return Err(config_error("the API key and secret must both be given".into()));
        }
        if cfg.api_key.expose().contains(':') {
            return Err(config_error("the API key contains ':', which HTTP Basic authentication cannot carry".into()));
        }
        let credentials = Secret::new(format!("{}:{}", cfg.api_key.expose(), cfg.api_secret.expose()));
        let header = Secret::new(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials.expose())));
        let mut authorization = HeaderValue::from_str(header.expose())
            .map_err(|_| config_error("the API key or secret contains characters not allowed in an HTTP header".into()))?;
        authorization.set_sensitive(true);

        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            // A redirect means a wrong URL (http → https, a login page): say so instead.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &cfg.ca_certificate_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| config_error(format!("the CA certificate is not valid PEM: {e}")))?;
            if certs.is_empty() {
                return Err(config_error("the CA certificate PEM holds no certificate".into()));
            }
            builder = builder.tls_certs_only(certs);
        }
        let http = builder.build().map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { device, api_url, interface: cfg.interface, timeout: cfg.timeout, sequence: cfg.sequence, authorization, http, change: Default::default() })
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// `datacenter check`: reads every filter rule and says whether kolokasi's pass rules, at
    /// their sequence on their interface, can take effect (see [`super::opnsense_check`]).
    pub async fn check(&self) -> Result<super::doctor::Diagnosis, FirewallError> {
        let rows = self.search_rows("").await?;
        let sequence = self.sequence.unwrap_or(super::opnsense_check::DEFAULT_SEQUENCE);
        Ok(super::opnsense_check::diagnose(&self.device, self.interface.as_str(), sequence, &rows))
    }

    /// Adds whatever of `rules` is not there yet, then applies; a re-run adds nothing.
    pub async fn allow(&self, request: &RequestTag, rules: &[FirewallRule]) -> Result<Allowed, FirewallError> {
        if let Some(r) = rules.iter().find(|r| r.request != *request) {
            return Err(FirewallError::OtherRequest { expected: request.clone(), got: r.request.clone() });
        }
        let _change = self.change.lock().await;
        let existing = self.find_request(request).await?;
        let destinations: BTreeSet<IpAddr> = rules.iter().map(|r| r.destination).collect();
        let mine = existing.iter().filter(|f| f.comment.destination().is_some_and(|d| destinations.contains(&d))).count();
        let mut present: BTreeSet<String> = existing.into_iter().map(|f| f.description).collect();
        let mut added = Vec::new();
        for r in rules {
            // `insert` is false for a description already there (or twice in `rules`).
            if present.insert(r.comment()) {
                let uuid = self.add(r).await?;
                let comment = RuleComment { request: r.request.clone(), kind: r.kind() };
                added.push(InstalledRule { chain: uuid.0, handle: 0, comment });
            }
        }
        self.apply().await?;
        Ok(Allowed { total: mine + added.len(), written: added })
    }

    /// Deletes the request's rules (all, or those guarding `destination`), then applies;
    /// returns how many were deleted. No other rule is touched.
    pub async fn remove(&self, request: &RequestTag, destination: Option<IpAddr>) -> Result<usize, FirewallError> {
        let _change = self.change.lock().await;
        let doomed = self.find_request(request).await?;
        let mut deleted = 0;
        for f in doomed.iter().filter(|f| destination.is_none_or(|d| f.comment.destination() == Some(d))) {
            if self.delete(&f.uuid).await? {
                deleted += 1;
            }
        }
        self.apply().await?;
        Ok(deleted)
    }

    /// kolokasi's rules on the firewall, every request's.
    pub async fn rules(&self) -> Result<Vec<InstalledRule>, FirewallError> {
        Ok(self.search(KOLOKASI_PREFIX).await?.into_iter().map(FoundRule::installed).collect())
    }

    /// The request's rules: found by its tag, kept only on an exact `kolokasi:<tag>:` prefix.
    async fn find_request(&self, request: &RequestTag) -> Result<Vec<FoundRule>, OpnsenseError> {
        Ok(self.search(request.as_str()).await?.into_iter().filter(|f| f.comment.request == *request).collect())
    }

    /// kolokasi rules among the rows `searchRule` finds for `phrase`.
    async fn search(&self, phrase: &str) -> Result<Vec<FoundRule>, OpnsenseError> {
        Ok(self.search_rows(phrase).await?.iter().filter_map(|row| self.kolokasi_rule(row)).collect())
    }

    /// Every row `searchRule` finds for `phrase` (all rules for ""), page by page.
    async fn search_rows(&self, phrase: &str) -> Result<Vec<Value>, OpnsenseError> {
        let mut found = Vec::new();
        let mut seen = 0u64;
        for page in 1..=MAX_PAGES {
            let body = json!({"current": page, "rowCount": PAGE_SIZE, "searchPhrase": phrase});
            let answer = self.call("searchRule", None, body).await?;
            let rows = answer["rows"].as_array().ok_or_else(|| self.unexpected("searchRule", "no \"rows\" array".into()))?;
            let total = number(&answer["total"]).ok_or_else(|| self.unexpected("searchRule", "no \"total\" count".into()))?;
            seen += rows.len() as u64;
            found.extend(rows.iter().cloned());
            if rows.is_empty() || seen >= total {
                return Ok(found);
            }
        }
        Err(self.unexpected("searchRule", format!("more than {MAX_PAGES} pages of {PAGE_SIZE} rules")))
    }

    /// A `searchRule` row, if it is a kolokasi rule that `delRule` can address.
    fn kolokasi_rule(&self, row: &Value) -> Option<FoundRule> {
        let description = row["description"].as_str()?;
        let comment = RuleComment::parse(description)?;
        // Newer OPNsense also lists legacy (GUI) rules here; delRule cannot delete those.
        if row.get("legacy").is_some_and(truthy) {
            tracing::warn!(device = %self.device, description, "a legacy OPNsense rule carries a kolokasi description; ignored");
            return None;
        }
        let Some(uuid) = row["uuid"].as_str().and_then(RuleUuid::parse) else {
            tracing::warn!(device = %self.device, description, "a kolokasi rule without a valid uuid; ignored");
            return None;
        };
        Some(FoundRule { uuid, description: description.to_string(), comment })
    }

    async fn add(&self, rule: &FirewallRule) -> Result<RuleUuid, OpnsenseError> {
        let answer = self.call("addRule", None, self.rule_body(rule)).await?;
        match answer["result"].as_str() {
            Some("saved") => answer["uuid"]
                .as_str()
                .and_then(RuleUuid::parse)
                .ok_or_else(|| self.unexpected("addRule", "saved without a valid uuid".into())),
            Some("failed") => Err(OpnsenseError::RuleRejected {
                device: self.device.clone(),
                description: rule.comment(),
                validations: validations(&answer["validations"]),
            }),
            _ => Err(self.unexpected("addRule", excerpt(&answer.to_string()))),
        }
    }

    /// `true` if deleted, `false` if it was already gone.
    async fn delete(&self, uuid: &RuleUuid) -> Result<bool, OpnsenseError> {
        let answer = self.call("delRule", Some(uuid), json!({})).await?;
        match answer["result"].as_str() {
            Some("deleted") => Ok(true),
            Some("not found") => Ok(false),
            _ => Err(self.unexpected("delRule", excerpt(&answer.to_string()))),
        }
    }

    /// Loads the saved rules into pf. The status is configd's output (`OK`, maybe with
    /// trailing newlines, which older versions did not trim).
    async fn apply(&self) -> Result<(), OpnsenseError> {
        let answer = self.call("apply", None, json!({})).await?;
        match answer["status"].as_str().map(str::trim) {
            Some(s) if s.eq_ignore_ascii_case("ok") => Ok(()),
            Some(s) => Err(OpnsenseError::ApplyFailed { device: self.device.clone(), status: excerpt(s) }),
            None => Err(self.unexpected("apply", excerpt(&answer.to_string()))),
        }
    }

    /// The `addRule` body: every value a string, as the model's fields are.
    fn rule_body(&self, r: &FirewallRule) -> Value {
        let source_net = if r.sources.is_empty() {
            "any".to_string()
        } else {
            // `source_net` takes several networks, comma-separated (Multiple=Y in the model).
            r.sources.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
        };
        let mut body = json!({"rule": {
            "enabled": "1",
            "action": "pass",
            "quick": "1",
            "interface": self.interface.as_str(),
            "direction": "in",
            "ipprotocol": if r.destination.is_ipv4() { "inet" } else { "inet6" },
            "protocol": match r.protocol { Protocol::Tcp => "TCP", Protocol::Udp => "UDP" },
            "source_net": source_net,
            "destination_net": r.destination.to_string(),
            "destination_port": r.port.to_string(),
            "description": r.comment(),
        }});
        if let Some(n) = self.sequence {
            body["rule"]["sequence"] = json!(n.to_string());
        }
        body
    }

    /// POSTs `body` as JSON to `endpoint` (`…/filter/<endpoint>[/<uuid>]`) and returns the
    /// JSON answer of a 2xx; anything else becomes an error saying whether to retry.
    async fn call(&self, endpoint: &'static str, uuid: Option<&RuleUuid>, body: Value) -> Result<Value, OpnsenseError> {
        let mut url = format!("{}{API_PATH}/{endpoint}", self.api_url);
        if let Some(u) = uuid {
            url = format!("{url}/{}", u.0);
        }
        let sent = self.http.post(&url).header(AUTHORIZATION, self.authorization.clone()).json(&body).send().await;
        let response = sent.map_err(|e| self.transport_error(endpoint, e))?;
        let status = response.status();
        let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()).map(str::to_string);
        let text = response.text().await.map_err(|e| self.transport_error(endpoint, e))?;
        let device = self.device.clone();
        match status {
            s if s.is_success() => {
                serde_json::from_str(&text).map_err(|_| self.unexpected(endpoint, format!("not JSON: {}", excerpt(&text))))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(OpnsenseError::ApiKeyRejected { device, status: status.as_u16() }),
            StatusCode::NOT_FOUND => Err(OpnsenseError::NoFilterApi { device, endpoint }),
            s if s.is_server_error() => {
                Err(OpnsenseError::Server { device, endpoint, status: s.as_u16(), message: api_message(&text) })
            }
            s if s.is_redirection() => Err(self.unexpected(
                endpoint,
                format!("redirected (HTTP {}) to {}: check api_url", s.as_u16(), location.as_deref().unwrap_or("?")),
            )),
            s => Err(OpnsenseError::Refused { device, endpoint, status: s.as_u16(), message: api_message(&text) }),
        }
    }

    fn transport_error(&self, endpoint: &'static str, e: reqwest::Error) -> OpnsenseError {
        // The URL is ours and adds nothing to the message.
        let e = e.without_url();
        if e.is_timeout() {
            OpnsenseError::Timeout { device: self.device.clone(), endpoint, after: self.timeout }
        } else if e.is_decode() || e.is_builder() {
            self.unexpected(endpoint, e.to_string())
        } else {
            // Refused, reset or closed mid-exchange: all worth another try, and a re-run of
            // `allow`/`remove` is safe even if the request got through.
            OpnsenseError::Unreachable { device: self.device.clone(), api_url: self.api_url.clone(), source: e }
        }
    }

    fn unexpected(&self, endpoint: &'static str, message: String) -> OpnsenseError {
        OpnsenseError::Unexpected { device: self.device.clone(), endpoint, message }
    }
}

impl fmt::Debug for Opnsense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opnsense")
            .field("device", &self.device)
            .field("api_url", &self.api_url)
            .field("interface", &self.interface.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// http(s), a host, no credentials, query or fragment; plain http only to loopback.
fn check_api_url(api_url: &str) -> Result<(), String> {
    let url = Url::parse(api_url).map_err(|e| format!("API URL {api_url:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("API URL {api_url:?} must be https:// with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("API URL {:?} must have no user, password, query or fragment", url.host_str().unwrap_or_default()));
    }
    let host = url.host_str().unwrap_or_default();
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|a| a.is_loopback());
    if url.scheme() == "http" && !loopback {
        return Err(format!("API URL {api_url:?} must be https:// (plain http would expose the API key)"));
    }
    Ok(())
}

/// PHP's idea of a set flag: `true`, `1`, `"1"`, any non-empty string but `"0"`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty() && s != "0",
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A count that may come as a number or a numeric string.
fn number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
}

/// `{"rule.destination_port": "…"}` (a message or a list of them per field) as one line.
fn validations(v: &Value) -> String {
    let Some(fields) = v.as_object() else { return "no reason given".into() };
    let lines: Vec<String> = fields
        .iter()
        .map(|(field, msg)| match msg {
            Value::Array(list) => format!("{field}: {}", list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
            other => format!("{field}: {}", other.as_str().unwrap_or_default()),
        })
        .collect();
    excerpt(&lines.join("; "))
}

/// The `message` or `errorMessage` of an OPNsense error body, else the body's start.
fn api_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| v["message"].as_str().or_else(|| v["errorMessage"].as_str())).map(str::to_string);
    excerpt(&message.unwrap_or_else(|| body.to_string()))
}

fn excerpt(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX_MESSAGE_LEN) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::parse_source;

    fn config(api_url: &str) -> OpnsenseConfig {
        OpnsenseConfig {
            device: "fw-opn-1".into(),
            api_url: api_url.into(),
            api_key: Secret::new("CANARY-key"),
            api_secret: Secret::new("CANARY-secret"),
            interface: OpnsenseInterface::parse("wan").unwrap(),
            timeout: Duration::from_secs(5),
            ca_certificate_pem: None,
            sequence: None,
        }
    }

    fn tag() -> RequestTag {
        RequestTag::parse("KLK-2026-00042").unwrap()
    }

    #[test]
    fn configuration_is_checked_before_any_call() {
        assert!(Opnsense::new(config("https://192.0.2.1/")).is_ok());
        assert!(Opnsense::new(config("http://127.0.0.1:8080")).is_ok());
        assert!(Opnsense::new(config("http://[::1]:8080")).is_ok());
        for bad in ["http://192.0.2.1", "https://key:secret@192.0.2.1", "https://192.0.2.1/?x=1", "ftp://192.0.2.1", "fw.example"] {
            let e = Opnsense::new(config(bad)).unwrap_err();
            assert!(matches!(e, OpnsenseError::Config { .. }), "{bad}: {e}");
            assert!(!e.to_string().contains("secret@"), "{e}");
        }
        let mut c = config("https://192.0.2.1");
        c.api_key = Secret::new("a:b");
        assert!(Opnsense::new(c).is_err());
        let mut c = config("https://192.0.2.1");
        c.timeout = Duration::ZERO;
        assert!(Opnsense::new(c).is_err());
        let mut c = config("https://192.0.2.1");
        c.ca_certificate_pem = Some("not a certificate".into());
        assert!(Opnsense::new(c).is_err());
    }

    #[test]
    fn interfaces_are_identifiers() {
        for good in ["wan", "lan", "opt12", "VPN_group"] {
            assert!(OpnsenseInterface::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "1wan", "wan,lan", "wan\"", "lo 0", "wan;", &"a".repeat(33)] {
            assert!(OpnsenseInterface::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_credentials() {
        let d = Opnsense::new(config("https://192.0.2.1")).unwrap();
        let text = format!("{d:?} {:?}", config("https://192.0.2.1"));
        assert!(text.contains("fw-opn-1"));
        assert!(!text.contains("CANARY"), "{text}");
    }

    #[test]
    fn rules_map_onto_the_documented_fields() {
        let d = Opnsense::new(config("https://192.0.2.1")).unwrap();
        let v4 = FirewallRule::new(tag(), "198.51.100.140".parse().unwrap(), "tcp/443".parse().unwrap(), vec![]).unwrap();
        let body = d.rule_body(&v4);
        assert_eq!(
            body,
            json!({"rule": {
                "enabled": "1", "action": "pass", "quick": "1", "interface": "wan", "direction": "in",
                "ipprotocol": "inet", "protocol": "TCP", "source_net": "any",
                "destination_net": "198.51.100.140", "destination_port": "443",
                "description": "kolokasi:KLK-2026-00042:accept/tcp/443/198.51.100.140",
            }})
        );
        let sources = vec![parse_source("2001:db8::/32").unwrap(), parse_source("2001:db8:1::7").unwrap()];
        let v6 = FirewallRule::new(tag(), "2001:db8:100::7".parse().unwrap(), "udp/53".parse().unwrap(), sources).unwrap();
        let rule = &d.rule_body(&v6)["rule"];
        assert_eq!(rule["ipprotocol"], "inet6");
        assert_eq!(rule["protocol"], "UDP");
        assert_eq!(rule["source_net"], "2001:db8::/32,2001:db8:1::7/128");
        assert!(rule["description"].as_str().unwrap().len() <= 255);
    }

    #[test]
    fn only_kolokasi_rows_with_a_uuid_are_kolokasi_rules() {
        let d = Opnsense::new(config("https://192.0.2.1")).unwrap();
        let uuid = "0b6c7c2e-5f0a-4a53-9d1e-2f3a4b5c6d7e";
        let ours = json!({"uuid": uuid, "description": "kolokasi:KLK-1:accept/tcp/443/198.51.100.140"});
        let found = d.kolokasi_rule(&ours).unwrap();
        assert_eq!(found.uuid.0, uuid);
        assert_eq!(found.comment.destination(), Some("198.51.100.140".parse().unwrap()));
        for other in [
            json!({"uuid": uuid, "description": "office VPN"}),
            json!({"uuid": uuid, "description": "copy of kolokasi:KLK-1:accept/tcp/443/198.51.100.140"}),
            json!({"uuid": "../apply", "description": "kolokasi:KLK-1:accept/tcp/443/198.51.100.140"}),
            json!({"description": "kolokasi:KLK-1:accept/tcp/443/198.51.100.140"}),
            json!({"uuid": uuid, "legacy": true, "description": "kolokasi:KLK-1:accept/tcp/443/198.51.100.140"}),
        ] {
            assert!(d.kolokasi_rule(&other).is_none(), "{other}");
        }
    }

    #[test]
    fn errors_say_whether_to_retry() {
        let device = String::from("fw");
        let server = OpnsenseError::Server { device: device.clone(), endpoint: "apply", status: 502, message: String::new() };
        assert!(server.is_retryable());
        assert!(OpnsenseError::Timeout { device: device.clone(), endpoint: "apply", after: Duration::from_secs(1) }.is_retryable());
        let rejected = OpnsenseError::ApiKeyRejected { device: device.clone(), status: 401 };
        assert!(!rejected.is_retryable());
        assert!(rejected.to_string().contains("OPNsense API key was rejected"));
        assert!(!OpnsenseError::RuleRejected { device, description: String::new(), validations: String::new() }.is_retryable());
        let answer = json!({"rule.destination_port": ["bad", "worse"], "rule.action": "no"});
        assert_eq!(validations(&answer), "rule.action: no; rule.destination_port: bad, worse");
    }
}
