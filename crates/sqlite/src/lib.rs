//! The embedded SQLite engine of Bulwark's storage contracts.
//!
//! One file in the data directory, WAL mode, `synchronous=FULL`: a call that returns has its
//! transaction on disk. Writes go through one writer thread that commits whatever is queued in one
//! transaction (group commit, see [`writer`]); reads run on a small pool of read-only
//! connections, which WAL lets proceed while the writer works.

mod accounts;
mod areas;
mod audit;
mod checkpoint;
mod command;
mod deferred;
mod error;
mod leaders;
mod migrations;
mod notify;
mod people;
mod readers;
mod rosters;
mod settings;
mod snapshot;
mod staff;
mod testing;
mod transport;
pub mod writer;

use async_trait::async_trait;
use bulwark_store::{Store, StoreError, StoreResult};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The SQLite engine.
pub struct SqliteStore {
    writer: writer::Writer,
    readers: readers::Readers,
    path: PathBuf,
    /// Rounds and sites as read last: every scan needs both, and only this process writes the
    /// file, so a copy is invalidated exactly when it changes (rounds never do).
    testing_cache: std::sync::Arc<testing::Cache>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let mut conn = Connection::open(path).map_err(error::map)?;
        configure(&conn, false)?;
        migrations::run(&mut conn)?;
        checkpoint::install(&mut conn, path)?;
        let readers = readers::Readers::new(path.to_path_buf());
        Ok(SqliteStore {
            writer: writer::Writer::start(conn),
            readers,
            path: path.to_path_buf(),
            testing_cache: std::sync::Arc::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer inside the current group-commit transaction; returns once committed.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.writer.write(f).await
    }

    /// [`SqliteStore::write`] without a savepoint of its own, for the hot path's writes that fail,
    /// if at all, before changing a row. One that fails after changing rows takes its whole batch
    /// back: every caller of the batch hears [`StoreError::Unavailable`](bulwark_store::StoreError)
    /// (see `writer`).
    pub async fn write_bare<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.writer.write_bare(f).await
    }

    /// [`SqliteStore::write_bare`] for a job that writes about `rows` rows (an upload's
    /// registrations): see `writer::MAX_ROWS`.
    pub(crate) async fn write_bare_rows<T: Send + 'static>(
        &self,
        rows: usize,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.writer.write_bare_rows(rows, f).await
    }

    /// Runs `f` on a read-only connection.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.readers.read(f).await
    }

    /// A point read (a few index probes) on the calling task: see [`readers::Readers::read_point`].
    pub(crate) async fn read_point<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.readers.read_point(f).await
    }
}

/// Durability and safety settings every connection gets. `FULL` is what makes an acknowledged
/// write survive power loss in WAL mode (NORMAL loses the last commits); `secure_delete` makes
/// purged personal data leave the file, not only the index.
fn configure(conn: &Connection, read_only: bool) -> StoreResult<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;
         PRAGMA secure_delete = ON;
         PRAGMA cache_size = -32000;",
    )
    .map_err(error::map)?;
    if read_only {
        // Readers do not map the file: a read that starts after a commit finds its view changed,
        // and SQLite then unmaps the whole file (and maps it again on the next page). Under
        // registration load nearly every read started after a commit, and the unmapping (a TLB
        // shootdown that stops the other core too) was a fifth of each point read. Reading the
        // few pages such a read needs costs less; a walk over thousands maps the file for its
        // duration (`readers::mapped`).
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA mmap_size = 0;").map_err(error::map)?;
    } else {
        // Every job of the writer but the hot path's runs in its own savepoint (see `writer`), so
        // each page a job touches first is copied to the statement journal. Past 64 KiB in one
        // transaction that journal spills to a temporary file, and the writer once spent a third
        // of its time in write(2) to it. Kept in memory it is a page copy.
        conn.execute_batch("PRAGMA temp_store = MEMORY;").map_err(error::map)?;
        // A small page cache, with the file mapped so that a page not in it costs a memory read.
        // When a B-tree page splits, SQLite renumbers pages through a spare page number far past
        // the end of the file; the COMMIT that follows then walks the whole cache to drop pages
        // past the end — thousands of scattered page headers for a 32 MB cache, 11 % of the
        // writer's time under registration load (perf; gdb showed the spare key 262145 in
        // `pcache1Truncate` after `balance_nonroot`). The cost of that walk grows with the cache.
        conn.execute_batch("PRAGMA cache_size = -8000; PRAGMA mmap_size = 268435456;").map_err(error::map)?;
    }
    // Plans must not depend on bound values. Without this guarantee SQLite marks a statement that
    // joins tables (among others) to be prepared again whenever a parameter changes, so every
    // cached join was parsed and planned anew on each use: a third of the writer's time per scan.
    // The guarantee costs nothing here: no LIKE with bound patterns, no partial index matched by a
    // parameter, no ANALYZE statistics.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(error::map)?;
    // Every statement of the hot paths stays prepared (rusqlite keeps 16 by default; the writer
    // alone runs more than that between two scans).
    conn.set_prepared_statement_cache_capacity(256);
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).map_err(error::map)?;
    if sync < 2 {
        return Err(StoreError::Unavailable("SQLite refused synchronous=FULL".into()));
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(error::map)).await
    }
}
