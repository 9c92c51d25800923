//! WAL checkpoints on their own thread, so that no caller waits for one.
//!
//! A commit appends pages to the write-ahead log; a checkpoint copies them back into the database
//! file (scattered writes, then an fsync of the file). SQLite's default runs it inside the commit
//! that takes the log past 1,000 pages, so every caller of that batch waits for the copy as well.
//! Here the writer's commit only tells this thread how long the log is, and the thread copies it
//! with a PASSIVE checkpoint, which neither waits for nor blocks the writer and the readers.
//! The log starts again from its beginning only when a write begins with all of it copied; under
//! a steady stream of writes the thread is always a commit behind, so the log would grow without
//! end. Past [`WRITER_BACKSTOP`] pages the writer therefore checkpoints itself, as before (copying
//! only what the thread has not), and the next write starts the log again.

use crate::{configure, error};
use bulwark_store::StoreResult;
use rusqlite::Connection;
use std::{path::Path, sync::mpsc};

/// Log pages that start a checkpoint (SQLite's own default).
const START_AT: i32 = 1_000;
/// Log pages at which the writer checkpoints itself as well (~40 MiB).
const WRITER_BACKSTOP: i32 = 10_000;

/// Installs the checkpointing of `writer`'s log: its commits report the log's length, and a
/// thread with its own connection to `path` copies the log back.
pub(crate) fn install(writer: &mut Connection, path: &Path) -> StoreResult<()> {
    install_with(writer, path, START_AT, WRITER_BACKSTOP)
}

fn install_with(writer: &mut Connection, path: &Path, start_at: i32, backstop: i32) -> StoreResult<()> {
    let conn = Connection::open(path).map_err(error::map)?;
    configure(&conn, false)?;
    // One pending request is enough: the checkpoint copies whatever the log holds by then.
    let (nudge, requests) = mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while requests.recv().is_ok() {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed; the next commit asks again");
                }
            }
        })
        .map_err(|e| bulwark_store::StoreError::Internal(format!("checkpoint thread: {e}")))?;
    writer
        .wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
            if pages >= start_at {
                let _ = nudge.try_send(());
            }
            if pages >= backstop {
                // Whatever this returns, the commit has happened: an error from the hook would
                // make it look failed. BUSY here means the thread is copying the log already.
                let _ = wal.checkpoint();
            }
            Ok(())
        }))
        .map_err(error::map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's backstop and the thread checkpointing at once: whichever finds the other at
    /// work gets SQLITE_BUSY, and the commit must still succeed.
    #[test]
    fn commits_succeed_while_checkpoints_collide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collide.db");
        let mut writer = Connection::open(&path).unwrap();
        configure(&writer, false).unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        install_with(&mut writer, &path, 1, 1).unwrap();
        for _ in 0..2_000 {
            writer.execute("INSERT INTO t VALUES (randomblob(8000))", []).unwrap();
        }
        let n: i64 = writer.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 2_000);
    }
}
