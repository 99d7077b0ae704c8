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

use crate::engine::{Engine, Registry};

/// Every action a playbook may name.
pub fn builtin() -> Registry {
    let mut r = Registry::default();
    r.register(AllocateAddress).register(DnsRecords).register(FirewallRules).register(Gate).register(InspectServer).register(Notify).register(KubernetesApp).register(SwitchPort).register(UndoProvisioning);
    r
}

/// An engine that only records operators' controls (retry, skip, unwind, resolve): no
/// drivers, the built-in actions and playbooks; the workers carry the controls out.
pub fn controls_engine(service: crate::service::Service) -> Engine {
    let registry = builtin();
    let playbooks = Engine::load_playbooks(None, &registry).expect("the built-in playbooks are valid");
    Engine::new(service, crate::engine::Drivers::default(), registry, playbooks).expect("the built-in playbooks are complete")
}
