//! The audit chain's own keys: HMAC-SHA256 keys for row MACs and Ed25519 keys for checkpoints,
//! each sealed under the master key in `audit_keys` and made on first use.
//!
//! A key row's sealing context names its purpose, id and `first_seq` (the first row it may
//! sign), so editing any of them makes the key not open. A master-key rotation re-seals every
//! key, retires the current ones and makes new ones: old rows keep verifying with the old keys.
//! Nothing here prints a key: [`AuditKeys`]'s `Debug` shows ids only.

use std::collections::BTreeMap;
use std::fmt;

use ed25519_dalek::SigningKey;
use rand::RngCore;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use crate::secrets::{CipherError, MasterKey, Sealed, Secret};
use crate::store::micros;

#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    #[error("audit key {key_id} does not open under the master key (another key, or the row was altered)")]
    Open {
        key_id: String,
        #[source]
        source: CipherError,
    },
    #[error("audit key {0} is malformed")]
    Malformed(String),
    #[error("the audit chain is keyed: writing to it or taking a checkpoint needs the master key")]
    NoMasterKey,
}

const MAC: &str = "mac";
const CHECKPOINT: &str = "checkpoint";

/// One HMAC key; zeroed when dropped.
pub(crate) struct MacKey {
    pub bytes: [u8; 32],
    pub first_seq: i64,
}

impl Drop for MacKey {
    fn drop(&mut self) {
        self.bytes = [0; 32];
    }
}

/// The opened audit keys, current and retired.
pub struct AuditKeys {
    pub(crate) mac: BTreeMap<String, MacKey>,
    pub(crate) mac_current: String,
    pub(crate) signing: BTreeMap<String, SigningKey>,
    pub(crate) signing_current: String,
}

impl fmt::Debug for AuditKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKeys(mac={:?}, signing={:?}, [redacted])", self.mac.keys().collect::<Vec<_>>(), self.signing.keys().collect::<Vec<_>>())
    }
}

impl AuditKeys {
    /// No keys at all: every MAC is unknown, no row needs one.
    pub(crate) fn empty() -> Self {
        Self { mac: BTreeMap::new(), mac_current: String::new(), signing: BTreeMap::new(), signing_current: String::new() }
    }

    /// Whether there is a current MAC key and a current checkpoint key.
    pub(crate) fn complete(&self) -> bool {
        self.mac.contains_key(&self.mac_current) && self.signing.contains_key(&self.signing_current)
    }

    pub(crate) fn mac_key(&self, key_id: &str) -> Option<&MacKey> {
        self.mac.get(key_id)
    }

    /// The first row any MAC key may sign: rows from here on must carry a MAC.
    pub fn first_keyed_seq(&self) -> i64 {
        self.mac.values().map(|k| k.first_seq).min().unwrap_or(i64::MAX)
    }

    pub(crate) fn current_mac(&self) -> (&str, &[u8; 32]) {
        (&self.mac_current, &self.mac[&self.mac_current].bytes)
    }

    pub(crate) fn current_signing(&self) -> (&str, &SigningKey) {
        (&self.signing_current, &self.signing[&self.signing_current])
    }

    /// Hex public keys of every checkpoint key this store ever used, by key id.
    pub fn checkpoint_public_keys(&self) -> BTreeMap<String, String> {
        self.signing.iter().map(|(id, k)| (id.clone(), hex::encode(k.verifying_key().as_bytes()))).collect()
    }
}

fn context(purpose: &str, key_id: &str, first_seq: i64) -> String {
    format!("audit-key/{purpose}/{key_id}/{first_seq}")
}

fn random_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b
}

fn random_id() -> String {
    let mut b = [0u8; 4];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A stored key row.
struct KeyRow {
    key_id: String,
    purpose: String,
    sealed: Sealed,
    first_seq: i64,
    retired: bool,
}

async fn rows(conn: &mut AnyConnection) -> Result<Vec<KeyRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT key_id, purpose, sealed, first_seq, retired_at FROM audit_keys ORDER BY created_at, key_id").fetch_all(&mut *conn).await?;
    Ok(rows
        .iter()
        .map(|r| KeyRow { key_id: r.get(0), purpose: r.get(1), sealed: Sealed::from_stored(r.get(2)), first_seq: r.get(3), retired: r.get::<Option<i64>, _>(4).is_some() })
        .collect())
}

/// Whether the store holds any audit key (then rows must be MAC'd).
pub(crate) async fn any_keys(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 FROM audit_keys LIMIT 1").fetch_optional(&mut *conn).await?.is_some())
}

fn open(master: &MasterKey, row: &KeyRow) -> Result<[u8; 32], AuditKeyError> {
    let secret = master
        .open(&row.sealed, &context(&row.purpose, &row.key_id, row.first_seq))
        .map_err(|source| AuditKeyError::Open { key_id: row.key_id.clone(), source })?;
    hex::decode(secret.expose()).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| AuditKeyError::Malformed(row.key_id.clone()))
}

async fn insert(conn: &mut AnyConnection, master: &MasterKey, purpose: &str, first_seq: i64) -> Result<(), sqlx::Error> {
    let key_id = random_id();
    let bytes = random_bytes();
    let public = (purpose == CHECKPOINT).then(|| hex::encode(SigningKey::from_bytes(&bytes).verifying_key().as_bytes()));
    let sealed = master.seal(&Secret::new(hex::encode(bytes)), &context(purpose, &key_id, first_seq));
    sqlx::query("INSERT INTO audit_keys (key_id, purpose, sealed, public_key, first_seq, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&key_id)
        .bind(purpose)
        .bind(sealed.as_stored())
        .bind(public)
        .bind(first_seq)
        .bind(micros(OffsetDateTime::now_utc()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn next_seq(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query("SELECT seq FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?.get::<i64, _>(0) + 1)
}

/// Opens every stored key (current ones possibly missing: see [`AuditKeys::complete`]).
fn assemble(master: &MasterKey, rows: &[KeyRow]) -> Result<AuditKeys, AuditKeyError> {
    let mut keys = AuditKeys::empty();
    for row in rows {
        let bytes = open(master, row)?;
        if row.purpose == MAC {
            keys.mac.insert(row.key_id.clone(), MacKey { bytes, first_seq: row.first_seq });
            if !row.retired {
                keys.mac_current = row.key_id.clone();
            }
        } else {
            keys.signing.insert(row.key_id.clone(), SigningKey::from_bytes(&bytes));
            if !row.retired {
                keys.signing_current = row.key_id.clone();
            }
        }
    }
    Ok(keys)
}

/// Loads the keys, making any missing current one. The caller holds the audit-chain lock.
pub(crate) async fn load_or_create(conn: &mut AnyConnection, master: &MasterKey) -> Result<AuditKeys, crate::store::StoreError> {
    let stored = rows(conn).await?;
    let keys = assemble(master, &stored)?;
    if keys.complete() {
        return Ok(keys);
    }
    let first_seq = next_seq(conn).await?;
    for purpose in [MAC, CHECKPOINT] {
        if !stored.iter().any(|r| r.purpose == purpose && !r.retired) {
            insert(conn, master, purpose, first_seq).await?;
        }
    }
    let keys = assemble(master, &rows(conn).await?)?;
    debug_assert!(keys.complete(), "both current keys were just made");
    Ok(keys)
}

/// Loads the keys without making any (verifying a restored or foreign store).
pub(crate) async fn load(conn: &mut AnyConnection, master: &MasterKey) -> Result<Option<AuditKeys>, crate::store::StoreError> {
    let stored = rows(conn).await?;
    if stored.is_empty() {
        return Ok(None);
    }
    Ok(Some(assemble(master, &stored)?))
}

/// Re-seals every audit key under `new`, retires the current ones and makes new current ones
/// (first used from the next row). Returns how many keys were re-sealed. In the caller's
/// transaction, which holds the audit-chain lock.
pub(crate) async fn rotate(conn: &mut AnyConnection, old: &MasterKey, new: &MasterKey) -> Result<usize, crate::store::StoreError> {
    let stored = rows(conn).await?;
    for row in &stored {
        let bytes = open(old, row)?;
        let sealed = new.seal(&Secret::new(hex::encode(bytes)), &context(&row.purpose, &row.key_id, row.first_seq));
        sqlx::query("UPDATE audit_keys SET sealed = $1 WHERE key_id = $2").bind(sealed.as_stored()).bind(&row.key_id).execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE audit_keys SET retired_at = $1 WHERE retired_at IS NULL").bind(micros(OffsetDateTime::now_utc())).execute(&mut *conn).await?;
    let first_seq = next_seq(conn).await?;
    for purpose in [MAC, CHECKPOINT] {
        insert(conn, new, purpose, first_seq).await?;
    }
    Ok(stored.len())
}

/// The stored (unauthenticated) public keys of the checkpoint keys, for a verifier without the
/// master key.
pub(crate) async fn stored_public_keys(conn: &mut AnyConnection) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let rows = sqlx::query("SELECT key_id, public_key FROM audit_keys WHERE purpose = 'checkpoint'").fetch_all(&mut *conn).await?;
    Ok(rows.iter().filter_map(|r| Some((r.get::<String, _>(0), r.get::<Option<String>, _>(1)?))).collect())
}
