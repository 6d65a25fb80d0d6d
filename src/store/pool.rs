//! The connection pool. sqlx's own pool tests each connection with a round trip to the
//! database when it is handed back (and by default again when it is taken out): on a
//! primary-key read that doubled the database's round trips. This one trusts a connection
//! whose last use ran to its end, and checks only one whose use was cut short (a cancelled
//! request, a transaction dropped without commit, which leaves its ROLLBACK queued) or that sat
//! idle long enough for a restart or a firewall to have cut it.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;

use sqlx::{ConnectOptions, Connection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle connection is pinged before use after this long.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(5);
/// And closed rather than used after this long, so a quiet server holds no connections.
const IDLE_CLOSE: Duration = Duration::from_secs(600);
/// How long the check of a connection whose use was cut short may take before it is dropped.
const RECOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// Run on every new connection before its first use (SQLite's pragmas, for one).
pub(crate) type AfterConnect<C> = Arc<
    dyn for<'c> Fn(&'c mut C) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'c>>
        + Send
        + Sync,
>;

struct Idle<C> {
    conn: C,
    since: Instant,
}

struct Inner<C: Connection> {
    options: <C as Connection>::Options,
    after_connect: Option<AfterConnect<C>>,
    max: u32,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle<C>>>,
}

impl<C: Connection> Inner<C> {
    fn put_back(&self, conn: C) {
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

    fn take_idle(&self) -> Option<Idle<C>> {
        self.idle.lock().ok()?.pop()
    }
}

pub(crate) struct Pool<C: Connection> {
    inner: Arc<Inner<C>>,
}

impl<C: Connection> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<C: Connection + 'static> Pool<C> {
    pub fn new(
        options: <C as Connection>::Options,
        after_connect: Option<AfterConnect<C>>,
        max: u32,
    ) -> Self {
        let max = max.max(1);
        Self {
            inner: Arc::new(Inner {
                options,
                after_connect,
                max,
                permits: Arc::new(Semaphore::new(max as usize)),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A connection, waiting up to 10 s for one to be free.
    pub async fn acquire(&self) -> Result<Conn<C>, sqlx::Error> {
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

    fn conn(&self, conn: C, permit: OwnedSemaphorePermit) -> Conn<C> {
        Conn {
            conn: Some(conn),
            inner: self.inner.clone(),
            permit: Some(permit),
            finished: false,
        }
    }

    async fn connect(&self) -> Result<C, sqlx::Error> {
        let mut conn = self.inner.options.connect().await?;
        if let Some(hook) = &self.inner.after_connect {
            hook(&mut conn).await?;
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
        let idle: Vec<Idle<C>> = match self.inner.idle.lock() {
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
pub(crate) struct Conn<C: Connection + 'static> {
    conn: Option<C>,
    inner: Arc<Inner<C>>,
    permit: Option<OwnedSemaphorePermit>,
    finished: bool,
}

impl<C: Connection + 'static> Conn<C> {
    /// Hands the connection back as ready for the next caller.
    pub fn finish(mut self) {
        self.finished = true;
    }

    pub async fn begin(&mut self) -> Result<sqlx::Transaction<'_, C::Database>, sqlx::Error> {
        Connection::begin(&mut **self).await
    }
}

impl<C: Connection + 'static> Deref for Conn<C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl<C: Connection + 'static> DerefMut for Conn<C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl<C: Connection + 'static> Drop for Conn<C> {
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
