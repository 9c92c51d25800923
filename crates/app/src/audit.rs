//! Reading the audit log (the auditor's task).

use crate::{Actor, AppResult};
use bulwark_domain::{Millis, access::Operation, audit::AuditEntry};
use bulwark_store::{AuditQuery, Store};

pub async fn entries(store: &dyn Store, actor: &Actor, query: AuditQuery, now: Millis) -> AppResult<Vec<AuditEntry>> {
    actor.authorize(store, Operation::AuditRead, now).await?;
    Ok(store.audit_entries(&query).await?)
}

/// How many entries one call of [`index_waiting`] indexes at most. On SQLite the call holds the
/// single writer, and in a log of 30 M entries each key lands on a leaf page of its own: 4,096 a
/// turn held it long enough to put a grid's untested list at 14 ms p99 over HTTP at city scale,
/// 512 at 8.8 ms (BENCHMARKS.md). A list of 50,000 people is indexed in a hundred short turns
/// between the other writes.
pub const INDEX_TURN: u32 = 512;

/// Adds entries appended since the last call to the person index, a turn at a time, until none
/// are waiting: the server's background work, also run by tools that write many entries. People's
/// histories are complete without it (see [`bulwark_store::AuditStore::index_audit`]); it keeps
/// them fast.
pub async fn index_waiting(store: &dyn Store) -> AppResult<()> {
    while store.index_audit(INDEX_TURN).await? {}
    Ok(())
}
