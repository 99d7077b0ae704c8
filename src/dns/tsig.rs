//! TSIG (RFC 8945) for RFC 2136 updates: the key built from its base64 `Secret`, signing an
//! update, and reading the server's verdict on our signature out of its answer.
//!
//! kolokasi signs each update itself and verifies the answer itself instead of handing the
//! signer to hickory-net's stream: when the server rejects the key, its answer is unsigned
//! (NOTAUTH + BADSIG/BADKEY), and hickory's own verifier turns that into an unrelated message
//! about truncated MACs, hiding the response code we need to say what went wrong.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hickory_proto::op::{DnsResponse, Message};
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError};
use hickory_proto::rr::{Name, TSigVerifier, TSigner};

use crate::secrets::Secret;

use super::error::DnsError;

/// Allowed clock difference between kolokasi and the server, in seconds (RFC 8945 suggests 300).
const FUDGE_SECONDS: u16 = 300;

/// A TSIG key ready to sign. Its `Debug` shows the key name and algorithm, never the secret.
#[derive(Clone)]
pub(crate) struct TsigKey {
    signer: TSigner,
    key_name: String,
    algorithm: &'static str,
}

/// What a signed exchange's answer says about our signature.
pub(crate) enum Verdict {
    /// The server accepted our signature and signed its answer; here is the verified answer.
    Verified(DnsResponse),
    /// The server did not accept our key or signature (NOTAUTH, BADSIG, BADKEY).
    KeyRejected,
    /// The server accepted the key but not the signing time (BADTIME).
    ClockSkew,
    /// The answer is unsigned or its signature does not verify.
    Untrusted { reason: String, response: DnsResponse },
}

impl TsigKey {
    pub(crate) fn new(key_name: &str, algorithm: &str, secret: &Secret) -> Result<Self, DnsError> {
        let (tsig_algorithm, algorithm) = match algorithm.trim().trim_end_matches('.').to_ascii_lowercase().as_str() {
            "hmac-sha256" => (TsigAlgorithm::HmacSha256, "hmac-sha256"),
            "hmac-sha384" => (TsigAlgorithm::HmacSha384, "hmac-sha384"),
            "hmac-sha512" => (TsigAlgorithm::HmacSha512, "hmac-sha512"),
            other => {
                return Err(DnsError::Config(format!(
                    "TSIG algorithm {other:?} is not supported: use hmac-sha256, hmac-sha384 or hmac-sha512"
                )));
            }
        };
        let name = Name::from_ascii(key_name.trim())
            .map_err(|e| DnsError::Config(format!("TSIG key name {key_name:?} is not a valid DNS name: {e}")))?;
        // The error from the decoder could quote the input; say only what is wrong.
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret.expose().trim())
            .map_err(|_| DnsError::Config(format!("the secret of TSIG key {key_name:?} is not valid base64")))?;
        if key.is_empty() {
            return Err(DnsError::Config(format!("the secret of TSIG key {key_name:?} is empty")));
        }
        let signer = TSigner::new(key, tsig_algorithm, name, FUDGE_SECONDS)
            .map_err(|e| DnsError::Config(format!("cannot use TSIG key {key_name:?}: {e}")))?;
        Ok(Self { signer, key_name: key_name.trim().to_string(), algorithm })
    }

    pub(crate) fn key_name(&self) -> &str {
        &self.key_name
    }

    /// Signs `message` in place (it must not change afterwards) and returns the verifier for
    /// the answer.
    pub(crate) fn sign(&self, message: &mut Message) -> Result<TSigVerifier, DnsError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        message
            .finalize(&self.signer, now)
            .map_err(|e| DnsError::Config(format!("cannot sign with TSIG key {:?}: {e}", self.key_name)))?
            .ok_or_else(|| DnsError::Config(format!("TSIG key {:?} produced no verifier", self.key_name)))
    }

    /// Reads the server's verdict on our signature. Must run before trusting the response code:
    /// a rejected key comes back as an unsigned NOTAUTH that no verifier accepts.
    pub(crate) fn verdict(mut verifier: TSigVerifier, response: DnsResponse) -> Verdict {
        use hickory_proto::op::ResponseCode;
        match response.signature().map(|sig| sig.data.error) {
            Some(Some(TsigError::BadTime)) => return Verdict::ClockSkew,
            Some(Some(_)) => return Verdict::KeyRejected,
            None if response.response_code == ResponseCode::NotAuth => return Verdict::KeyRejected,
            None => return Verdict::Untrusted { reason: "the answer is not signed".into(), response },
            Some(None) => {}
        }
        match verifier.verify(response.as_buffer()) {
            Ok(verified) => Verdict::Verified(verified),
            Err(e) => Verdict::Untrusted { reason: e.to_string(), response },
        }
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey").field("key_name", &self.key_name).field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}
