//! The `auth_limits` table: sign-in budgets as token buckets in the database, so that every
//! replica on one database spends from the same budget, and each attempt is spent atomically
//! (one upsert per key) before the password is verified.

use sqlx::Row;

use super::{Backend, Store, StoreError};

/// How a bucket refills and how far it may go into debt.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Attempts in a burst.
    pub burst: f64,
    /// Attempts regained per millisecond.
    pub per_ms: f64,
    /// The lowest a bucket goes: attempts made while limited deepen the debt down to this, so
    /// the wait grows with the hammering but never past `(1 - floor) / per_ms`.
    pub floor: f64,
}

impl Store {
    /// Spends one attempt from each of `keys` at `now_ms`, in one transaction, and returns what
    /// each has left: negative means the attempt is refused (wait `-left / per_ms` ms). The
    /// keys are taken in the order given: concurrent attempts lock them in the same order, so
    /// every key sees the attempts in one order and the same ones pass on all of them.
    pub async fn limit_spend(&self, keys: &[String], budget: Budget, now_ms: i64) -> Result<Vec<f64>, StoreError> {
        let (min, max) = match self.backend {
            Backend::Sqlite => ("MIN", "MAX"),
            Backend::Postgres => ("LEAST", "GREATEST"),
        };
        let sql = format!(
            "INSERT INTO auth_limits (key, tokens, at_ms) VALUES ($1, $2 - 1.0, $3)
             ON CONFLICT (key) DO UPDATE SET
               tokens = {max}($4, {min}($2, auth_limits.tokens + {max}(0, $3 - auth_limits.at_ms) * $5) - 1.0),
               at_ms = {max}(auth_limits.at_ms, $3)
             RETURNING tokens"
        );
        // Attempts that read the clock in one order may commit in another: time never runs
        // backwards for a bucket (no negative refill), so a late commit costs nothing extra.
        let mut tx = self.pool.begin().await?;
        let mut left = Vec::with_capacity(keys.len());
        for key in keys {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(key)
                .bind(budget.burst)
                .bind(now_ms)
                .bind(budget.floor)
                .bind(budget.per_ms)
                .fetch_one(&mut *tx)
                .await?;
            left.push(row.try_get::<f64, _>(0)?);
        }
        tx.commit().await?;
        Ok(left)
    }

    /// Gives one attempt back to `key` (a sign-in that succeeded), up to `burst`.
    pub async fn limit_refund(&self, key: &str, burst: f64) -> Result<(), StoreError> {
        let min = match self.backend {
            Backend::Sqlite => "MIN",
            Backend::Postgres => "LEAST",
        };
        let sql = format!("UPDATE auth_limits SET tokens = {min}($2, tokens + 1.0) WHERE key = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key).bind(burst).execute(&self.pool).await?;
        Ok(())
    }

    /// Forgets every bucket last touched before `before_ms` (by then it is full again, and a
    /// full bucket says nothing), so guessed usernames do not pile up.
    pub async fn limit_prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM auth_limits WHERE at_ms < $1").bind(before_ms).execute(&self.pool).await?.rows_affected())
    }

    /// Forgets `key`'s debt (an admin unlocking an account); true if it had one.
    pub async fn limit_clear(&self, key: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM auth_limits WHERE key = $1").bind(key).execute(&self.pool).await?.rows_affected() > 0)
    }
}
