//! Playbooks of store-only steps (addresses from the IPAM pools), for the tests of serving,
//! workers, metrics and backup that need real runs but none of the lab's devices. The engine,
//! the run log, the actions and the database are the real ones.
#![allow(dead_code)]

use std::path::Path;

use kolokasi::domain::{RequestForm, RequestId};
use kolokasi::engine::Engine;
use kolokasi::service::{Command, Service};

/// Two address steps; `extra` (YAML step items, indented by two spaces) is appended.
pub fn colocation(extra: &str) -> String {
    format!(
        r#"name: colocation
kind: colocation
description: test
on_success: [hand_over, report_live]
steps:
  - name: address-v4
    action: allocate_address
    with:
      pool: dc-v4
      purpose: server-v4
  - name: address-v6
    action: allocate_address
    with:
      pool: dc-v6
      purpose: server-v6
{extra}"#
    )
}

const HOSTING: &str = r#"name: hosting
kind: hosting
description: test
on_success: [hand_over, report_live]
steps:
  - name: address-v4
    action: allocate_address
    with:
      pool: dc-v4
      purpose: app-v4
"#;

const DECOMMISSION: &str = r#"name: decommission
description: test
on_success: [decommissioned]
steps:
  - name: release-v6
    action: undo_provisioning
    with:
      step: address-v6
  - name: release-v4
    action: undo_provisioning
    with:
      step: address-v4
"#;

/// A folder holding the three playbooks, `colocation` as given.
pub fn dir(colocation: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("colocation.yaml"), colocation).unwrap();
    std::fs::write(dir.path().join("hosting.yaml"), HOSTING).unwrap();
    std::fs::write(dir.path().join("decommission.yaml"), DECOMMISSION).unwrap();
    dir
}

/// An engine over `svc` with the playbooks of `dir` and no device drivers.
pub fn engine(svc: Service, dir: &Path) -> Engine {
    let registry = kolokasi::actions::builtin();
    let playbooks = Engine::load_playbooks(Some(dir), &registry).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(svc, Default::default(), registry, playbooks).unwrap()
}

/// An approved request whose provisioning run has been created (not driven yet).
pub async fn started_run(engine: &Engine, form: RequestForm) -> (RequestId, String) {
    let svc = engine.service();
    let id = super::common::approved_request(svc, form).await;
    svc.apply(&super::common::operator(), &id, Command::StartProvisioning { reason: None }).await.unwrap_or_else(|e| panic!("{e:?}"));
    let run = format!("{id}/colocation");
    svc.store.run(&run).await.unwrap();
    (id, run)
}
