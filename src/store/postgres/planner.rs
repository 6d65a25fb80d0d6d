//! Statistics that follow the data.
//!
//! An identity provider's first sync fills a realm through the API; until Postgres has
//! statistics for those rows its planner takes the realm for one row and may read a GET or a
//! `userName eq` through any index that starts with the realm (measured: GET at a third, the
//! filter at a tenth of their settled rates, issue 21). Autovacuum's ANALYZE comes at most once
//! a minute, and only after 2% of a table changed (migration 8). So the store analyzes a table
//! itself when the rows it added through this process pass 256, 1,024, 4,096, ... (each
//! ANALYZE samples at most 30,000 rows: cheap next to the writes that led to it).
//!
//! (Plans follow the statistics by themselves: an ANALYZE invalidates the plans cached for a
//! table, and the store's connections use generic plans only, see `PgStore::connect`.)

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgConnection;

use crate::store::pool::Pool;

/// Rows added before the first ANALYZE of a table, and the factor to the next one.
const FIRST_ANALYZE: u64 = 256;
const ANALYZE_FACTOR: u64 = 4;

/// Rows one table has been given through this process, and when to analyze it next.
struct Growth {
    table: &'static str,
    added: AtomicU64,
    next: AtomicU64,
}

impl Growth {
    const fn new(table: &'static str) -> Self {
        Self {
            table,
            added: AtomicU64::new(0),
            next: AtomicU64::new(FIRST_ANALYZE),
        }
    }

    /// Counts `n` more rows; true once per threshold passed.
    fn grew(&self, n: u64) -> bool {
        let added = self.added.fetch_add(n, Ordering::Relaxed) + n;
        let next = self.next.load(Ordering::Relaxed);
        added >= next
            && self
                .next
                .compare_exchange(
                    next,
                    added.saturating_mul(ANALYZE_FACTOR),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

pub(super) struct Planner {
    resources: Growth,
    members: Growth,
}

impl Planner {
    pub fn new() -> Self {
        Self {
            resources: Growth::new("resources"),
            members: Growth::new("members"),
        }
    }

    pub fn resources_added(&self, pool: &Pool<PgConnection>, n: u64) {
        if self.resources.grew(n) {
            analyze(pool.clone(), self.resources.table);
        }
    }

    pub fn members_added(&self, pool: &Pool<PgConnection>, n: u64) {
        if self.members.grew(n) {
            analyze(pool.clone(), self.members.table);
        }
    }
}

/// ANALYZE in the background; the request that passed the threshold does not wait for it.
fn analyze(pool: Pool<PgConnection>, table: &'static str) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    rt.spawn(async move {
        let Ok(mut conn) = pool.acquire().await else {
            return;
        };
        match sqlx::query(&format!("ANALYZE {table}"))
            .execute(&mut *conn)
            .await
        {
            Ok(_) => {
                conn.finish();
                tracing::debug!(table, "analyzed a growing table");
            }
            Err(e) => tracing::warn!(table, error = %e, "ANALYZE of a growing table failed"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_table_is_analyzed_at_each_threshold_once() {
        let g = Growth::new("t");
        let fired: Vec<u64> = (1..=5_000u64).filter(|_| g.grew(1)).collect();
        assert_eq!(fired.len(), 3, "256, 1,024 and 4,096: {fired:?}");
        // A batch that jumps past several thresholds fires once, and the next is 4x beyond it.
        let g = Growth::new("t");
        assert!(g.grew(10_000));
        assert!(!g.grew(20_000));
        assert!(g.grew(10_000));
    }
}
