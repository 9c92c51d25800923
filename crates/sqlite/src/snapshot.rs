//! SQLite's snapshots, which rusqlite does not wrap: a second read connection sees exactly what a
//! first one's open read transaction sees (`sqlite3_snapshot_get` / `sqlite3_snapshot_open`,
//! compiled into the bundled SQLite because `.cargo/config.toml` sets
//! `LIBSQLITE3_FLAGS=-DSQLITE_ENABLE_SNAPSHOT`). A long walk (the abnormal-pool list) reads its
//! rows on two connections in one view, as PostgreSQL's does with `pg_export_snapshot`.
//!
//! The crate's one exception to the workspace's `forbid(unsafe_code)`: three C calls, each on a
//! connection handle borrowed for the call's duration.
#![allow(unsafe_code)]

use rusqlite::{Connection, ffi};
use std::{ffi::CStr, ptr::NonNull};

/// The schema every Bulwark statement reads.
const MAIN: &CStr = c"main";

/// The view of a read transaction, for another connection to open. Freed when dropped; not tied
/// to the connection it came from.
pub(crate) struct Snapshot(NonNull<ffi::sqlite3_snapshot>);

impl Snapshot {
    /// The view of the read transaction `conn` has open (begun, and something read inside it).
    /// `None` when SQLite gives none: no transaction open, or the file not in WAL mode.
    pub(crate) fn of(conn: &Connection) -> Option<Snapshot> {
        let mut snapshot = std::ptr::null_mut();
        // SAFETY: the handle is valid while `conn` is borrowed, `MAIN` is NUL-terminated, and on
        // success SQLite hands over a snapshot it allocated, which this value frees once.
        let rc = unsafe { ffi::sqlite3_snapshot_get(conn.handle(), MAIN.as_ptr(), &mut snapshot) };
        if rc != ffi::SQLITE_OK {
            return None;
        }
        NonNull::new(snapshot).map(Snapshot)
    }

    /// Makes the transaction `conn` has begun (`BEGIN`) read this view. Fails when SQLite cannot:
    /// no transaction begun, a statement of `conn` still running, `conn` never having read the
    /// file (so not knowing it is in WAL mode), or the log no longer holding the view (it is kept
    /// while the transaction it came from is open).
    pub(crate) fn open_on(&self, conn: &Connection) -> rusqlite::Result<()> {
        // SAFETY: as in `of`; SQLite reads the snapshot while it begins the transaction and keeps
        // no pointer to it afterwards (`sqlite3_snapshot_open` clears it), so it may be freed
        // while the transaction goes on.
        let rc = unsafe { ffi::sqlite3_snapshot_open(conn.handle(), MAIN.as_ptr(), self.0.as_ptr()) };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some("sqlite3_snapshot_open".into())))
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        // SAFETY: allocated by `sqlite3_snapshot_get`, freed here only.
        unsafe { ffi::sqlite3_snapshot_free(self.0.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_second_connection_reads_the_first_ones_view_while_a_writer_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.db");
        let writer = Connection::open(&path).unwrap();
        writer.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
        let first = Connection::open(&path).unwrap();
        let second = Connection::open(&path).unwrap();
        // SQLite opens a snapshot only on a connection that knows the file is in WAL mode, from
        // I/O it has done: pool connections have (`configure` sets the journal mode).
        second.execute_batch("PRAGMA journal_mode = WAL").unwrap();

        first.execute_batch("BEGIN").unwrap();
        assert_eq!(count(&first), 1);
        let snapshot = Snapshot::of(&first).expect("a snapshot of an open read transaction");
        writer.execute_batch("INSERT INTO t VALUES (2)").unwrap();

        second.execute_batch("BEGIN").unwrap();
        snapshot.open_on(&second).unwrap();
        assert_eq!(count(&second), 1, "the first connection's view, not the commit after it");
        second.execute_batch("COMMIT").unwrap();
        assert_eq!(count(&second), 2, "its own view once that transaction ends");

        // Outside a transaction there is nothing to give the view to.
        assert!(snapshot.open_on(&second).is_err());
        assert_eq!(count(&second), 2);
        first.execute_batch("COMMIT").unwrap();
        assert!(Snapshot::of(&first).is_none(), "no transaction open, no view to give");
    }
}
