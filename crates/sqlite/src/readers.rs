//! A small pool of read-only connections. WAL lets readers proceed while the writer commits, and
//! each read sees every transaction committed before it started.

use crate::{configure, error};
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
        self.idle.lock().expect("reader pool poisoned").push(conn);
        result
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let _permit =
            self.permits.acquire().await.map_err(|_| StoreError::Unavailable("the read pool is closed".into()))?;
        let conn = self.connection()?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let r = f(&conn);
            (conn, r)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?;
        self.idle.lock().expect("reader pool poisoned").push(conn);
        result
    }
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
}
