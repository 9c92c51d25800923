//! The append-only audit log on SQLite: a request's fields once, a narrow row per entry, read
//! through the view `audit_log`. Triggers in the schema refuse UPDATE and DELETE.

use crate::{SqliteStore, error};
use async_trait::async_trait;
use bulwark_domain::audit::{AuditEntry, NewAuditEntry};
use bulwark_store::{AuditQuery, AuditStore, StoreResult};
use rusqlite::{Connection, params};

/// Appends one entry (a request of one).
pub(crate) fn insert_audit(conn: &Connection, e: &NewAuditEntry) -> StoreResult<()> {
    insert_audit_entries(conn, [e])
}

/// Appends `entries` in order: one `audit_requests` row for each run of entries that share their
/// request's fields, and one narrow `audit_entries` row per entry.
pub(crate) fn insert_audit_entries<'a>(
    conn: &Connection,
    entries: impl IntoIterator<Item = &'a NewAuditEntry>,
) -> StoreResult<()> {
    let mut request = conn
        .prepare_cached(
            "INSERT INTO audit_requests (at, account_id, username, role, operation, outcome, detail, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(error::map)?;
    let mut entry =
        conn.prepare_cached("INSERT INTO audit_entries (request, person_id) VALUES (?1, ?2)").map_err(error::map)?;
    let mut last: Option<(&NewAuditEntry, i64)> = None;
    for e in entries {
        let id = match last {
            Some((l, id)) if l.shares_request_with(e) => id,
            _ => request
                .insert(params![
                    e.at,
                    e.user,
                    e.username,
                    e.role.map(|r| r.as_str()),
                    e.operation.as_str(),
                    e.outcome.as_str(),
                    e.detail,
                    e.request_id
                ])
                .map_err(error::map)?,
        };
        last = Some((e, id));
        entry.execute(params![id, e.person]).map_err(error::map)?;
    }
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write(move |c| insert_audit_entries(c, &entries)).await
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
