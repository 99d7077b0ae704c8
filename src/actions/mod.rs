//! The built-in actions, one file each, and the registry that names them for playbooks.

mod allocate_address;
mod causes;
mod dns_records;
mod firewall_rules;
mod gate;
mod inspect_server;
mod notify;
mod kubernetes_app;
mod switch_port;
mod undo_provisioning;

pub use allocate_address::AllocateAddress;
pub use dns_records::DnsRecords;
pub use firewall_rules::FirewallRules;
pub use gate::Gate;
pub use inspect_server::InspectServer;
pub use notify::Notify;
pub use kubernetes_app::KubernetesApp;
pub use switch_port::SwitchPort;
pub use undo_provisioning::UndoProvisioning;

use crate::engine::Registry;

/// Every action a playbook may name.
pub fn builtin() -> Registry {
    let mut r = Registry::default();
    r.register(AllocateAddress).register(DnsRecords).register(FirewallRules).register(Gate).register(InspectServer).register(Notify).register(KubernetesApp).register(SwitchPort).register(UndoProvisioning);
    r
}
