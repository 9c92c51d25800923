//! The append-only audit log on SQLite. Triggers in the schema refuse UPDATE and DELETE.

use crate::{SqliteStore, error};
use async_trait::async_trait;
use bulwark_domain::audit::{AuditEntry, NewAuditEntry};
use bulwark_store::{AuditQuery, AuditStore, StoreResult};
use rusqlite::{Connection, params};

pub(crate) fn insert_audit(conn: &Connection, e: &NewAuditEntry) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, account_id, username, role, operation, person_id, outcome, detail, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.at,
            e.user,
            e.username,
            e.role.map(|r| r.as_str()),
            e.operation.as_str(),
            e.person,
            e.outcome.as_str(),
            e.detail,
            e.request_id
        ])
    })
    .map(|_| ())
    .map_err(error::map)
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write(move |c| entries.iter().try_for_each(|e| insert_audit(c, e))).await
    }

    async fn audit_entries(&self, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let q = q.clone();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, at, account_id, username, role, operation, person_id, outcome, detail, request_id FROM audit_log
                     WHERE (?1 IS NULL OR person_id = ?1) AND (?2 IS NULL OR account_id = ?2) AND (?3 IS NULL OR seq < ?3)
                     ORDER BY seq DESC LIMIT ?4",
                )
                .map_err(error::map)?;
            let rows = stmt
                .query_map(params![q.person, q.user, q.before, q.limit.min(1000)], |r| {
                    Ok(AuditEntry {
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        user: r.get(2)?,
                        username: r.get(3)?,
                        role: r.get(4)?,
                        operation: r.get(5)?,
                        person: r.get(6)?,
                        outcome: r.get(7)?,
                        detail: r.get(8)?,
                        request_id: r.get(9)?,
                    })
                })
                .map_err(error::map)?;
            rows.collect::<Result<_, _>>().map_err(error::map)
        })
        .await
    }
}
