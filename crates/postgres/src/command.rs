//! [`CommandStore`] on PostgreSQL.
//!
//! - Activation is one transaction of a few statements whatever the number of members: groups,
//!   members (with their token hashes) and tasks each go in as one `INSERT … SELECT FROM UNNEST`
//!   of arrays.
//! - An answer locks its member's row (`SELECT … FOR UPDATE`), so concurrent answers of one person
//!   are decided one after the other on what is stored; the state update, the log entry and a
//!   first arrival's timeline entry are then one statement (data-modifying CTEs), sent together
//!   with the `COMMIT`: two round trips per answer.
//! - A task change locks the task's row the same way. `mark_overdue` claims tasks with
//!   `UPDATE … WHERE overdue_alerted_at IS NULL … RETURNING`: a concurrent call (from this server
//!   or another) waits for the row lock, sees the mark on re-checking and skips the task.
//! - Saving a plan takes a transaction-scoped advisory lock on the plan's key, so two saves of one
//!   key at once make two versions one after the other instead of colliding.

use crate::{
    PgStore,
    error::{Explain, corrupt, db},
    get,
};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    command::{
        IncidentId, IncidentLevel, MemberState, Plan, PlanKey, RollCallPlace, RollCallStatus, Task, TaskId, TaskStatus,
        TimelineEntry, TimelineKind,
    },
    people::PersonId,
};
use bulwark_store::{
    CommandStore, StoreError, StoreResult,
    command::{Group, Incident, NewAnswer, NewIncident, NewTaskChange, StoredPlan},
};
use deadpool_postgres::GenericClient;
use tokio_postgres::{Row, types::ToSql};

// ---------------------------------------------------------------------------------------------
// Rows

fn version_of(v: i32) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| corrupt("plan version", v))
}

/// Columns: version, json, saved_at, saved_by.
fn plan_from(row: &Row) -> StoreResult<StoredPlan> {
    let json: String = get(row, 1)?;
    let plan: Plan = serde_json::from_str(&json).map_err(|e| corrupt("plan", e))?;
    Ok(StoredPlan { plan, version: version_of(get(row, 0)?)?, saved_at: get(row, 2)?, saved_by: get(row, 3)? })
}

const INCIDENT_COLS: &str = "id, plan_key, plan_version, title, trigger_text, level, area_id, area_path, \
    headquarters, forward_post, activated_at, assembly_deadline, activated_by";

fn incident_from(row: &Row) -> StoreResult<Incident> {
    let key: String = get(row, 1)?;
    let level: i16 = get(row, 5)?;
    Ok(Incident {
        id: get(row, 0)?,
        plan: PlanKey::parse(&key).map_err(|e| corrupt("plan key", e))?,
        plan_version: version_of(get(row, 2)?)?,
        title: get(row, 3)?,
        trigger: get(row, 4)?,
        level: u8::try_from(level)
            .map_err(|_| corrupt("incident level", level))
            .and_then(|l| IncidentLevel::try_from(l).map_err(|e| corrupt("incident level", e)))?,
        area: get(row, 6)?,
        area_path: get(row, 7)?,
        headquarters: get(row, 8)?,
        forward_post: get(row, 9)?,
        activated_at: get(row, 10)?,
        assembly_deadline: get(row, 11)?,
        activated_by: get(row, 12)?,
    })
}

fn group_from(row: &Row) -> StoreResult<Group> {
    let position: i32 = get(row, 2)?;
    Ok(Group {
        id: get(row, 0)?,
        incident: get(row, 1)?,
        position: u32::try_from(position).map_err(|_| corrupt("group position", position))?,
        key: get(row, 3)?,
        name: get(row, 4)?,
        name_en: get(row, 5)?,
        lead: get(row, 6)?,
        lead_person: get(row, 7)?,
    })
}

/// Columns: person_id, group_id, status, place, answered_at, arrived_at.
fn member_from(row: &Row) -> StoreResult<MemberState> {
    let status: Option<String> = get(row, 2)?;
    let place: Option<String> = get(row, 3)?;
    Ok(MemberState {
        person: get(row, 0)?,
        group: get(row, 1)?,
        status: status.map(|s| RollCallStatus::parse(&s).ok_or_else(|| corrupt("roll-call status", &s))).transpose()?,
        place: place.map(|s| RollCallPlace::parse(&s).ok_or_else(|| corrupt("roll-call place", &s))).transpose()?,
        answered_at: get(row, 4)?,
        arrived_at: get(row, 5)?,
    })
}

const TASK_COLS: &str = "id, incident_id, group_id, key, title, title_en, deadline, status, owner, notes, \
    closed_at, overdue_alerted_at, updated_at";

fn task_from(row: &Row) -> StoreResult<Task> {
    let status: String = get(row, 7)?;
    Ok(Task {
        id: get(row, 0)?,
        incident: get(row, 1)?,
        group: get(row, 2)?,
        key: get(row, 3)?,
        title: get(row, 4)?,
        title_en: get(row, 5)?,
        deadline: get(row, 6)?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("task status", &status))?,
        owner: get(row, 8)?,
        notes: get(row, 9)?,
        closed_at: get(row, 10)?,
        overdue_alerted_at: get(row, 11)?,
        updated_at: get(row, 12)?,
    })
}

const TIMELINE_COLS: &str = "id, incident_id, at, kind, text, account_id";

fn timeline_from(row: &Row) -> StoreResult<TimelineEntry> {
    let kind: String = get(row, 3)?;
    Ok(TimelineEntry {
        id: get(row, 0)?,
        incident: get(row, 1)?,
        at: get(row, 2)?,
        kind: TimelineKind::parse(&kind).ok_or_else(|| corrupt("timeline kind", &kind))?,
        text: get(row, 4)?,
        by: get(row, 5)?,
    })
}

async fn latest_plan(client: &impl GenericClient, key: &PlanKey) -> StoreResult<Option<(StoredPlan, String)>> {
    let row = client
        .query_opt(
            "SELECT version, json, saved_at, saved_by FROM plans WHERE key = $1 ORDER BY version DESC LIMIT 1",
            &[&key.as_str()],
        )
        .await
        .map_err(db)?;
    row.map(|r| Ok((plan_from(&r)?, get(&r, 1)?))).transpose()
}

async fn task_by_id(client: &impl GenericClient, id: TaskId, lock: bool) -> StoreResult<Option<Task>> {
    let sql = format!("SELECT {TASK_COLS} FROM tasks WHERE id = $1{}", if lock { " FOR UPDATE" } else { "" });
    let stmt = client.prepare_cached(&sql).await.map_err(db)?;
    let row = client.query_opt(&stmt, &[&id]).await.map_err(db)?;
    row.as_ref().map(task_from).transpose()
}

const MEMBER_FOR_UPDATE: &str = "SELECT person_id, group_id, status, place, answered_at, arrived_at
    FROM rollcall_members WHERE incident_id = $1 AND person_id = $2 FOR UPDATE";

/// The state change (when `$9`), the log entry and the first arrival's timeline entry (when `$11`)
/// in one statement.
const ANSWER_WRITE: &str = "WITH moved AS (
        UPDATE rollcall_members SET status = $3, place = $4, answered_at = $5, arrived_at = $6
        WHERE incident_id = $1 AND person_id = $2 AND $9
    ), arrival AS (
        INSERT INTO timeline (incident_id, at, kind, text, account_id)
        SELECT $1::bigint, $7::bigint, 'arrival', $10::text, $8::bigint WHERE $11::bool
    ), audit_request AS (
        INSERT INTO audit_requests (at, account_id, username, role, operation, outcome, detail, request_id)
        VALUES ($14, $15, $16, $17, $18, $20, $21, $22) RETURNING id
    ), audited AS (
        INSERT INTO audit_entries (request, person_id) SELECT id, $19::bigint FROM audit_request
    )
    INSERT INTO rollcall_answers (incident_id, person_id, status, place, at, account_id)
    VALUES ($1, $2, $12, $13, $7, $8)";

const MARK_OVERDUE: &str = "WITH due AS (
        UPDATE tasks SET overdue_alerted_at = $1
        WHERE overdue_alerted_at IS NULL AND status IN ('open','in_progress') AND deadline < $1
        RETURNING id, incident_id, group_id, key, title, title_en, deadline, status, owner, notes,
                  closed_at, overdue_alerted_at, updated_at
    ), entries AS (
        INSERT INTO timeline (incident_id, at, kind, text, account_id)
        SELECT incident_id, $1, 'task_overdue', title, NULL FROM due ORDER BY deadline, id
    )
    SELECT * FROM due ORDER BY deadline, id";

impl PgStore {
    async fn save_plan_in(&self, plan: &Plan, json: &str, at: Millis, by: UserId) -> StoreResult<StoredPlan> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('plan:' || $1, 0))", &[&plan.key.as_str()])
            .await
            .map_err(db)?;
        let latest = latest_plan(&tx, &plan.key).await?;
        if let Some((stored, stored_json)) = &latest
            && stored_json == json
        {
            return Ok(stored.clone());
        }
        let version = latest.map_or(1, |(p, _)| p.version + 1);
        let v = i32::try_from(version).map_err(|_| StoreError::Invalid("plan: too many versions".into()))?;
        tx.execute(
            "INSERT INTO plans (key, version, json, saved_at, saved_by) VALUES ($1, $2, $3, $4, $5)",
            &[&plan.key.as_str(), &v, &json, &at, &by],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(StoredPlan { plan: plan.clone(), version, saved_at: at, saved_by: by })
    }

    async fn open_incident_in(&self, new: &NewIncident) -> StoreResult<IncidentId> {
        let members = new.member_rows()?;
        let version = i32::try_from(new.plan_version)
            .map_err(|_| StoreError::Invalid(format!("plan: {} has no version {}", new.plan, new.plan_version)))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let row = tx
            .query_one(
                "SELECT (SELECT path FROM areas WHERE id = $1),
                        EXISTS (SELECT 1 FROM plans WHERE key = $2 AND version = $3)",
                &[&new.area, &new.plan.as_str(), &version],
            )
            .await
            .map_err(db)?;
        let area_path: Option<String> = get(&row, 0)?;
        let plan_exists: bool = get(&row, 1)?;
        if !plan_exists {
            return Err(StoreError::Invalid(format!("plan: {} has no version {}", new.plan, new.plan_version)));
        }
        let area_path =
            area_path.ok_or_else(|| StoreError::Invalid(format!("area: area {} does not exist", new.area)))?;
        let a = &new.activation;
        let level = i16::from(new.level.number());
        let incident: IncidentId = get(
            &tx.query_one(
                "INSERT INTO incidents (plan_key, plan_version, title, trigger_text, level, area_id, area_path,
                     headquarters, forward_post, activated_at, assembly_deadline, activated_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                &[
                    &new.plan.as_str(),
                    &version,
                    &new.title,
                    &new.trigger,
                    &level,
                    &new.area,
                    &area_path,
                    &new.headquarters,
                    &new.forward_post,
                    &a.activated_at,
                    &a.assembly_deadline,
                    &new.by,
                ],
            )
            .await
            .map_err(db)?,
            0,
        )?;

        let keys: Vec<&str> = a.groups.iter().map(|g| g.key.as_str()).collect();
        let names: Vec<&str> = a.groups.iter().map(|g| g.name.as_str()).collect();
        let names_en: Vec<&str> = a.groups.iter().map(|g| g.name_en.as_str()).collect();
        let leads: Vec<&str> = a.groups.iter().map(|g| g.lead.as_str()).collect();
        let lead_people: Vec<Option<PersonId>> = a.groups.iter().map(|g| g.lead_person).collect();
        let rows = tx
            .query(
                "INSERT INTO incident_groups (incident_id, position, key, name, name_en, lead, lead_person)
                 SELECT $1, (u.o - 1)::int, u.k, u.n, u.ne, u.l, u.lp
                 FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY
                      AS u(k, n, ne, l, lp, o)
                 ORDER BY u.o
                 RETURNING id, position",
                &[&incident, &keys, &names, &names_en, &leads, &lead_people],
            )
            .await
            .map_err(db)?;
        let mut groups = vec![0_i64; a.groups.len()];
        for row in &rows {
            let position: i32 = get(row, 1)?;
            let slot = usize::try_from(position).ok().and_then(|p| groups.get_mut(p));
            *slot.ok_or_else(|| StoreError::Internal(format!("group position {position} out of range")))? =
                get(row, 0)?;
        }

        let people: Vec<PersonId> = members.iter().map(|(_, p, _)| *p).collect();
        // The members table has no foreign keys (see the migration): one probe per person here.
        let missing: Option<PersonId> = get(
            &tx.query_one(
                "SELECT min(u.p) FROM UNNEST($1::bigint[]) AS u(p) WHERE NOT EXISTS (SELECT 1 FROM persons WHERE id = u.p)",
                &[&people],
            )
            .await
            .map_err(db)?,
            0,
        )?;
        if let Some(person) = missing {
            return Err(StoreError::Invalid(format!("members: person {person} does not exist")));
        }
        let member_groups: Vec<i64> = members.iter().map(|(g, _, _)| groups[*g]).collect();
        let tokens: Vec<&str> = members.iter().map(|(_, _, t)| *t).collect();
        tx.execute(
            "INSERT INTO rollcall_members (incident_id, person_id, group_id, token_hash)
             SELECT $1, u.p, u.g, u.t FROM UNNEST($2::bigint[], $3::bigint[], $4::text[]) AS u(p, g, t)",
            &[&incident, &people, &member_groups, &tokens],
        )
        .await
        .map_err(db)
        .conflict(|| "tokens: a member's token is already in use".into())?;

        let mut task_groups = Vec::with_capacity(a.tasks.len());
        for t in &a.tasks {
            task_groups.push(*groups.get(t.group).ok_or_else(|| {
                StoreError::Invalid(format!("tasks: task {} names group {} of none", t.key, t.group))
            })?);
        }
        let task_keys: Vec<&str> = a.tasks.iter().map(|t| t.key.as_str()).collect();
        let titles: Vec<&str> = a.tasks.iter().map(|t| t.title.as_str()).collect();
        let titles_en: Vec<&str> = a.tasks.iter().map(|t| t.title_en.as_str()).collect();
        let deadlines: Vec<Millis> = a.tasks.iter().map(|t| t.deadline).collect();
        tx.execute(
            "INSERT INTO tasks (incident_id, group_id, key, title, title_en, deadline, status, updated_at)
             SELECT $1, u.g, u.k, u.t, u.te, u.d, 'open', $7
             FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY
                  AS u(g, k, t, te, d, o)
             ORDER BY u.o",
            &[&incident, &task_groups, &task_keys, &titles, &titles_en, &deadlines, &a.activated_at],
        )
        .await
        .map_err(db)
        .conflict(|| "tasks: two tasks share a key".into())?;
        tx.execute(
            "INSERT INTO timeline (incident_id, at, kind, text, account_id) VALUES ($1, $2, 'activated', $3, $4)",
            &[&incident, &a.activated_at, &new.timeline_text, &new.by],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(incident)
    }

    /// One answer in two round trips: `BEGIN` and the member's `SELECT … FOR UPDATE` are sent
    /// together, then the write and `COMMIT` (which PostgreSQL turns into a rollback when the write
    /// failed). Runs as a task of its own, so that a caller who stops waiting cannot leave the
    /// connection inside the transaction.
    async fn record_answer_in(&self, a: NewAnswer) -> StoreResult<Option<(MemberState, MemberState)>> {
        let this = self.clone();
        tokio::spawn(async move { this.record_answer_pipelined(&a).await })
            .await
            .map_err(|e| StoreError::Internal(format!("roll-call answer task failed: {e}")))?
    }

    async fn record_answer_pipelined(&self, a: &NewAnswer) -> StoreResult<Option<(MemberState, MemberState)>> {
        let client = self.client().await?;
        let (select, write) =
            tokio::try_join!(client.prepare_cached(MEMBER_FOR_UPDATE), client.prepare_cached(ANSWER_WRITE))
                .map_err(db)?;
        let key: [&(dyn ToSql + Sync); 2] = [&a.incident, &a.person];
        let (begun, row) = tokio::join!(client.batch_execute("BEGIN"), client.query_opt(&select, &key));
        begun.map_err(db)?;
        let before = match row.map_err(db).and_then(|row| row.as_ref().map(member_from).transpose()) {
            Ok(Some(before)) => before,
            Ok(None) => {
                client.batch_execute("ROLLBACK").await.map_err(db)?;
                return Ok(None);
            }
            Err(e) => {
                client.batch_execute("ROLLBACK").await.map_err(db)?;
                return Err(e);
            }
        };
        let after = before.answer(a.status, a.place.clone(), a.at);
        let first_arrival = before.arrived_at.is_none() && after.arrived_at.is_some();
        let status = after.status.map(RollCallStatus::as_str);
        let place = after.place.as_ref().map(RollCallPlace::as_str);
        let moved = after != before;
        let answered_status = a.status.as_str();
        let answered_place = a.place.as_ref().map(RollCallPlace::as_str);
        let audit = &a.audit;
        let (role, operation) = (audit.role.map(|r| r.as_str()), audit.operation.as_str());
        let outcome = audit.outcome.as_str();
        let params: [&(dyn ToSql + Sync); 22] = [
            &a.incident,
            &a.person,
            &status,
            &place,
            &after.answered_at,
            &after.arrived_at,
            &a.at,
            &a.by,
            &moved,
            &a.arrival_text,
            &first_arrival,
            &answered_status,
            &answered_place,
            &audit.at,
            &audit.user,
            &audit.username,
            &role,
            &operation,
            &audit.person,
            &outcome,
            &audit.detail,
            &audit.request_id,
        ];
        let (written, committed) = tokio::join!(client.execute(&write, &params), client.batch_execute("COMMIT"));
        written.map_err(db)?;
        committed.map_err(db)?;
        Ok(Some((before, after)))
    }

    async fn update_task_in(&self, c: &NewTaskChange) -> StoreResult<Task> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let current = task_by_id(&tx, c.task, true).await?.ok_or(StoreError::NotFound)?;
        let task = c.change.apply(&current, c.at);
        let kind = if task.status == TaskStatus::Done && current.status != TaskStatus::Done {
            TimelineKind::TaskDone
        } else {
            TimelineKind::TaskChanged
        };
        tx.execute(
            "WITH changed AS (
                 UPDATE tasks SET status = $2, owner = $3, notes = $4, closed_at = $5, updated_at = $6 WHERE id = $1
             )
             INSERT INTO timeline (incident_id, at, kind, text, account_id) VALUES ($7, $6, $8, $9, $10)",
            &[
                &task.id,
                &task.status.as_str(),
                &task.owner,
                &task.notes,
                &task.closed_at,
                &c.at,
                &task.incident,
                &kind.as_str(),
                &c.timeline_text,
                &c.by,
            ],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(task)
    }
}

#[async_trait]
impl CommandStore for PgStore {
    async fn save_plan(&self, plan: &Plan, at: Millis, by: UserId) -> StoreResult<StoredPlan> {
        let json = serde_json::to_string(plan).map_err(|e| StoreError::Internal(format!("plan as JSON: {e}")))?;
        self.save_plan_in(plan, &json, at, by).await
    }

    async fn plans(&self) -> StoreResult<Vec<StoredPlan>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT DISTINCT ON (key) version, json, saved_at, saved_by FROM plans ORDER BY key, version DESC",
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(plan_from).collect()
    }

    async fn plan(&self, key: &PlanKey, version: Option<u32>) -> StoreResult<Option<StoredPlan>> {
        let client = self.client().await?;
        let Some(v) = version else { return Ok(latest_plan(&client, key).await?.map(|(p, _)| p)) };
        let Ok(v) = i32::try_from(v) else { return Ok(None) };
        let row = client
            .query_opt(
                "SELECT version, json, saved_at, saved_by FROM plans WHERE key = $1 AND version = $2",
                &[&key.as_str(), &v],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(plan_from).transpose()
    }

    async fn open_incident(&self, new: NewIncident) -> StoreResult<IncidentId> {
        self.open_incident_in(&new).await
    }

    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>> {
        let client = self.client().await?;
        let row = client
            .query_opt(&format!("SELECT {INCIDENT_COLS} FROM incidents WHERE id = $1"), &[&id])
            .await
            .map_err(db)?;
        row.as_ref().map(incident_from).transpose()
    }

    async fn incidents(&self, scope: &Scope) -> StoreResult<Vec<Incident>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let rows = client
            .query(
                &format!(
                    "SELECT {INCIDENT_COLS} FROM incidents WHERE area_path >= $1 AND area_path < $2
                     ORDER BY activated_at DESC, id DESC"
                ),
                &[&low, &high],
            )
            .await
            .map_err(db)?;
        rows.iter().map(incident_from).collect()
    }

    async fn groups(&self, incident: IncidentId) -> StoreResult<Vec<Group>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, incident_id, position, key, name, name_en, lead, lead_person FROM incident_groups
                 WHERE incident_id = $1 ORDER BY position",
                &[&incident],
            )
            .await
            .map_err(db)?;
        rows.iter().map(group_from).collect()
    }

    async fn members(&self, incident: IncidentId) -> StoreResult<Vec<MemberState>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT m.person_id, m.group_id, m.status, m.place, m.answered_at, m.arrived_at
                 FROM rollcall_members m JOIN incident_groups g ON g.id = m.group_id
                 WHERE m.incident_id = $1 ORDER BY g.position, m.person_id",
                &[&incident],
            )
            .await
            .map_err(db)?;
        rows.iter().map(member_from).collect()
    }

    async fn member_by_token(&self, token_hash: &str) -> StoreResult<Option<(IncidentId, PersonId)>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT incident_id, person_id FROM rollcall_members WHERE token_hash = $1")
            .await
            .map_err(db)?;
        let row = client.query_opt(&stmt, &[&token_hash]).await.map_err(db)?;
        row.map(|r| Ok((get(&r, 0)?, get(&r, 1)?))).transpose()
    }

    async fn replace_tokens(&self, incident: IncidentId, tokens: Vec<(PersonId, String)>) -> StoreResult<u64> {
        let client = self.client().await?;
        // One statement: every token is replaced or none is.
        let stmt = client
            .prepare_cached(
                "UPDATE rollcall_members m SET token_hash = t.hash
                 FROM UNNEST($2::bigint[], $3::text[]) AS t(person, hash)
                 WHERE m.incident_id = $1 AND m.person_id = t.person",
            )
            .await
            .map_err(db)?;
        let (persons, hashes): (Vec<PersonId>, Vec<String>) = tokens.into_iter().unzip();
        client.execute(&stmt, &[&incident, &persons, &hashes]).await.map_err(db)
    }

    async fn record_answer(&self, answer: NewAnswer) -> StoreResult<Option<(MemberState, MemberState)>> {
        self.record_answer_in(answer).await
    }

    async fn tasks(&self, incident: IncidentId) -> StoreResult<Vec<Task>> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {TASK_COLS} FROM tasks WHERE incident_id = $1 ORDER BY deadline, id"), &[&incident])
            .await
            .map_err(db)?;
        rows.iter().map(task_from).collect()
    }

    async fn task(&self, id: TaskId) -> StoreResult<Option<Task>> {
        let client = self.client().await?;
        task_by_id(&client, id, false).await
    }

    async fn update_task(&self, change: NewTaskChange) -> StoreResult<Task> {
        self.update_task_in(&change).await
    }

    async fn mark_overdue(&self, now: Millis) -> StoreResult<Vec<Task>> {
        let client = self.client().await?;
        let rows = client.query(MARK_OVERDUE, &[&now]).await.map_err(db)?;
        rows.iter().map(task_from).collect()
    }

    async fn append_timeline(
        &self,
        incident: IncidentId,
        at: Millis,
        kind: TimelineKind,
        text: &str,
        by: Option<UserId>,
    ) -> StoreResult<TimelineEntry> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "INSERT INTO timeline (incident_id, at, kind, text, account_id)
                     SELECT id, $2::bigint, $3::text, $4::text, $5::bigint FROM incidents WHERE id = $1
                     RETURNING {TIMELINE_COLS}"
                ),
                &[&incident, &at, &kind.as_str(), &text, &by],
            )
            .await
            .map_err(db)?;
        row.as_ref().map(timeline_from).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn timeline(&self, incident: IncidentId) -> StoreResult<Vec<TimelineEntry>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {TIMELINE_COLS} FROM timeline WHERE incident_id = $1 ORDER BY at, id"),
                &[&incident],
            )
            .await
            .map_err(db)?;
        rows.iter().map(timeline_from).collect()
    }
}
