//! A small pool of read-only connections. WAL lets readers proceed while the writer commits, and
//! each read sees every transaction committed before it started.

use crate::{configure, error, snapshot::Snapshot};
use bulwark_store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::{path::PathBuf, sync::Mutex};

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// At most this many reads run at once; the rest wait for a connection. Opening one per
    /// read under load (schema parse, pragmas, every cached statement prepared again) cost a third
    /// of the server's CPU at 64 concurrent requests.
    permits: tokio::sync::Semaphore,
}

/// Read connections: enough to keep two cores busy while some reads wait on the disk.
const MAX_READERS: usize = 16;

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Readers {
        Readers { path, idle: Mutex::new(Vec::new()), permits: tokio::sync::Semaphore::new(MAX_READERS) }
    }

    /// Takes an idle connection, or opens one.
    fn connection(&self) -> StoreResult<Connection> {
        match self.idle.lock().expect("reader pool poisoned").pop() {
            Some(c) => Ok(c),
            None => {
                let c = Connection::open(&self.path).map_err(error::map)?;
                configure(&c, true)?;
                Ok(c)
            }
        }
    }

    /// Runs a point read (a few index probes, microseconds) on the calling task. Handing it to the
    /// blocking pool costs more than the read itself: two thread wake-ups, which took a quarter of
    /// the server's CPU at 64 concurrent scans. Anything that may scan goes through [`Self::read`].
    pub(crate) async fn read_point<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let _permit =
            self.permits.acquire().await.map_err(|_| StoreError::Unavailable("the read pool is closed".into()))?;
        let conn = self.connection()?;
        let result = f(&conn);
        self.give_back(conn);
        result
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.read_on(false, move |conn, _| f(conn)).await
    }

    /// [`Self::read`] with a second connection when one is free at once, for a walk that splits
    /// its rows between two threads ([`joined`]). The second is never waited for: two long reads
    /// each holding one connection and waiting for another could wait for each other for good.
    pub(crate) async fn read_with_spare<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, Option<&mut Connection>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.read_on(true, f).await
    }

    async fn read_on<T: Send + 'static>(
        &self,
        with_spare: bool,
        f: impl FnOnce(&Connection, Option<&mut Connection>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let _permit =
            self.permits.acquire().await.map_err(|_| StoreError::Unavailable("the read pool is closed".into()))?;
        let spare_permit = if with_spare { self.permits.try_acquire().ok() } else { None };
        let conn = self.connection()?;
        // A spare that cannot be opened is a walk on one connection, not a failed read.
        let spare = spare_permit.as_ref().and_then(|_| self.connection().ok());
        let (conn, spare, result) = tokio::task::spawn_blocking(move || {
            let mut spare = spare;
            let r = f(&conn, spare.as_mut());
            (conn, spare, r)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?;
        self.give_back(conn);
        if let Some(spare) = spare {
            self.give_back(spare);
        }
        result
    }

    /// Returns a connection to the pool, unless it is still inside a transaction (a read that
    /// failed to end one): a later read would see that transaction's old view.
    fn give_back(&self, conn: Connection) {
        if conn.is_autocommit() {
            self.idle.lock().expect("reader pool poisoned").push(conn);
        }
    }
}

/// Runs `f`, a handful of point reads (an upload's hundred scanned people, say), in one read
/// transaction: one view for all of them, and the log checked for commits once. Each statement
/// on its own was a transaction of its own, and under registration load most of them began after
/// a commit, so the pager dropped its cache and read the same interior pages again each time.
pub(crate) fn in_one_read<T>(conn: &Connection, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    crate::writer::execute(conn, "BEGIN")?;
    let result = f(conn);
    // Nothing to commit; a connection left inside the transaction is not given back to the pool.
    let ended = crate::writer::execute(conn, "COMMIT");
    let result = result?;
    ended?;
    Ok(result)
}

/// The most of the file a long read maps; SQLite caps it at its own limit (2 GiB by default) and
/// reads any page past the mapping as usual.
const MAPPED_BYTES: i64 = 1 << 40;

/// Runs `f`, a read of thousands of scattered pages (an abnormal-pool list, say), with the
/// database file mapped. A read that begins after any commit starts with an empty page cache:
/// SQLite's pager drops it when the log has changed (`pagerBeginReadTransaction`), and in a
/// server that writes anything that is every read. Unmapped, each page such a read touches is
/// then a `pread` copy from the OS cache; mapped, it is a memory read (pages still in the log
/// are read from it as before). The connection goes back to the pool unmapped (see `configure`
/// for why point reads are not mapped).
pub(crate) fn mapped<T>(conn: &Connection, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    conn.execute_batch(&format!("PRAGMA mmap_size = {MAPPED_BYTES};")).map_err(error::map)?;
    let result = f(conn);
    let unmapped = conn.execute_batch("PRAGMA mmap_size = 0;").map_err(error::map);
    let result = result?;
    unmapped?;
    Ok(result)
}

/// A spare connection reading in the view of `walking`'s open read transaction ([`Snapshot`]),
/// its file mapped as [`mapped`] maps it, until dropped (its transaction then ends and the file is
/// unmapped). `None` when SQLite cannot give the view; the spare is then left as it was.
pub(crate) fn joined<'c>(walking: &Connection, spare: &'c mut Connection) -> Option<Joined<'c>> {
    let snapshot = Snapshot::of(walking)?;
    // From here on, dropping `joined` undoes what was done.
    let joined = Joined(spare);
    joined.0.execute_batch(&format!("PRAGMA mmap_size = {MAPPED_BYTES}; BEGIN;")).ok()?;
    snapshot.open_on(joined.0).ok()?;
    Some(joined)
}

/// See [`joined`].
pub(crate) struct Joined<'c>(&'c mut Connection);

impl Joined<'_> {
    /// The connection, for the thread that reads on it.
    pub(crate) fn connection(&mut self) -> &mut Connection {
        self.0
    }
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        // A transaction that does not end keeps the connection out of the pool (`give_back`); one
        // left mapped would map the file for point reads, which are faster unmapped (`configure`).
        if !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
        let _ = self.0.execute_batch("PRAGMA mmap_size = 0");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mmap_size(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA mmap_size", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_long_read_maps_the_file_and_hands_the_connection_back_unmapped() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("mapped.db")).unwrap();
        configure(&conn, true).unwrap();
        assert_eq!(mmap_size(&conn), 0);
        let inside = mapped(&conn, |c| Ok(mmap_size(c))).unwrap();
        assert!(inside > 0, "mapped while it reads");
        assert_eq!(mmap_size(&conn), 0, "unmapped afterwards");
        let failed: StoreResult<()> = mapped(&conn, |_| Err(StoreError::Internal("a failed read".into())));
        assert!(failed.is_err());
        assert_eq!(mmap_size(&conn), 0, "unmapped after a failed read too");
    }

    #[test]
    fn a_joined_connection_reads_the_walking_ones_view_and_ends_its_transaction_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("joined.db");
        let writer = Connection::open(&path).unwrap();
        configure(&writer, false).unwrap();
        writer.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
        let readers = Readers::new(path);
        let (walking, mut spare) = (readers.connection().unwrap(), readers.connection().unwrap());
        let count = |c: &Connection| c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap();

        walking.execute_batch("BEGIN").unwrap();
        assert_eq!(count(&walking), 1);
        writer.execute_batch("INSERT INTO t VALUES (2)").unwrap();
        let mut reading = joined(&walking, &mut spare).expect("the view of an open read transaction");
        assert_eq!(count(reading.connection()), 1, "the walking connection's view");
        assert!(mmap_size(reading.connection()) > 0, "mapped while it reads");
        drop(reading);
        assert!(spare.is_autocommit(), "its transaction ended");
        assert_eq!(mmap_size(&spare), 0, "unmapped afterwards");
        assert_eq!(count(&spare), 2);

        walking.execute_batch("COMMIT").unwrap();
        assert!(joined(&walking, &mut spare).is_none(), "no open transaction, no view");
        assert!(spare.is_autocommit());
    }
}
