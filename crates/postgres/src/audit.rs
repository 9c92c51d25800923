//! The append-only audit log and staff assignments.

use crate::{MAX_PAGE, PgStore, areas::lock_areas, error::db, get};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Role, Scope},
    audit::{AuditEntry, AuditStamp, NewAuditEntry, Outcome},
    notify::Email,
    people::PersonId,
    workforce::{StaffMember, Team},
};
use bulwark_store::{AuditQuery, AuditStore, StaffStore, StoreError, StoreResult};
use tokio_postgres::{GenericClient, Transaction, types::ToSql};

/// Appends one successful entry per person from `stamp`, in the caller's transaction: one
/// request row, and the entries as one waiting row when they are a list (see [`append_list`]).
pub(crate) async fn append_stamped(
    tx: &Transaction<'_>,
    stamp: &AuditStamp,
    people: &[PersonId],
    detail: Option<String>,
) -> StoreResult<()> {
    let entry = stamp.entry(None, Outcome::Success, detail);
    append_list(tx, &Request::of(&entry), people).await
}

/// An audit request's fields as stored.
struct Request<'a> {
    at: Millis,
    user: Option<i64>,
    username: &'a str,
    role: Option<&'static str>,
    operation: &'static str,
    outcome: &'static str,
    detail: Option<&'a str>,
    request_id: &'a str,
}

impl<'a> Request<'a> {
    fn of(e: &'a NewAuditEntry) -> Self {
        Request {
            at: e.at,
            user: e.user,
            username: &e.username,
            role: e.role.map(Role::as_str),
            operation: e.operation.as_str(),
            outcome: e.outcome.as_str(),
            detail: e.detail.as_deref(),
            request_id: &e.request_id,
        }
    }
}

/// The people of `entries` when they are one request's: all sharing the first one's request and
/// each naming someone.
fn list_of(entries: &[NewAuditEntry]) -> Option<Vec<PersonId>> {
    let first = entries.first()?;
    if !entries.iter().all(|e| first.shares_request_with(e)) {
        return None;
    }
    entries.iter().map(|e| e.person).collect()
}

/// Appends a request and its entries, one per person in order. A list's entries are one row of
/// `audit_entries_waiting` with their numbers taken now, in order (migration 0013), moved into
/// `audit_entries` later by [`AuditStore::index_audit`]; a single entry is written at once.
async fn append_list(client: &impl GenericClient, request: &Request<'_>, people: &[PersonId]) -> StoreResult<()> {
    let entries = if people.len() < 2 {
        "INSERT INTO audit_entries (request, person_id) SELECT request.id, u.p FROM request, UNNEST($9::bigint[]) AS u(p)"
    } else {
        "INSERT INTO audit_entries_waiting (request, n, seqs, people)
         SELECT request.id, cardinality($9::bigint[]),
                ARRAY(SELECT nextval('audit_entries_seq_seq') FROM generate_series(1, cardinality($9::bigint[]))),
                $9::bigint[]
         FROM request"
    };
    let sql = format!(
        "WITH request AS (
             INSERT INTO audit_requests (at, account_id, username, role, operation, outcome, detail, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
         )
         {entries}"
    );
    client
        .execute(
            &sql,
            &[
                &request.at,
                &request.user,
                &request.username,
                &request.role,
                &request.operation,
                &request.outcome,
                &request.detail,
                &request.request_id,
                &people,
            ],
        )
        .await
        .map_err(db)?;
    Ok(())
}

/// Moves the waiting lists into `audit_entries`, in the order they came, whole, until `$1`
/// entries (at least one list); then whether others wait. Each list leaves the waiting table in
/// the statement that writes its entries (its trigger checks they are there), so a reader's
/// snapshot has every entry exactly once. Two servers moving the same list: the second's DELETE
/// finds it gone and writes nothing.
const MOVE_WAITING: &str = "WITH turn AS (
        SELECT request FROM (
            SELECT request, sum(n) OVER (ORDER BY request) - n AS before FROM audit_entries_waiting
        ) w WHERE before < $1
    ), moved AS (
        DELETE FROM audit_entries_waiting w USING turn WHERE w.request = turn.request
        RETURNING w.request, w.seqs, w.people
    ), written AS (
        INSERT INTO audit_entries (seq, request, person_id)
        SELECT u.seq, m.request, u.person FROM moved m, UNNEST(m.seqs, m.people) AS u(seq, person)
    )
    SELECT EXISTS (SELECT 1 FROM audit_entries_waiting WHERE request NOT IN (SELECT request FROM turn))";

/// Audit entries column by column, for `UNNEST` inserts: one request per run of entries that
/// share their request's fields, and each entry's request (its place among the requests, from 1)
/// and person.
pub(crate) struct AuditColumns<'a> {
    pub(crate) at: Vec<Millis>,
    pub(crate) user: Vec<Option<i64>>,
    pub(crate) username: Vec<&'a str>,
    pub(crate) role: Vec<Option<&'static str>>,
    pub(crate) operation: Vec<&'static str>,
    pub(crate) outcome: Vec<&'static str>,
    pub(crate) detail: Vec<Option<&'a str>>,
    pub(crate) request_id: Vec<&'a str>,
    pub(crate) entry_request: Vec<i64>,
    pub(crate) entry_person: Vec<Option<PersonId>>,
}

impl<'a> AuditColumns<'a> {
    pub(crate) fn of(entries: impl Iterator<Item = &'a NewAuditEntry>) -> Self {
        let mut a = AuditColumns {
            at: Vec::new(),
            user: Vec::new(),
            username: Vec::new(),
            role: Vec::new(),
            operation: Vec::new(),
            outcome: Vec::new(),
            detail: Vec::new(),
            request_id: Vec::new(),
            entry_request: Vec::new(),
            entry_person: Vec::new(),
        };
        let mut last: Option<&NewAuditEntry> = None;
        for e in entries {
            if !last.is_some_and(|l| l.shares_request_with(e)) {
                a.at.push(e.at);
                a.user.push(e.user);
                a.username.push(&e.username);
                a.role.push(e.role.map(|r| r.as_str()));
                a.operation.push(e.operation.as_str());
                a.outcome.push(e.outcome.as_str());
                a.detail.push(e.detail.as_deref());
                a.request_id.push(&e.request_id);
            }
            last = Some(e);
            a.entry_request.push(a.at.len() as i64);
            a.entry_person.push(e.person);
        }
        a
    }

    /// The columns in the order of [`audit_ctes`]' parameters.
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 10] {
        [
            &self.at,
            &self.user,
            &self.username,
            &self.role,
            &self.operation,
            &self.outcome,
            &self.detail,
            &self.request_id,
            &self.entry_request,
            &self.entry_person,
        ]
    }
}

/// Common table expressions that append [`AuditColumns`] given as the parameters numbered `p`
/// (in the order of [`AuditColumns::params`]), to put in a `WITH`: the requests take their ids
/// first (`MATERIALIZED`, so `nextval` runs once per request), then both tables are written.
pub(crate) fn audit_ctes(p: [usize; 10]) -> String {
    format!(
        "audit_request AS MATERIALIZED (
             SELECT nextval('audit_requests_id_seq') AS id, u.*
             FROM UNNEST(${}::bigint[], ${}::bigint[], ${}::text[], ${}::text[], ${}::text[], ${}::text[], ${}::text[],
                         ${}::text[]) WITH ORDINALITY
                  AS u(at, account_id, username, role, operation, outcome, detail, request_id, n)
         ), audit_requested AS (
             INSERT INTO audit_requests (id, at, account_id, username, role, operation, outcome, detail, request_id)
             SELECT id, at, account_id, username, role, operation, outcome, detail, request_id FROM audit_request ORDER BY n
         ), audited AS (
             INSERT INTO audit_entries (request, person_id)
             SELECT r.id, e.person FROM UNNEST(${}::bigint[], ${}::bigint[]) WITH ORDINALITY AS e(request, person, k)
             JOIN audit_request r ON r.n = e.request ORDER BY e.k
         )",
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9]
    )
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        if let Some(people) = list_of(&entries) {
            return append_list(&**client, &Request::of(&entries[0]), &people).await;
        }
        let a = AuditColumns::of(entries.iter());
        let sql = format!("WITH {} SELECT 1", audit_ctes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
        client.execute(&sql, &a.params()).await.map_err(db)?;
        Ok(())
    }

    /// Moves waiting lists into `audit_entries` (and so into its person index), about `limit`
    /// entries a turn. Appending a list's 50,000 entries as rows took ~125 ms of PostgreSQL's
    /// work before the list could be shown; keeping only the person index behind, as SQLite
    /// does, had saved nothing (BENCHMARKS.md).
    async fn index_audit(&self, limit: u32) -> StoreResult<bool> {
        let client = self.client().await?;
        let more = client.query_one(MOVE_WAITING, &[&i64::from(limit.max(1))]).await.map_err(db)?;
        get(&more, 0)
    }

    async fn audit_entries(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(person) = &query.person {
            params.push(person);
            conditions.push(format!("person_id = ${}", params.len()));
        }
        if let Some(user) = &query.user {
            params.push(user);
            conditions.push(format!("account_id = ${}", params.len()));
        }
        if let Some(before) = &query.before {
            params.push(before);
            conditions.push(format!("seq < ${}", params.len()));
        }
        let limit = i64::from(query.limit.min(MAX_PAGE));
        params.push(&limit);
        let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        // The view `audit_log` reads both tables, but a UNION ALL sorted as a whole is planned as
        // a sort of the whole log (1.5 s for 2 M entries): each table is read newest first up
        // to the limit on its own, then the two are merged.
        let limit = params.len();
        let sql = format!(
            "SELECT * FROM (
                 (SELECT seq, at, account_id, username, role, operation, person_id, outcome, detail, request_id
                  FROM audit_entries e JOIN audit_requests r ON r.id = e.request
                  {filter} ORDER BY seq DESC LIMIT ${limit})
                 UNION ALL
                 (SELECT seq, at, account_id, username, role, operation, person_id, outcome, detail, request_id
                  FROM audit_entries_waiting w JOIN audit_requests r ON r.id = w.request,
                       UNNEST(w.seqs, w.people) AS u(seq, person_id)
                  {filter} ORDER BY seq DESC LIMIT ${limit})
             ) l ORDER BY seq DESC LIMIT ${limit}"
        );
        let client = self.client().await?;
        let rows = client.query(&sql, &params).await.map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: get(r, 0)?,
                    at: get(r, 1)?,
                    user: get(r, 2)?,
                    username: get(r, 3)?,
                    role: get(r, 4)?,
                    operation: get(r, 5)?,
                    person: get(r, 6)?,
                    outcome: get(r, 7)?,
                    detail: get(r, 8)?,
                    request_id: get(r, 9)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl StaffStore for PgStore {
    async fn add_staff(&self, staff: Vec<StaffMember>) -> StoreResult<()> {
        if staff.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let mut area_ids: Vec<i64> = staff.iter().map(|s| s.area).collect();
        area_ids.sort_unstable();
        area_ids.dedup();
        let areas = lock_areas(&tx, &area_ids).await?;
        if let Some(missing) = area_ids.iter().find(|id| !areas.iter().any(|a| a.id == **id)) {
            return Err(StoreError::Invalid(format!("area {missing} does not exist")));
        }
        let people: Vec<i64> = staff.iter().map(|s| s.person).collect();
        let teams: Vec<&str> = staff.iter().map(|s| s.team.as_str()).collect();
        let area_col: Vec<i64> = staff.iter().map(|s| s.area).collect();
        let emails: Vec<Option<&str>> = staff.iter().map(|s| s.email.as_ref().map(Email::as_str)).collect();
        // One row per assignment (the last e-mail given wins), so the upsert touches each once.
        tx.execute(
            "INSERT INTO staff (person_id, team, area_id, area_path, email)
             SELECT DISTINCT ON (u.p, u.t, a.id) u.p, u.t, a.id, a.path, u.e
             FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY AS u(p, t, a, e, ord)
             JOIN areas a ON a.id = u.a
             ORDER BY u.p, u.t, a.id, u.e IS NOT NULL DESC, u.ord DESC
             ON CONFLICT (person_id, team, area_id) DO UPDATE SET email = COALESCE(EXCLUDED.email, staff.email)",
            &[&people, &teams, &area_col, &emails],
        )
        .await
        .map_err(|e| match db(e) {
            StoreError::Invalid(_) => StoreError::Invalid("a staff member is not a registered person".into()),
            other => other,
        })?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn staff(&self, scope: &Scope, team: Option<Team>) -> StoreResult<Vec<StaffMember>> {
        let (low, high) = scope.path_range();
        let client = self.client().await?;
        let team = team.map(Team::as_str);
        let rows = client
            .query(
                "SELECT person_id, team, area_id, email FROM staff
                 WHERE area_path >= $1 AND area_path < $2 AND ($3::text IS NULL OR team = $3)
                 ORDER BY area_path, team, person_id",
                &[&low, &high, &team],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let team: String = get(r, 1)?;
                let email: Option<String> = get(r, 3)?;
                Ok(StaffMember {
                    person: get(r, 0)?,
                    team: Team::parse(&team).ok_or_else(|| crate::error::corrupt("team", &team))?,
                    area: get(r, 2)?,
                    email: email
                        .map(|e| {
                            Email::parse(&e).map_err(|_| crate::error::corrupt("e-mail address", "not an address"))
                        })
                        .transpose()?,
                })
            })
            .collect()
    }
}
