//! The connection pool. sqlx's own pool tests each connection with a round trip to the
//! database when it is handed back (and by default again when it is taken out): on a
//! primary-key read that doubled the database's round trips. This one trusts a connection
//! whose last use ran to its end, and checks only one whose use was cut short (a cancelled
//! request, a transaction dropped without commit, which leaves its ROLLBACK queued) or that sat
//! idle long enough for a restart or a firewall to have cut it.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::any::AnyConnectOptions;
use sqlx::AnyConnection;
use sqlx::{ConnectOptions, Connection, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Dialect;

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle connection is pinged before use after this long.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(5);
/// And closed rather than used after this long, so a quiet server holds no connections.
const IDLE_CLOSE: Duration = Duration::from_secs(600);
/// How long the check of a connection whose use was cut short may take before it is dropped.
const RECOVER_TIMEOUT: Duration = Duration::from_secs(5);

struct Idle {
    conn: AnyConnection,
    since: Instant,
}

struct Inner {
    options: AnyConnectOptions,
    dialect: Dialect,
    max: u32,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
}

impl Inner {
    fn put_back(&self, conn: AnyConnection) {
        if self.permits.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    fn take_idle(&self) -> Option<Idle> {
        self.idle.lock().ok()?.pop()
    }
}

#[derive(Clone)]
pub(super) struct Pool {
    inner: Arc<Inner>,
}

impl Pool {
    pub fn new(options: AnyConnectOptions, dialect: Dialect, max: u32) -> Self {
        let max = max.max(1);
        Self {
            inner: Arc::new(Inner {
                options,
                dialect,
                max,
                permits: Arc::new(Semaphore::new(max as usize)),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A connection, waiting up to 10 s for one to be free.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let permit =
            tokio::time::timeout(ACQUIRE_TIMEOUT, self.inner.permits.clone().acquire_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
                .map_err(|_| sqlx::Error::PoolClosed)?;
        // Most recently used first: under light load the same few connections stay warm.
        while let Some(mut idle) = self.inner.take_idle() {
            let idle_for = idle.since.elapsed();
            if idle_for >= IDLE_CLOSE {
                let _ = idle.conn.close().await;
                continue;
            }
            if idle_for >= IDLE_BEFORE_PING && idle.conn.ping().await.is_err() {
                continue;
            }
            return Ok(self.conn(idle.conn, permit));
        }
        let conn = self.connect().await?;
        Ok(self.conn(conn, permit))
    }

    fn conn(&self, conn: AnyConnection, permit: OwnedSemaphorePermit) -> Conn {
        Conn {
            conn: Some(conn),
            inner: self.inner.clone(),
            permit: Some(permit),
            finished: false,
        }
    }

    async fn connect(&self) -> Result<AnyConnection, sqlx::Error> {
        let mut conn = self.inner.options.connect().await?;
        if self.inner.dialect == Dialect::Sqlite {
            // WAL lets readers run beside the writer; busy_timeout makes writers queue
            // instead of failing; foreign keys carry membership deletes.
            conn.execute(
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            )
            .await?;
        }
        Ok(conn)
    }

    /// Connections open (in use or idle), and how many of them are idle.
    pub fn stats(&self) -> (u32, usize) {
        let idle = self.inner.idle.lock().map(|i| i.len()).unwrap_or(0);
        let in_use = self.inner.max as usize - self.inner.permits.available_permits();
        ((in_use + idle) as u32, idle)
    }

    /// Refuses new work and closes the idle connections; those in use close when handed back.
    pub async fn close(&self) {
        self.inner.permits.close();
        let idle: Vec<Idle> = match self.inner.idle.lock() {
            Ok(mut i) => i.drain(..).collect(),
            Err(_) => return,
        };
        for i in idle {
            let _ = i.conn.close().await;
        }
    }
}

/// A connection taken from the pool. Call `finish` once its last statement (or commit) has
/// completed; dropped without it, the connection is checked before anyone reuses it.
pub(super) struct Conn {
    conn: Option<AnyConnection>,
    inner: Arc<Inner>,
    permit: Option<OwnedSemaphorePermit>,
    finished: bool,
}

impl Conn {
    /// Hands the connection back as ready for the next caller.
    pub fn finish(mut self) {
        self.finished = true;
    }

    pub async fn begin(&mut self) -> Result<sqlx::Transaction<'_, sqlx::Any>, sqlx::Error> {
        Connection::begin(&mut **self).await
    }
}

impl Deref for Conn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let permit = self.permit.take();
        if self.finished {
            self.inner.put_back(conn);
            drop(permit);
            return;
        }
        // Cut short: a ping flushes whatever is queued (a transaction's ROLLBACK, which must
        // not wait for the next user to release its locks) and proves the connection sound.
        // The permit goes along, so the pool never holds more connections than it may.
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let inner = self.inner.clone();
        rt.spawn(async move {
            let mut conn = conn;
            if let Ok(Ok(())) = tokio::time::timeout(RECOVER_TIMEOUT, conn.ping()).await {
                inner.put_back(conn);
            }
            drop(permit);
        });
    }
}
