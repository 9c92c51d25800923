//! The single writer thread and its group commit.
//!
//! Every write is a closure sent to one thread that owns the only writing connection. The thread
//! takes whatever has queued up (to [`MAX_ROWS`] rows), runs each closure inside its own
//! SAVEPOINT of one transaction (so a failing closure undoes only its own changes), COMMITs once,
//! and only then answers each caller. One fsync thus acknowledges many writes: with
//! `synchronous=FULL` that is the only way to be both durable and fast (docs/performance.md). No
//! caller hears "ok" before the COMMIT that holds its change has returned.
//!
//! Each job runs in a savepoint of its own, so that a failing job undoes only itself. A savepoint
//! copies every page the job touches first into the statement journal, about a fifth of a
//! registration's cost, so the hot path's jobs ([`Writer::write_bare`]) run without one: a
//! registration fails, if at all, before changing a row (a key reused, a round that does not
//! exist), and such a job fails alone. A bare job that fails after changing rows cannot be undone
//! alone, so the whole transaction is rolled back and every caller of the batch hears
//! "unavailable, try again" (nothing of it stored, nothing half-written); the next
//! [`ISOLATED_BATCHES`] batches then give every job a savepoint, so that the failing job, sent
//! again, fails alone. The same holds whenever SQLite itself rolled the transaction back under a
//! job (a full disk, an I/O error): the jobs before it were gone with it.

use crate::error;
use bulwark_store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Answers a caller once the outcome of the COMMIT is known.
type Deliver = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// Runs a caller's writes (or, given no connection, skips them because the transaction could not
/// start); says whether they succeeded, to keep them, and how to answer.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Deliver) + Send>;

/// Rows (registrations, say) past which a transaction takes no further job: bounds the latency
/// one commit adds. Most jobs count as one row; an upload's counts its registrations. Sixteen
/// phones uploading a hundred scans each at once queue sixteen jobs: taken all together (the
/// bound was 2,048 jobs), the writer stored 1,600 rows while the request threads, whose requests
/// all waited on it, had nothing to do, and then it waited while they answered all sixteen.
/// Closed at 800 rows, the first answers go out while the writer stores the rest: uploads +3 %
/// at 8 connections, +7 % at 16 (BENCHMARKS.md, seventeenth session). Single scans, 64 at once,
/// never reach it.
const MAX_ROWS: usize = 800;
/// Batches whose jobs each get a savepoint after a job failed half-way.
const ISOLATED_BATCHES: u32 = 1000;

/// The writer thread's name ([`crate::deferred`] checks that increments are made on it).
pub(crate) const THREAD_NAME: &str = "sqlite-writer";

/// A job as queued: whether it may run without a savepoint of its own, and how many rows it
/// writes (as its caller counts them: one for most jobs).
struct Queued {
    bare: bool,
    rows: usize,
    job: Job,
}

pub struct Writer {
    jobs: mpsc::Sender<Queued>,
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> Writer {
        let (jobs, rx) = mpsc::channel::<Queued>(8192);
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || serve(conn, rx))
            .expect("spawn the SQLite writer thread");
        Writer { jobs }
    }

    /// Runs `f` in the current transaction, in a savepoint of its own; returns once committed.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.queue(false, 1, f).await
    }

    /// As [`Writer::write`], without a savepoint: for `f` that fail, if at all, before changing
    /// a row. Should one fail after, its whole batch is rolled back and answered "unavailable".
    pub(crate) async fn write_bare<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.queue(true, 1, f).await
    }

    /// As [`Writer::write_bare`], for a job that writes about `rows` rows (an upload's
    /// registrations): a transaction takes further jobs only until it holds [`MAX_ROWS`].
    pub(crate) async fn write_bare_rows<T: Send + 'static>(
        &self,
        rows: usize,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.queue(true, rows, f).await
    }

    async fn queue<T: Send + 'static>(
        &self,
        bare: bool,
        rows: usize,
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
        self.jobs
            // An empty upload still counts: a bound only jobs of no rows could pass is none.
            .send(Queued { bare, rows: rows.max(1), job })
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("the SQLite writer stopped before committing".into()))?
    }
}

fn serve(conn: Connection, mut rx: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(MAX_ROWS);
    let mut isolated: u32 = 0;
    while let Some(first) = rx.blocking_recv() {
        take_batch(first, &mut rx, &mut batch, MAX_ROWS);
        let isolate = isolated > 0;
        isolated = isolated.saturating_sub(1);
        if commit_batch(&conn, &mut batch, isolate) == Batch::Poisoned {
            isolated = ISOLATED_BATCHES;
        }
    }
}

/// Fills `batch` with `first` and whatever else has queued, until it holds `max_rows` rows.
fn take_batch(first: Queued, rx: &mut mpsc::Receiver<Queued>, batch: &mut Vec<Queued>, max_rows: usize) {
    let mut rows = first.rows;
    batch.push(first);
    while rows < max_rows {
        match rx.try_recv() {
            Ok(job) => {
                rows += job.rows;
                batch.push(job);
            }
            Err(_) => break,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Batch {
    Done,
    /// A job failed after changing rows, or the transaction vanished under it: all rolled back.
    Poisoned,
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Queued>, isolate: bool) -> Batch {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = error::map(e);
        for Queued { job, .. } in batch.drain(..) {
            let (_, deliver) = job(None);
            deliver(Some(e.clone()));
        }
        return Batch::Done;
    }
    let start = crate::deferred::mark();
    let mut deliveries = Vec::with_capacity(batch.len());
    let mut poisoned = false;
    for Queued { bare, job, .. } in batch.drain(..) {
        if poisoned {
            // Rolled back whatever it does: not run at all.
            let (_, deliver) = job(None);
            deliveries.push(deliver);
            continue;
        }
        let (deliver, clean) = if bare && !isolate { run_bare(conn, job) } else { run_in_savepoint(conn, job) };
        // SQLite rolls the whole transaction back itself on some errors (a full disk, I/O):
        // the jobs before this one are gone too, and the next ones would run outside it.
        poisoned = !clean || conn.is_autocommit();
        deliveries.push(deliver);
    }
    let outcome = if poisoned {
        crate::deferred::rewind(start);
        Some(StoreError::Unavailable("a write failed half-way, so none of its batch was stored; try again".into()))
    } else {
        // The summed counters go in last, inside the transaction: if they fail, nothing commits.
        crate::deferred::flush(conn).and_then(|()| execute(conn, "COMMIT")).err()
    };
    if outcome.is_some() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for deliver in deliveries {
        deliver(outcome.clone());
    }
    if poisoned { Batch::Poisoned } else { Batch::Done }
}

/// Runs a job inside the batch's transaction without a savepoint; false when it failed after
/// changing rows (which only rolling back the whole transaction undoes).
fn run_bare(conn: &Connection, job: Job) -> (Deliver, bool) {
    let mark = crate::deferred::mark();
    let before = conn.total_changes();
    let (keep, deliver) = job(Some(conn));
    if keep {
        return (deliver, true);
    }
    crate::deferred::rewind(mark);
    (deliver, conn.total_changes() == before)
}

/// Runs a job in a savepoint of its own, undone alone when it fails; false when even that could
/// not be done.
fn run_in_savepoint(conn: &Connection, job: Job) -> (Deliver, bool) {
    if let Err(e) = execute(conn, "SAVEPOINT job") {
        let (_, deliver) = job(None);
        return (Box::new(move |_| deliver(Some(e))), true);
    }
    let mark = crate::deferred::mark();
    let (keep, deliver) = job(Some(conn));
    let end = if keep { execute(conn, "RELEASE job") } else { rollback_to(conn, "job") };
    if !keep || end.is_err() {
        crate::deferred::rewind(mark);
    }
    match end {
        Ok(()) => (deliver, true),
        Err(e) => (Box::new(move |_| deliver(Some(e))), false),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(rows: usize) -> Queued {
        Queued { bare: true, rows, job: Box::new(|_| (true, Box::new(|_| ()))) }
    }

    /// The batches `rows` (each a job's rows, all queued at once) are taken in, as lengths.
    fn batches(rows: &[usize], max_rows: usize) -> Vec<usize> {
        let (tx, mut rx) = mpsc::channel(rows.len().max(1));
        for &n in rows {
            tx.try_send(queued(n)).unwrap();
        }
        drop(tx);
        let mut taken = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            let mut batch = Vec::new();
            take_batch(first, &mut rx, &mut batch, max_rows);
            taken.push(batch.len());
        }
        taken
    }

    #[test]
    fn a_transaction_takes_jobs_until_it_holds_its_rows() {
        // Sixteen uploads of a hundred: two transactions of eight.
        assert_eq!(batches(&[100; 16], 800), [8, 8]);
        // The job that reaches the bound is in, however large; the next starts a transaction.
        assert_eq!(batches(&[300, 300, 300, 300, 5_000, 1], 800), [3, 2, 1]);
        // Single scans, a row each.
        assert_eq!(batches(&[1; 2_000], 800), [800, 800, 400]);
    }
}
