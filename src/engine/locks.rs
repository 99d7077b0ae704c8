//! Per-device serialisation: two runs never interleave their changes on one switch or
//! firewall; runs on different devices go in parallel.
//!
//! In one process a mutex per device name does it. Several `serve` processes on PostgreSQL
//! also take a session advisory lock keyed by the device name for the step's duration.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::store::{AdvisoryLocks, Store, StoreError};

#[derive(Default, Clone)]
pub struct DeviceLocks {
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl DeviceLocks {
    /// Locks all `devices` in name order (a fixed order cannot deadlock).
    pub async fn lock(&self, devices: &[String]) -> Vec<OwnedMutexGuard<()>> {
        let mut names: Vec<&String> = devices.iter().collect();
        names.sort();
        names.dedup();
        let mut guards = Vec::with_capacity(names.len());
        for name in names {
            let m = self.locks.lock().expect("lock map").entry(name.clone()).or_default().clone();
            guards.push(m.lock_owned().await);
        }
        guards
    }
}

/// A stable 64-bit key for PostgreSQL advisory locks.
pub fn advisory_key(device: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("kolokasi-device:{device}").as_bytes());
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Held while a step changes its devices: the in-process locks and, on PostgreSQL, the
/// advisory locks of every device across processes.
pub struct DeviceGuard {
    _local: Vec<OwnedMutexGuard<()>>,
    shared: Option<AdvisoryLocks>,
}

impl DeviceGuard {
    /// Releases the devices now: the advisory locks first (explicitly, see
    /// [`AdvisoryLocks::release`]), then the in-process locks.
    pub async fn release(mut self) {
        if let Some(shared) = self.shared.take() {
            shared.release().await;
        }
    }
}

impl DeviceLocks {
    /// Locks `devices` in this process and, on PostgreSQL, across every kolokasi process.
    pub async fn acquire(&self, store: &Store, devices: &[String]) -> Result<DeviceGuard, StoreError> {
        let local = self.lock(devices).await;
        let mut names: Vec<&String> = devices.iter().collect();
        names.sort();
        names.dedup();
        let keys: Vec<i64> = names.into_iter().map(|n| advisory_key(n)).collect();
        let shared = store.advisory_locks(&keys).await?;
        Ok(DeviceGuard { _local: local, shared })
    }
}
