//! The built-in actions, one file each, and the registry that names them for playbooks.

mod allocate_address;
mod dns_records;
mod gate;
mod undo_provisioning;

pub use allocate_address::AllocateAddress;
pub use dns_records::DnsRecords;
pub use gate::Gate;
pub use undo_provisioning::UndoProvisioning;

use crate::engine::Registry;

/// Every action a playbook may name.
pub fn builtin() -> Registry {
    let mut r = Registry::default();
    r.register(AllocateAddress).register(DnsRecords).register(Gate).register(UndoProvisioning);
    r
}
