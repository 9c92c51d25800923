//! The single writer thread and its group commit.
//!
//! Every write is a closure sent to one thread that owns the only writing connection. The thread
//! takes whatever has queued up, runs each closure inside its own SAVEPOINT of one transaction
//! (so a failing closure undoes only its own changes), COMMITs once, and only then answers each
//! caller. One fsync thus acknowledges many writes: with `synchronous=FULL` that is the only way
//! to be both durable and fast (docs/performance.md). No caller hears "ok" before the COMMIT that
//! holds its change has returned.

use crate::error;
use bulwark_store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Answers a caller once the outcome of the COMMIT is known.
type Deliver = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// Runs a caller's writes (or, given no connection, skips them because the transaction could not
/// start); says whether they succeeded, to keep them, and how to answer.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Deliver) + Send>;

/// Most writes folded into one transaction: bounds the latency one commit adds.
const MAX_BATCH: usize = 2048;

/// The writer thread's name ([`crate::deferred`] checks that increments are made on it).
pub(crate) const THREAD_NAME: &str = "sqlite-writer";

pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> Writer {
        let (jobs, rx) = mpsc::channel::<Job>(8192);
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || serve(conn, rx))
            .expect("spawn the SQLite writer thread");
        Writer { jobs }
    }

    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
                None => Err(StoreError::Unavailable("the transaction could not start".into())),
            };
            let keep = result.is_ok();
            let deliver: Deliver = Box::new(move |commit_error| {
                let _ = tx.send(match commit_error {
                    None => result,
                    Some(e) => Err(e),
                });
            });
            (keep, deliver)
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("the SQLite writer stopped before committing".into()))?
    }
}

fn serve(conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch);
    }
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = error::map(e);
        for job in batch.drain(..) {
            let (_, deliver) = job(None);
            deliver(Some(e.clone()));
        }
        return;
    }
    let mut deliveries = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        deliveries.push(run_in_savepoint(conn, job));
    }
    // The summed counters go in last, inside the transaction: if they fail, nothing commits.
    let outcome = crate::deferred::flush(conn).and_then(|()| execute(conn, "COMMIT")).err();
    if outcome.is_some() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for deliver in deliveries {
        deliver(outcome.clone());
    }
}

fn run_in_savepoint(conn: &Connection, job: Job) -> Deliver {
    if let Err(e) = execute(conn, "SAVEPOINT job") {
        let (_, deliver) = job(None);
        return Box::new(move |_| deliver(Some(e)));
    }
    let mark = crate::deferred::mark();
    let (keep, deliver) = job(Some(conn));
    let end = if keep { execute(conn, "RELEASE job") } else { rollback_to(conn, "job") };
    if !keep || end.is_err() {
        crate::deferred::rewind(mark);
    }
    match end {
        Ok(()) => deliver,
        Err(e) => Box::new(move |_| deliver(Some(e))),
    }
}

/// Runs one statement without arguments, prepared once per connection (a savepoint per job is
/// on the hot path; parsing it again each time is not free).
pub(crate) fn execute(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(|_| ()).map_err(error::map)
}

/// Undoes everything since the savepoint `name` and ends it.
pub(crate) fn rollback_to(conn: &Connection, name: &str) -> StoreResult<()> {
    execute(conn, &format!("ROLLBACK TO {name}")).and_then(|()| execute(conn, &format!("RELEASE {name}")))
}
