//! The error a step returns: what caused it (which decides whether to try again) and the
//! driver's error with its whole `source()` chain, so the operator sees every cause.
//!
//! Drivers keep their own `thiserror` enums; each says its [`Cause`] through [`Classify`],
//! and `?` turns it into a `StepError` (one conversion, not one per action).

use std::error::Error;
use std::fmt;

use serde::Serialize;

/// Why a step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The device or service could not be reached, or the connection broke.
    Transport,
    /// No answer in time.
    Timeout,
    /// A shared resource was busy (database pool, address pool, device lock).
    Busy,
    /// The device refused the change (authentication, policy, a rejected command).
    Refused,
    /// The change was made but reading it back showed something else, or the server does not
    /// match its declared specification.
    Mismatch,
    /// Something belongs to someone else (another request's port, record, address).
    Conflict,
    /// The step's parameters or the configuration are wrong.
    Invalid,
    /// kolokasi's own storage or bookkeeping failed.
    Internal,
}

impl Cause {
    /// Passing faults are retried inside the step with backoff; the others stop the run.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Transport | Self::Timeout | Self::Busy)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transport => "transport",
            Self::Timeout => "timeout",
            Self::Busy => "busy",
            Self::Refused => "refused",
            Self::Mismatch => "mismatch",
            Self::Conflict => "conflict",
            Self::Invalid => "invalid",
            Self::Internal => "internal",
        }
    }

    /// The cause in the console's language.
    pub fn label_id(self) -> &'static str {
        match self {
            Self::Transport => "gangguan jaringan",
            Self::Timeout => "tidak ada jawaban tepat waktu",
            Self::Busy => "sumber daya sedang sibuk",
            Self::Refused => "ditolak perangkat",
            Self::Mismatch => "hasil tidak sesuai",
            Self::Conflict => "milik permohonan lain",
            Self::Invalid => "parameter atau konfigurasi salah",
            Self::Internal => "kesalahan penyimpanan kolokasi",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Transport, Self::Timeout, Self::Busy, Self::Refused, Self::Mismatch, Self::Conflict, Self::Invalid, Self::Internal]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// A driver error that knows its cause.
pub trait Classify: Error + Send + Sync + 'static {
    fn classify(&self) -> Cause;
}

/// A plain message, for errors kolokasi finds itself (a missing parameter, a failed check).
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}

/// A message that wraps a cause (`context: cause`).
#[derive(Debug)]
struct Context {
    message: String,
    source: Box<dyn Error + Send + Sync>,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for Context {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// What a step's action returns on failure.
#[derive(Debug)]
pub struct StepError {
    cause: Cause,
    error: Box<dyn Error + Send + Sync>,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl Error for StepError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error.source()
    }
}

impl<E: Classify> From<E> for StepError {
    fn from(e: E) -> Self {
        Self { cause: e.classify(), error: Box::new(e) }
    }
}

impl StepError {
    pub fn new(cause: Cause, message: impl Into<String>) -> Self {
        Self { cause, error: Box::new(Message(message.into())) }
    }

    /// Bad parameters or configuration: retrying will not help.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Cause::Invalid, message)
    }

    /// `message`, caused by `source`, classified as `cause`.
    pub fn with_source(cause: Cause, message: impl Into<String>, source: impl Error + Send + Sync + 'static) -> Self {
        Self { cause, error: Box::new(Context { message: message.into(), source: Box::new(source) }) }
    }

    /// The same error with `message` in front (its cause kept).
    pub fn context(self, message: impl Into<String>) -> Self {
        Self { cause: self.cause, error: Box::new(Context { message: message.into(), source: self.error }) }
    }

    pub fn cause(&self) -> Cause {
        self.cause
    }

    pub fn is_retryable(&self) -> bool {
        self.cause.is_retryable()
    }

    /// Every level of the error, outermost first, joined with ": " — a level whose text the
    /// one above already contains is left out, so nothing is said twice.
    pub fn chain(&self) -> String {
        let mut out = self.error.to_string();
        let mut next = self.error.source();
        while let Some(e) = next {
            let text = e.to_string();
            if !text.is_empty() && !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            next = e.source();
        }
        out
    }
}

impl Classify for crate::store::StoreError {
    fn classify(&self) -> Cause {
        use crate::store::StoreError as E;
        match self {
            E::Sql(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed) | E::Busy(_) => Cause::Busy,
            E::Sql(sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_)) => Cause::Transport,
            E::Conflict(_) | E::Claimed { .. } => Cause::Conflict,
            E::NotFound(_) | E::Url(_) | E::AuditKey(_) => Cause::Invalid,
            E::Sql(_) | E::Corrupt(_) => Cause::Internal,
        }
    }
}

impl Classify for crate::service::ServiceError {
    fn classify(&self) -> Cause {
        use crate::service::ServiceError as E;
        match self {
            E::Store(e) => e.classify(),
            E::Conflict(_) => Cause::Conflict,
            _ => Cause::Invalid,
        }
    }
}

impl Classify for super::EngineError {
    fn classify(&self) -> Cause {
        use super::EngineError as E;
        match self {
            E::Store(e) => e.classify(),
            E::Service(e) => e.classify(),
            E::Leased(_) => Cause::Busy,
            E::Corrupt(_) => Cause::Internal,
            E::Playbook(_) | E::Invalid(_) => Cause::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_every_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let e = StepError::with_source(Cause::Transport, "cannot reach fw-1", io).context("firewall step");
        assert_eq!(e.chain(), "firewall step: cannot reach fw-1: connection refused");
        assert!(e.is_retryable());
        assert!(!StepError::invalid("parameter vlan is missing").is_retryable());
    }

    #[test]
    fn a_busy_pool_is_retried() {
        let e: StepError = crate::store::StoreError::Sql(sqlx::Error::PoolTimedOut).into();
        assert_eq!(e.cause(), Cause::Busy);
        assert!(e.is_retryable());
        let e: StepError = crate::store::StoreError::Busy("IP pool dc-v4 is too busy".into()).into();
        assert!(e.is_retryable());
    }
}
