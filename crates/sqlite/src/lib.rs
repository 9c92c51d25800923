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
    testing_cache: testing::Cache,
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
            testing_cache: testing::Cache::default(),
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

    /// Runs `f` on a read-only connection.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.readers.read(f).await
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
        conn.execute_batch("PRAGMA query_only = ON;").map_err(error::map)?;
    }
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
