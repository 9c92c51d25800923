//! WAL checkpoints on their own thread, so that no caller waits for one.
//!
//! A commit appends pages to the write-ahead log; a checkpoint copies them back into the database
//! file (scattered writes, then an fsync of the file). SQLite's default runs it inside the commit
//! that takes the log past 1,000 pages, so every caller of that batch waits for the copy as well.
//! Here the writer's commit only tells this thread how long the log is, and the thread copies it
//! with a PASSIVE checkpoint, which neither waits for nor blocks the writer and the readers.
//! If the log grows far beyond what this thread keeps up with, the writer checkpoints itself, as
//! before, so the log stays bounded.

use crate::{configure, error};
use bulwark_store::StoreResult;
use rusqlite::Connection;
use std::{path::Path, sync::mpsc};

/// Log pages that start a checkpoint (SQLite's own default).
const START_AT: i32 = 1_000;
/// Log pages at which the writer stops relying on this thread and checkpoints itself (~400 MiB).
const WRITER_BACKSTOP: i32 = 100_000;

/// Installs the checkpointing of `writer`'s log: its commits report the log's length, and a
/// thread with its own connection to `path` copies the log back.
pub(crate) fn install(writer: &mut Connection, path: &Path) -> StoreResult<()> {
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
            if pages >= WRITER_BACKSTOP {
                wal.checkpoint()?;
            } else if pages >= START_AT {
                let _ = nudge.try_send(());
            }
            Ok(())
        }))
        .map_err(error::map)
}
