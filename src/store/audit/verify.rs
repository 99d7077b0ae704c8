//! Walking the chain, streaming (one row in memory at a time): v1 hashes, v2 digests, links and
//! MACs, the head, and any signed checkpoints kept outside the database.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::chain::{self, Canonical};
use super::keys::AuditKeys;
use super::{COLUMNS, ChainBreak, Checkpoint};
use crate::store::StoreError;

/// What `audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub rows: i64,
    pub v1_rows: i64,
    /// v2 rows whose MAC was checked.
    pub keyed_rows: i64,
    /// v2 rows without a MAC (written before the store had an audit key).
    pub unkeyed_rows: i64,
    /// False when the master key is unknown here: only hashes and links were checked.
    pub macs_checked: bool,
    pub head_seq: i64,
    pub head_hash: String,
    pub checkpoints_checked: usize,
    /// The first problem, if any.
    pub broken: Option<ChainBreak>,
}

fn problem(seq: i64, text: impl Into<String>) -> ChainBreak {
    ChainBreak { seq, problem: text.into() }
}

/// The chain state between rows.
struct Walker<'a> {
    keys: Option<&'a AuditKeys>,
    checkpoints: Vec<&'a Checkpoint>,
    next_checkpoint: usize,
    prev: String,
    expected_seq: i64,
    report: VerifyReport,
}

impl<'a> Walker<'a> {
    fn new(keys: Option<&'a AuditKeys>, checkpoints: &'a [Checkpoint]) -> Self {
        let mut sorted: Vec<&Checkpoint> = checkpoints.iter().collect();
        sorted.sort_by_key(|c| c.seq);
        let report = VerifyReport {
            rows: 0,
            v1_rows: 0,
            keyed_rows: 0,
            unkeyed_rows: 0,
            macs_checked: keys.is_some(),
            head_seq: 0,
            head_hash: String::new(),
            checkpoints_checked: 0,
            broken: None,
        };
        let mut walker = Self { keys, checkpoints: sorted, next_checkpoint: 0, prev: "genesis".into(), expected_seq: 1, report };
        walker.pass_checkpoints(0, "genesis").ok();
        walker
    }

    /// Checks every checkpoint of row `seq` against its hash.
    fn pass_checkpoints(&mut self, seq: i64, hash: &str) -> Result<(), ChainBreak> {
        while let Some(cp) = self.checkpoints.get(self.next_checkpoint).filter(|c| c.seq <= seq) {
            if cp.seq == seq && cp.hash != hash {
                return Err(problem(seq, format!("row {seq} differs from the signed checkpoint of {}: the chain was rewritten at or before this row", cp.at)));
            }
            self.report.checkpoints_checked += 1;
            self.next_checkpoint += 1;
        }
        Ok(())
    }

    fn check_mac(&mut self, seq: i64, hash: &str, mac: &str, key_id: &str) -> Result<(), ChainBreak> {
        let Some(keys) = self.keys else { return Ok(()) };
        if mac.is_empty() {
            if seq >= keys.first_keyed_seq() {
                return Err(problem(seq, "row has no MAC but the chain is keyed from an earlier row (forged or rewritten without the key)"));
            }
            self.report.unkeyed_rows += 1;
            return Ok(());
        }
        let Some(key) = keys.mac_key(key_id) else {
            return Err(problem(seq, format!("row's MAC names audit key {key_id:?}, which this store does not hold (forged)")));
        };
        if !chain::mac_matches(&key.bytes, hash, mac) {
            return Err(problem(seq, "row's MAC does not match its hash (rewritten by someone without the audit key)"));
        }
        self.report.keyed_rows += 1;
        Ok(())
    }

    fn row(&mut self, r: &sqlx::any::AnyRow) -> Result<(), ChainBreak> {
        let seq: i64 = r.get(0);
        let expected = self.expected_seq;
        if seq != expected {
            return Err(problem(expected, format!("row {expected} is missing (next row is {seq})")));
        }
        let stored_prev: String = r.get(9);
        if stored_prev != self.prev {
            return Err(problem(seq, "row does not link to the previous row (reordered or a row was replaced)"));
        }
        let texts: [Option<String>; 4] = [r.get(4), r.get(6), r.get(7), r.get(8)];
        let (actor, role, action): (String, String, String) = (r.get(2), r.get(3), r.get(5));
        let c = Canonical {
            seq,
            at: r.get(1),
            actor: &actor,
            role: &role,
            request_id: texts[0].as_deref(),
            action: &action,
            reason: texts[1].as_deref(),
            before: texts[2].as_deref(),
            after: texts[3].as_deref(),
        };
        let stored: String = r.get(10);
        if r.get::<i64, _>(11) < 2 {
            if chain::v1_hash(&stored_prev, &c) != stored {
                return Err(problem(seq, "row content does not match its hash (edited)"));
            }
            self.report.v1_rows += 1;
        } else {
            let digest: String = r.get(12);
            if chain::digest(&c) != digest {
                return Err(problem(seq, "row content does not match its digest (edited)"));
            }
            if chain::link_hash(&stored_prev, seq, &digest) != stored {
                return Err(problem(seq, "row hash does not match its digest and link (edited)"));
            }
            self.check_mac(seq, &stored, &r.get::<String, _>(13), &r.get::<String, _>(14))?;
        }
        self.pass_checkpoints(seq, &stored)?;
        self.prev = stored;
        self.expected_seq += 1;
        self.report.rows += 1;
        Ok(())
    }

    /// After the last row: the head must name it, and no checkpoint may lie beyond it.
    fn finish(&mut self, head_seq: i64, head_hash: String) -> Result<(), ChainBreak> {
        let last = self.expected_seq - 1;
        self.report.head_seq = head_seq;
        self.report.head_hash = head_hash.clone();
        if let Some(cp) = self.checkpoints.get(self.next_checkpoint) {
            return Err(problem(last + 1, format!("the table ends at row {last} but the signed checkpoint of {} holds row {}: the tail was cut off", cp.at, cp.seq)));
        }
        if head_seq != last || head_hash != self.prev {
            return Err(problem(head_seq, format!("the chain head says row {head_seq} but the table ends at row {last}")));
        }
        Ok(())
    }
}

/// Each checkpoint's signature, by a key this store knows (`known`: key id → hex public key).
fn check_signatures(checkpoints: &[Checkpoint], known: &BTreeMap<String, String>) -> Result<(), ChainBreak> {
    for cp in checkpoints {
        if known.get(&cp.key_id) != Some(&cp.public_key) {
            return Err(problem(cp.seq, format!("the checkpoint of {} for row {} is signed by a key this store never had ({})", cp.at, cp.seq, cp.key_id)));
        }
        if let Err(e) = cp.verify_signature(None) {
            return Err(problem(cp.seq, format!("the checkpoint of {} for row {}: {e}", cp.at, cp.seq)));
        }
    }
    Ok(())
}

/// Walks the chain on `conn`; MACs are checked when `keys` is given.
pub(crate) async fn walk(conn: &mut AnyConnection, keys: Option<&AuditKeys>, checkpoints: &[Checkpoint]) -> Result<VerifyReport, StoreError> {
    let known = match keys {
        Some(k) => k.checkpoint_public_keys(),
        None => super::keys::stored_public_keys(conn).await?,
    };
    let mut walker = Walker::new(keys, checkpoints);
    if let Err(b) = check_signatures(checkpoints, &known) {
        walker.report.broken = Some(b);
        return Ok(walker.report);
    }
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM audit ORDER BY seq"));
    {
        let mut rows = sqlx::query(sql).fetch(&mut *conn);
        while let Some(r) = rows.try_next().await? {
            if let Err(b) = walker.row(&r) {
                walker.report.broken = Some(b);
                return Ok(walker.report);
            }
        }
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await?;
    if let Err(b) = walker.finish(head.get(0), head.get(1)) {
        walker.report.broken = Some(b);
    }
    Ok(walker.report)
}

/// Walks the whole chain on `conn` (a restore checks it inside its own transaction).
pub(crate) async fn verify_chain(conn: &mut AnyConnection, keys: Option<&AuditKeys>) -> Result<Result<i64, ChainBreak>, StoreError> {
    let report = walk(conn, keys, &[]).await?;
    Ok(match report.broken {
        Some(b) => Err(b),
        None => Ok(report.rows),
    })
}

