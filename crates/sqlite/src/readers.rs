//! A small pool of read-only connections. WAL lets readers proceed while the writer commits, and
//! each read sees every transaction committed before it started.

use crate::{configure, error};
use bulwark_store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::{path::PathBuf, sync::Mutex};

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Connections kept open between reads; more are opened under load and closed afterwards.
const KEEP_IDLE: usize = 8;

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Readers {
        Readers { path, idle: Mutex::new(Vec::new()) }
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = match self.idle.lock().expect("reader pool poisoned").pop() {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.path).map_err(error::map)?;
                configure(&c, true)?;
                c
            }
        };
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let r = f(&conn);
            (conn, r)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?;
        let mut idle = self.idle.lock().expect("reader pool poisoned");
        if idle.len() < KEEP_IDLE {
            idle.push(conn);
        }
        result
    }
}
