//! The RFC 2136 driver (BIND, Knot, Windows DNS): dynamic updates over UDP, signed with TSIG,
//! through hickory-net's client and hickory-proto's `update_message` helpers.
//!
//! A replace is one update message that deletes the rrset and adds the new records, so the
//! server applies it atomically; the conditional forms (`replace_if`, `delete_if`) carry RFC 2136
//! §2.4 prerequisites in the same message, so the check and the change are one step on the
//! server (YXRRSET / NXRRSET answers become `DnsError::Conflict`). Every answer is checked: a
//! refused update arrives as a normal response, not as an error, and only its response code
//! (and TSIG error) says so.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_net::NetError;
use hickory_net::client::Client;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use hickory_proto::op::{DnsRequest, Message, ResponseCode, UpdateMessage, update_message};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record};

use crate::domain::Fqdn;
use crate::secrets::Secret;

use super::error::DnsError;
use super::records::{RecordKind, RecordSet, ensure_within};
use super::tsig::{TsigKey, Verdict};
use super::value::RecordValue;
use super::verify::{ReadBack, record_type};

/// How to reach an RFC 2136 primary. The secret is the base64 TSIG key (as in `tsig-keygen`).
#[derive(Debug, Clone)]
pub struct Rfc2136Config {
    pub server: SocketAddr,
    pub key_name: String,
    /// `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub algorithm: String,
    pub secret: Secret,
    /// The longest any one update or read-back may take, retries included.
    pub timeout: Duration,
}

/// An RFC 2136 provider. `Debug` shows the server and key name, never the secret.
#[derive(Debug, Clone)]
pub struct Rfc2136 {
    server: SocketAddr,
    key: TsigKey,
    timeout: Duration,
    read_back: ReadBack,
}

impl Rfc2136 {
    pub fn new(cfg: Rfc2136Config) -> Result<Self, DnsError> {
        if cfg.timeout.is_zero() {
            return Err(DnsError::Config("the RFC 2136 timeout must be longer than zero".into()));
        }
        let key = TsigKey::new(&cfg.key_name, &cfg.algorithm, &cfg.secret)?;
        Ok(Self { server: cfg.server, key, timeout: cfg.timeout, read_back: ReadBack::new(cfg.server, cfg.timeout) })
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Makes (name, kind) hold exactly `set.values`; an empty `values` removes the rrset.
    pub async fn replace(&self, zone: &Fqdn, set: &RecordSet) -> Result<(), DnsError> {
        ensure_within(&set.name, zone)?;
        let values = set.parsed_values()?;
        let owner = wire_name(&set.name)?;
        let mut message = delete_rrset_message(zone, &owner, set.kind)?;
        // The delete and the adds travel in one message; the server applies it all or nothing.
        for value in &values {
            message.add_update(Record::from_rdata(owner.clone(), set.ttl, rdata(set.kind, value)?));
        }
        self.send(zone, message).await
    }

    /// Removes the rrset (name, kind) and nothing else; an absent rrset is not an error.
    pub async fn delete(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind) -> Result<(), DnsError> {
        ensure_within(name, zone)?;
        let message = delete_rrset_message(zone, &wire_name(name)?, kind)?;
        self.send(zone, message).await
    }

    /// Like `replace`, but only if (name, kind) now holds exactly `expected` (none: the rrset
    /// must not exist). The check travels in the update itself as RFC 2136 §2.4
    /// prerequisites ("RRset does not exist" or "RRset exists (value dependent)"), so the
    /// server applies the change only if nobody changed the rrset meanwhile; otherwise the
    /// answer is `Conflict` with what the rrset holds now.
    pub async fn replace_if(&self, zone: &Fqdn, set: &RecordSet, expected: &[String]) -> Result<(), DnsError> {
        ensure_within(&set.name, zone)?;
        let values = set.parsed_values()?;
        let owner = wire_name(&set.name)?;
        let mut message = delete_rrset_message(zone, &owner, set.kind)?;
        add_prerequisites(&mut message, &set.name, &owner, set.kind, expected)?;
        for value in &values {
            message.add_update(Record::from_rdata(owner.clone(), set.ttl, rdata(set.kind, value)?));
        }
        self.send_conditional(zone, message, &set.name, set.kind, expected).await
    }

    /// Removes (name, kind) only if it holds exactly `expected`; otherwise `Conflict`.
    pub async fn delete_if(&self, zone: &Fqdn, name: &Fqdn, kind: RecordKind, expected: &[String]) -> Result<(), DnsError> {
        ensure_within(name, zone)?;
        let owner = wire_name(name)?;
        let mut message = delete_rrset_message(zone, &owner, kind)?;
        add_prerequisites(&mut message, name, &owner, kind, expected)?;
        self.send_conditional(zone, message, name, kind, expected).await
    }

    async fn send_conditional(&self, zone: &Fqdn, message: Message, name: &Fqdn, kind: RecordKind, expected: &[String]) -> Result<(), DnsError> {
        match self.send_code(message).await? {
            // A prerequisite failed: the rrset exists when it should not, or differs.
            ResponseCode::YXRRSet | ResponseCode::NXRRSet => {
                let found = self.read_back.read(name, kind).await?;
                Err(DnsError::Conflict { server: self.server.to_string(), name: name.clone(), kind, expected: expected.to_vec(), found })
            }
            code => check_response_code(code, self.server.to_string(), zone),
        }
    }

    /// The rrset as the server answers now (see `verify::ReadBack`).
    pub async fn read(&self, name: &Fqdn, kind: RecordKind) -> Result<Vec<String>, DnsError> {
        self.read_back.read(name, kind).await
    }

    pub(crate) fn read_back(&self) -> &ReadBack {
        &self.read_back
    }

    async fn send(&self, zone: &Fqdn, message: Message) -> Result<(), DnsError> {
        let code = self.send_code(message).await?;
        check_response_code(code, self.server.to_string(), zone)
    }

    /// Sends a signed update; the server's response code once the answer's signature checks.
    async fn send_code(&self, mut message: Message) -> Result<ResponseCode, DnsError> {
        let server = self.server.to_string();
        let verifier = self.key.sign(&mut message)?;

        // The message is signed before it reaches the client, so it must keep its id: the UDP
        // stream (unlike the TCP multiplexer) sends the message exactly as given.
        let stream = UdpClientStream::builder(self.server, TokioRuntimeProvider::new()).with_timeout(Some(self.timeout)).build();
        let (client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
        let background = tokio::spawn(background);
        // hickory's own timeout covers the exchange; this one also bounds anything around it.
        let answer = tokio::time::timeout(self.timeout, client.send(DnsRequest::from(message)).first_answer()).await;
        drop(client);
        background.abort();

        let response = match answer {
            Err(_) | Ok(Err(NetError::Timeout)) => return Err(DnsError::Timeout { server }),
            Ok(Err(e @ (NetError::Io(_) | NetError::NoConnections))) => {
                return Err(DnsError::Unreachable { server, source: Box::new(e) });
            }
            Ok(Err(e)) => return Err(DnsError::Protocol { server, source: Box::new(e) }),
            Ok(Ok(response)) => response,
        };
        let code = match TsigKey::verdict(verifier, response) {
            Verdict::Verified(response) => response.response_code,
            Verdict::KeyRejected => return Err(DnsError::Auth { server, key_name: self.key.key_name().to_string() }),
            Verdict::ClockSkew => return Err(DnsError::ClockSkew { server }),
            // An unsigned failure is still a failure; only an unsigned success cannot be trusted.
            Verdict::Untrusted { response, .. } if response.response_code != ResponseCode::NoError => response.response_code,
            Verdict::Untrusted { reason, .. } => return Err(DnsError::UnsignedAnswer { server, reason }),
        };
        Ok(code)
    }
}

fn check_response_code(code: ResponseCode, server: String, zone: &Fqdn) -> Result<(), DnsError> {
    let zone = zone.clone();
    match code {
        ResponseCode::NoError => Ok(()),
        ResponseCode::Refused => Err(DnsError::Refused { server, zone }),
        ResponseCode::NotAuth => Err(DnsError::NotAuthoritative { server, zone }),
        ResponseCode::NotZone => Err(DnsError::NotZone { server, zone }),
        ResponseCode::ServFail => Err(DnsError::ServerFailure { server }),
        other => Err(DnsError::Rejected { server, zone, rcode: other.to_string() }),
    }
}

fn wire_name(name: &Fqdn) -> Result<Name, DnsError> {
    // An `Fqdn` is already a valid host name, so this only fails on a hickory bug.
    Name::from_ascii(name.to_absolute()).map_err(|e| DnsError::Config(format!("{name} is not a valid DNS name: {e}")))
}

fn delete_rrset_message(zone: &Fqdn, owner: &Name, kind: RecordKind) -> Result<Message, DnsError> {
    let zone = wire_name(zone)?;
    Ok(update_message::delete_rrset(Record::update0(owner.clone(), 0, record_type(kind)), zone, true))
}

/// RFC 2136 §2.4.3 "RRset does not exist" (class NONE, no data) for no `expected` values,
/// else §2.4.2 "RRset exists (value dependent)": every expected record, class IN, TTL 0; the
/// server compares the whole rrset.
fn add_prerequisites(message: &mut Message, name: &Fqdn, owner: &Name, kind: RecordKind, expected: &[String]) -> Result<(), DnsError> {
    if expected.is_empty() {
        let mut absent = Record::update0(owner.clone(), 0, record_type(kind));
        absent.dns_class = DNSClass::NONE;
        message.add_pre_requisite(absent);
        return Ok(());
    }
    for value in expected {
        let value = RecordValue::parse(name, kind, value)?;
        message.add_pre_requisite(Record::from_rdata(owner.clone(), 0, rdata(kind, &value)?));
    }
    Ok(())
}

fn rdata(kind: RecordKind, value: &RecordValue) -> Result<RData, DnsError> {
    Ok(match value {
        RecordValue::V4(a) => RData::A(A(*a)),
        RecordValue::V6(a) => RData::AAAA(AAAA(*a)),
        RecordValue::Name(target) if kind == RecordKind::Ptr => RData::PTR(PTR(wire_name(target)?)),
        RecordValue::Name(target) => RData::CNAME(CNAME(wire_name(target)?)),
        RecordValue::Text(text) => RData::TXT(TXT::from_bytes(RecordValue::txt_chunks(text))),
    })
}
