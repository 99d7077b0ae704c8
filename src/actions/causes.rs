//! What caused a driver's error, for [`StepError`](crate::engine::StepError): one place that
//! classifies every driver error, instead of one conversion per action. Drivers stay unaware
//! of the engine; the actions that use them know both.

use crate::engine::{Cause, Classify};

/// A fault the driver itself calls passing is a transport fault; anything else was refused.
fn by_retry(retryable: bool) -> Cause {
    if retryable { Cause::Transport } else { Cause::Refused }
}

impl Classify for crate::ssh::SshError {
    fn classify(&self) -> Cause {
        use crate::ssh::SshError as E;
        match self {
            E::ConnectTimeout { .. } | E::CommandTimeout { .. } => Cause::Timeout,
            E::HostKeyChanged { .. } | E::LoginRefused { .. } => Cause::Refused,
            E::PrivateKey { .. } | E::BadHostKey(_) => Cause::Invalid,
            other => by_retry(other.is_retryable()),
        }
    }
}

impl Classify for crate::dns::DnsError {
    fn classify(&self) -> Cause {
        use crate::dns::DnsError as E;
        match self {
            E::Timeout { .. } => Cause::Timeout,
            E::Mismatch { .. } => Cause::Mismatch,
            E::Conflict { .. } => Cause::Conflict,
            E::OutsideZone { .. } | E::NoZone { .. } | E::InvalidValue { .. } | E::Config(_) => Cause::Invalid,
            other => by_retry(other.is_retryable()),
        }
    }
}

impl Classify for crate::switch::SwitchError {
    fn classify(&self) -> Cause {
        use crate::switch::SwitchError as E;
        match self {
            E::Ssh(e) => e.classify(),
            E::OvsdbTimeout { .. } => Cause::Timeout,
            E::PortHeld { .. } => Cause::Conflict,
            E::Verify { .. } => Cause::Mismatch,
            E::Value(_) | E::PortMissing { .. } => Cause::Invalid,
            other => by_retry(other.is_retryable()),
        }
    }
}

impl Classify for crate::firewall::FirewallError {
    fn classify(&self) -> Cause {
        use crate::firewall::FirewallError as E;
        match self {
            E::Ssh(e) => e.classify(),
            E::OtherRequest { .. } | E::AddressTaken { .. } => Cause::Conflict,
            E::Rule(_) => Cause::Invalid,
            other => by_retry(other.is_retryable()),
        }
    }
}

impl Classify for crate::inspect::InspectError {
    fn classify(&self) -> Cause {
        use crate::inspect::InspectError as E;
        match self {
            E::Ssh(e) => e.classify(),
            other => by_retry(other.is_retryable()),
        }
    }
}

impl Classify for crate::notify::NotifyError {
    fn classify(&self) -> Cause {
        use crate::notify::NotifyError as E;
        match self {
            E::Store(e) => e.classify(),
            E::Config(_) => Cause::Invalid,
            other => by_retry(other.is_retryable()),
        }
    }
}

impl Classify for crate::hosting::HostingError {
    fn classify(&self) -> Cause {
        use crate::hosting::HostingError as E;
        match self {
            E::Held { .. } => Cause::Conflict,
            E::Verify { .. } => Cause::Mismatch,
            E::NotBuilt | E::Config(_) | E::Plan(_) => Cause::Invalid,
            E::Api { code: 409, .. } => Cause::Busy,
            other => by_retry(other.is_retryable()),
        }
    }
}
