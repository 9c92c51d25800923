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
use tokio_postgres::{Transaction, types::ToSql};

/// Appends one successful entry per person from `stamp`, in the caller's transaction: one
/// request row and a narrow entry per person.
pub(crate) async fn append_stamped(
    tx: &Transaction<'_>,
    stamp: &AuditStamp,
    people: &[PersonId],
    detail: Option<String>,
) -> StoreResult<()> {
    tx.execute(
        "WITH request AS (
             INSERT INTO audit_requests (at, account_id, username, role, operation, outcome, detail, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
         )
         INSERT INTO audit_entries (request, person_id)
         SELECT request.id, u.p FROM request, UNNEST($9::bigint[]) WITH ORDINALITY AS u(p, n) ORDER BY u.n",
        &[
            &stamp.at,
            &stamp.user,
            &stamp.username,
            &stamp.role.map(Role::as_str),
            &stamp.operation.as_str(),
            &Outcome::Success.as_str(),
            &detail,
            &stamp.request_id,
            &people,
        ],
    )
    .await
    .map_err(db)?;
    Ok(())
}

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
        let a = AuditColumns::of(entries.iter());
        let client = self.client().await?;
        let sql = format!("WITH {} SELECT 1", audit_ctes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
        client.execute(&sql, &a.params()).await.map_err(db)?;
        Ok(())
    }

    /// Nothing waits: every append indexes its entries by person at once (`audit_entries_person`).
    /// Keeping a list read's keys out of that index until later, as SQLite does, was measured and
    /// left: PostgreSQL's append of 50,000 entries took as long without it (medians 123 and 141 ms
    /// against 127 and 125), and registrations paid 3–7 % for the queue (BENCHMARKS.md).
    async fn index_audit(&self, _limit: u32) -> StoreResult<bool> {
        Ok(false)
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
        let sql = format!(
            "SELECT seq, at, account_id, username, role, operation, person_id, outcome, detail, request_id
             FROM audit_log {filter} ORDER BY seq DESC LIMIT ${}",
            params.len()
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
