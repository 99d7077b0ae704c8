//! The SOP as a lifecycle: states and the one transition function ([`state`]), the roles that
//! may move a request ([`roles`]), and the service-level clock ([`sla`]).

pub mod roles;
pub mod sla;
pub mod state;

pub use roles::{Actor, ActorError, Role, UnknownRole};
pub use sla::{Calendar, SlaStatus};
pub use state::{EventKind, State, TransitionError, next_state};
