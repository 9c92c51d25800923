//! The append-only audit log on SQLite: a request's fields once, a narrow row per entry, read
//! through the view `audit_log`. Triggers in the schema refuse UPDATE and DELETE. The index of
//! entries by person (`audit_people`) is filled behind the log by `index_audit`: see migration
//! 0014.

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
            // A person's entries: the index up to the entry it was built through, then the
            // entries appended since (the tail of the log's primary key).
            let sql = if q.person.is_some() {
                "WITH mine(seq) AS (
                     SELECT seq FROM audit_people WHERE person_id = ?1 AND (?3 IS NULL OR seq < ?3)
                     UNION ALL
                     SELECT seq FROM audit_entries
                     WHERE seq > (SELECT seq FROM audit_people_through) AND person_id = ?1 AND (?3 IS NULL OR seq < ?3)
                 )
                 SELECT l.seq, l.at, l.account_id, l.username, l.role, l.operation, l.person_id, l.outcome, l.detail, l.request_id
                 FROM mine JOIN audit_log l ON l.seq = mine.seq
                 WHERE (?2 IS NULL OR l.account_id = ?2)
                 ORDER BY mine.seq DESC LIMIT ?4"
            } else {
                // ?1 (no person here) is bound but unused: both statements take the same parameters.
                "SELECT seq, at, account_id, username, role, operation, person_id, outcome, detail, request_id FROM audit_log
                 WHERE (?2 IS NULL OR account_id = ?2) AND (?3 IS NULL OR seq < ?3)
                 ORDER BY seq DESC LIMIT ?4"
            };
            let mut stmt = c.prepare_cached(sql).map_err(error::map)?;
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

    async fn index_audit(&self, limit: u32) -> StoreResult<bool> {
        // Most calls find nothing waiting: a point read answers them without taking the writer.
        let waiting = self
            .read_point(|c| {
                c.query_row(
                    "SELECT (SELECT coalesce(max(seq), 0) FROM audit_entries) > (SELECT seq FROM audit_people_through)",
                    [],
                    |r| r.get::<_, bool>(0),
                )
                .map_err(error::map)
            })
            .await?;
        if !waiting {
            return Ok(false);
        }
        self.write(move |c| index_waiting(c, limit)).await
    }
}

/// Indexes the next `limit` entries after the mark (entry numbers have no gaps: the single writer
/// numbers them in commit order and nothing is deleted), in key order, and moves the mark, in the
/// writer's transaction: both commit together or not at all.
fn index_waiting(c: &Connection, limit: u32) -> StoreResult<bool> {
    let (through, last): (i64, i64) = c
        .query_row(
            "SELECT (SELECT seq FROM audit_people_through), (SELECT coalesce(max(seq), 0) FROM audit_entries)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(error::map)?;
    let upto = last.min(through.saturating_add(i64::from(limit.max(1))));
    if upto <= through {
        return Ok(false);
    }
    c.prepare_cached(
        "INSERT INTO audit_people (person_id, seq)
         SELECT person_id, seq FROM audit_entries WHERE seq > ?1 AND seq <= ?2 AND person_id IS NOT NULL
         ORDER BY person_id, seq",
    )
    .and_then(|mut s| s.execute(params![through, upto]))
    .map_err(error::map)?;
    c.prepare_cached("UPDATE audit_people_through SET seq = ?1")
        .and_then(|mut s| s.execute(params![upto]))
        .map_err(error::map)?;
    Ok(upto < last)
}
