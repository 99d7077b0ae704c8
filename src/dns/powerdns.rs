//! The PowerDNS driver: rrset changes through the HTTP API (`PATCH …/zones/{zone}` with
//! changetype REPLACE or DELETE), read back over DNS from the server's own port.
//!
//! One `reqwest::Client` per provider keeps connections to the API alive between changes. The
//! API key goes out only as the `X-API-Key` header (marked sensitive) and never into an error.
//!
//! Changes from one provider (and its clones) go to the API one at a time. PowerDNS on its
//! SQLite backend (as in the lab) answers concurrent rrset changes with HTTP 500 "database is
//! locked": two deferred transactions deadlock on the write lock, and SQLite fails one at once
//! instead of waiting. A change takes a few milliseconds, so queueing them costs little;
//! read-backs still run in parallel. Several kolokasi processes can still collide; the 500 is
//! retryable for that case.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::domain::Fqdn;
use crate::secrets::Secret;

use super::error::DnsError;
use super::records::{RecordKind, RecordSet, ensure_within};
use super::value::RecordValue;
use super::verify::ReadBack;

/// How much of an unexpected error body to quote in an error message.
const MAX_MESSAGE_LEN: usize = 300;

/// How to reach a PowerDNS server: its API for changes, its DNS port for read-back.
#[derive(Debug, Clone)]
pub struct PowerDnsConfig {
    /// e.g. `http://127.0.0.1:8081` (the `/api/v1` part is added here).
    pub api_url: String,
    pub api_key: Secret,
    /// Almost always `localhost`.
    pub server_id: String,
    pub dns_server: SocketAddr,
    /// The longest any one API call or read-back may take.
    pub timeout: Duration,
}

/// A PowerDNS provider. `Debug` shows the API address, never the key.
#[derive(Clone)]
pub struct PowerDns {
    api_url: String,
    zones_url: String,
    api_key: HeaderValue,
    http: reqwest::Client,
    /// Held for the duration of each change (see the module doc).
    write_queue: Arc<Mutex<()>>,
    timeout: Duration,
    read_back: ReadBack,
}

impl PowerDns {
    pub fn new(cfg: PowerDnsConfig) -> Result<Self, DnsError> {
        if cfg.timeout.is_zero() {
            return Err(DnsError::Config("the PowerDNS timeout must be longer than zero".into()));
        }
        let api_url = cfg.api_url.trim().trim_end_matches('/').to_string();
        let parsed =
            reqwest::Url::parse(&api_url).map_err(|e| DnsError::Config(format!("PowerDNS API URL {api_url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(DnsError::Config(format!("PowerDNS API URL {api_url:?} must be http:// or https:// with a host")));
        }
        let server_id = cfg.server_id.trim();
        if server_id.is_empty() || !server_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(DnsError::Config(format!("PowerDNS server id {server_id:?} may contain only letters, digits, '-', '_' and '.'")));
        }
        let mut api_key = HeaderValue::from_str(cfg.api_key.expose())
            .map_err(|_| DnsError::Config("the PowerDNS API key contains characters not allowed in an HTTP header".into()))?;
        api_key.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .build()
            .map_err(|e| DnsError::Config(format!("cannot build the HTTP client for PowerDNS: {e}")))?;
        Ok(Self {
            zones_url: format!("{api_url}/api/v1/servers/{server_id}/zones"),
            api_url,
            api_key,
            http,
            write_queue: Arc::default(),
            timeout: cfg.timeout,
            read_back: ReadBack::new(cfg.dns_server, cfg.timeout),
        })
    }

    /// Makes (name, kind) hold exactly `set.values`; an empty `values` removes the rrset.
    pub async fn replace(&self, zone: &Fqdn, set: &RecordSet) -> Result<(), DnsError> {
        ensure_within(&set.name, zone)?;
        let values = set.parsed_values()?;
        if values.is_empty() {
            return self.delete(zone, &set.name, set.kind).await;
        }
        self.patch(zone, rrset_json(set, &values)).await
    }

    /// Removes the rrset (name, kind) and nothing else; an absent rrset is not an error.
    pub async fn delete(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind) -> Result<(), DnsError> {
        ensure_within(name, zone)?;
        let rrset = json!({ "name": name.to_absolute(), "type": kind.as_str(), "changetype": "DELETE" });
        self.patch(zone, rrset).await
    }

    /// Like `replace`, but only if (name, kind) now holds exactly `expected` (none: absent).
    /// The API has no prerequisites, so the rrset is read from the API and compared, then
    /// patched, all while holding the write queue: no change from this provider slips in
    /// between. Anything else found is `Conflict`, and nothing is written.
    pub async fn replace_if(&self, zone: &Fqdn, set: &RecordSet, expected: &[String]) -> Result<(), DnsError> {
        ensure_within(&set.name, zone)?;
        let values = set.parsed_values()?;
        let _turn = self.turn().await?;
        self.expect_api(zone, &set.name, set.kind, expected).await?;
        if values.is_empty() {
            return self.send_patch(zone, json!({ "name": set.name.to_absolute(), "type": set.kind.as_str(), "changetype": "DELETE" })).await;
        }
        self.send_patch(zone, rrset_json(set, &values)).await
    }

    /// Removes (name, kind) only if it holds exactly `expected`; otherwise `Conflict`.
    pub async fn delete_if(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind, expected: &[String]) -> Result<(), DnsError> {
        ensure_within(name, zone)?;
        let _turn = self.turn().await?;
        self.expect_api(zone, name, kind, expected).await?;
        self.send_patch(zone, json!({ "name": name.to_absolute(), "type": kind.as_str(), "changetype": "DELETE" })).await
    }

    /// Fails with `Conflict` unless the API shows (name, kind) holding exactly `expected`.
    async fn expect_api(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind, expected: &[String]) -> Result<(), DnsError> {
        let found = self.api_values(zone, name, kind).await?;
        let mut wanted = expected.iter().map(|v| RecordValue::parse(name, kind, v).map(|v| comparable(&v))).collect::<Result<Vec<_>, _>>()?;
        wanted.sort();
        wanted.dedup();
        if found == wanted {
            return Ok(());
        }
        Err(DnsError::Conflict { server: self.api_url.clone(), name: name.clone(), kind, expected: expected.to_vec(), found })
    }

    /// The rrset's enabled values as the API holds them, in the form `comparable` gives.
    async fn api_values(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind) -> Result<Vec<String>, DnsError> {
        let mut url = reqwest::Url::parse(&format!("{}/{}", self.zones_url, zone.to_absolute()))
            .map_err(|e| DnsError::Config(format!("PowerDNS zone URL for {zone}: {e}")))?;
        url.query_pairs_mut().append_pair("rrsets", "true").append_pair("rrset_name", &name.to_absolute()).append_pair("rrset_type", kind.as_str());
        let sent = self.http.get(url).header("X-API-Key", self.api_key.clone()).send().await;
        let response = sent.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.transport_error(e))?;
        if !status.is_success() {
            return Err(self.status_error(zone, status, &body));
        }
        let zone_json: Value = serde_json::from_str(&body).map_err(|e| DnsError::Protocol { server: self.api_url.clone(), source: Box::new(e) })?;
        let mut values: Vec<String> = zone_json["rrsets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["type"] == kind.as_str() && r["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&name.to_absolute())))
            .flat_map(|r| r["records"].as_array().cloned().unwrap_or_default())
            .filter(|r| r["disabled"] != true)
            .filter_map(|r| r["content"].as_str().map(|c| api_comparable(name, kind, c)))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// The rrset as the server answers over DNS now (see `verify::ReadBack`).
    pub async fn read(&self, name: &Fqdn, kind: RecordKind) -> Result<Vec<String>, DnsError> {
        self.read_back.read(name, kind).await
    }

    pub(crate) fn read_back(&self) -> &ReadBack {
        &self.read_back
    }

    async fn patch(&self, zone: &Fqdn, rrset: Value) -> Result<(), DnsError> {
        let _turn = self.turn().await?;
        self.send_patch(zone, rrset).await
    }

    /// This provider's turn to change the server (see the module doc).
    async fn turn(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, DnsError> {
        // Waiting for our turn counts against the timeout too: a hung API must not stall a
        // queue of callers for a timeout each.
        tokio::time::timeout(self.timeout, self.write_queue.lock()).await.map_err(|_| DnsError::Timeout { server: self.api_url.clone() })
    }

    async fn send_patch(&self, zone: &Fqdn, rrset: Value) -> Result<(), DnsError> {
        // Zone ids in the URL are the absolute name; an `Fqdn` has no characters needing escapes.
        let url = format!("{}/{}", self.zones_url, zone.to_absolute());
        let sent = self.http.patch(&url).header("X-API-Key", self.api_key.clone()).json(&json!({ "rrsets": [rrset] })).send().await;
        let response = sent.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(self.status_error(zone, status, &body))
    }

    fn transport_error(&self, e: reqwest::Error) -> DnsError {
        let server = self.api_url.clone();
        // Drop the URL from the error: it is ours and adds nothing to the message.
        let e = e.without_url();
        if e.is_timeout() {
            DnsError::Timeout { server }
        } else if e.is_connect() {
            DnsError::Unreachable { server, source: Box::new(e) }
        } else {
            DnsError::Protocol { server, source: Box::new(e) }
        }
    }

    fn status_error(&self, zone: &Fqdn, status: StatusCode, body: &str) -> DnsError {
        let message = api_message(body);
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                DnsError::ApiKeyRejected { api_url: self.api_url.clone(), status: status.as_u16() }
            }
            StatusCode::NOT_FOUND => DnsError::ZoneNotFound { zone: zone.clone(), message },
            s if s.is_server_error() => DnsError::PowerDnsServer { api_url: self.api_url.clone(), status: s.as_u16(), message },
            s => DnsError::PowerDnsRejected { zone: zone.clone(), status: s.as_u16(), message },
        }
    }
}

impl fmt::Debug for PowerDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PowerDns")
            .field("api_url", &self.api_url)
            .field("zones_url", &self.zones_url)
            .field("read_back", &self.read_back)
            .finish_non_exhaustive()
    }
}

/// A REPLACE of the whole rrset with `values`.
fn rrset_json(set: &RecordSet, values: &[RecordValue]) -> Value {
    let records: Vec<Value> = values.iter().map(|v| json!({ "content": content(v), "disabled": false })).collect();
    json!({ "name": set.name.to_absolute(), "type": set.kind.as_str(), "ttl": set.ttl, "changetype": "REPLACE", "records": records })
}

/// A value in the form compared with what the API holds: the presentation form, except TXT,
/// which is compared in the API's quoted form.
fn comparable(value: &RecordValue) -> String {
    match value {
        RecordValue::Text(_) => content(value),
        other => other.presentation(),
    }
}

/// The API's content in `comparable` form; content that does not parse is kept as it is (it
/// is someone else's, and differs from anything kolokasi expects).
fn api_comparable(name: &Fqdn, kind: RecordKind, content: &str) -> String {
    if kind == RecordKind::Txt {
        return content.to_string();
    }
    RecordValue::parse(name, kind, content).map(|v| v.presentation()).unwrap_or_else(|_| content.to_string())
}

/// The record's content as the PowerDNS API wants it: names absolute, TXT quoted.
fn content(value: &RecordValue) -> String {
    match value {
        RecordValue::Text(text) => RecordValue::txt_chunks(text).iter().map(|chunk| quote_txt(chunk)).collect::<Vec<_>>().join(" "),
        other => other.presentation(),
    }
}

/// One TXT character-string in zone-file syntax: quotes and backslashes escaped, anything
/// outside printable ASCII as `\DDD`.
fn quote_txt(chunk: &[u8]) -> String {
    let mut out = String::with_capacity(chunk.len() + 2);
    out.push('"');
    for &b in chunk {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// The server's explanation: PowerDNS answers errors as `{"error": "…"}`.
fn api_message(body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string());
    if message.len() > MAX_MESSAGE_LEN {
        let cut = (0..=MAX_MESSAGE_LEN).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
        format!("{}…", &message[..cut])
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_content_is_quoted_and_escaped() {
        assert_eq!(quote_txt(br#"v=spf1 "a" \ b"#), r#""v=spf1 \"a\" \\ b""#);
        assert_eq!(quote_txt("é".as_bytes()), r#""\195\169""#);
        let long = "x".repeat(300);
        let c = content(&RecordValue::Text(long));
        assert_eq!(c, format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45)));
    }

    #[test]
    fn api_errors_are_read_from_json_or_quoted_briefly() {
        assert_eq!(api_message(r#"{"error": "RRset a.b. IN CNAME: Conflicts"}"#), "RRset a.b. IN CNAME: Conflicts");
        assert_eq!(api_message("Not Found"), "Not Found");
        assert!(api_message(&"y".repeat(1000)).chars().count() <= MAX_MESSAGE_LEN + 1);
    }
}
