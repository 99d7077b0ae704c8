//! `RunId`: one run of one playbook for one request, written `KLK-2026-00042/colocation`.
//!
//! The one place a run's id is put together or taken apart: the run log, the API's and the
//! console's links and the CLI all name runs this way.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::RequestId;

/// Longest playbook name a run id may carry.
const MAX_PLAYBOOK: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId {
    request: RequestId,
    playbook: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a run id; they look like KLK-2026-00042/colocation")]
pub struct RunIdError(pub String);

impl RunId {
    /// The run of `playbook` for `request`. The playbook name is the engine's own (checked
    /// when the playbook is loaded, see [`RunId::valid_playbook`]).
    pub fn new(request: &RequestId, playbook: &str) -> Self {
        Self { request: request.clone(), playbook: playbook.to_string() }
    }

    pub fn parse(input: &str) -> Result<Self, RunIdError> {
        let err = || RunIdError(input.to_string());
        let (request, playbook) = input.trim().split_once('/').ok_or_else(err)?;
        let request = RequestId::parse(request).map_err(|_| err())?;
        if !Self::valid_playbook(playbook) {
            return Err(err());
        }
        Ok(Self { request, playbook: playbook.to_string() })
    }

    /// A playbook name a run id can carry: 1 to 64 of `a-z 0-9 - _`.
    pub fn valid_playbook(name: &str) -> bool {
        !name.is_empty() && name.len() <= MAX_PLAYBOOK && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }

    pub fn request(&self) -> &RequestId {
        &self.request
    }

    pub fn playbook(&self) -> &str {
        &self.playbook
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.request, self.playbook)
    }
}

impl std::str::FromStr for RunId {
    type Err = RunIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

crate::domain::text_form!(RunId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_a_run() {
        let id = RunId::parse("KLK-2026-00042/colocation").unwrap();
        assert_eq!((id.request().as_str(), id.playbook()), ("KLK-2026-00042", "colocation"));
        assert_eq!(id.to_string(), "KLK-2026-00042/colocation");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"KLK-2026-00042/colocation\"");
        assert_eq!(serde_json::from_str::<RunId>("\"klk-2026-00042/decommission\"").unwrap().request().as_str(), "KLK-2026-00042");
        for bad in ["KLK-2026-00042", "KLK-2026-00042/", "/colocation", "x/colocation", "KLK-2026-00042/Colo", "KLK-2026-00042/a/b", "KLK-2026-00042/a b"] {
            assert!(RunId::parse(bad).is_err(), "{bad}");
        }
    }
}
