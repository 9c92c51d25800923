//! [`CommandStore`] on SQLite: every write runs on the writer thread inside its group commit, so
//! a member's roll-call row, a task and the overdue marks are read and changed by one writer at a
//! time (two concurrent `mark_overdue` calls are simply one after the other); reads go through the
//! read pool. Activation inserts its thousands of roll-call rows with one prepared statement
//! reused, in the one transaction of its writer job.

use crate::{SqliteStore, areas::conversion, error, error::corrupt};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    command::{
        GroupId, IncidentId, IncidentLevel, MemberState, Plan, PlanKey, RollCallPlace, RollCallStatus, Task, TaskId,
        TaskStatus, TimelineEntry, TimelineKind,
    },
    people::PersonId,
};
use bulwark_store::{
    CommandStore, StoreError, StoreResult,
    command::{Group, Incident, NewAnswer, NewIncident, NewTaskChange, StoredPlan},
};
use rusqlite::{Connection, OptionalExtension, Row, params};

// ---------------------------------------------------------------------------------------------
// Rows

fn plan_from_row(key: &str, row: &Row<'_>) -> rusqlite::Result<StoredPlan> {
    let json: String = row.get(1)?;
    let plan: Plan = serde_json::from_str(&json).map_err(|e| conversion(corrupt(&format!("plan {key}"), e)))?;
    Ok(StoredPlan { plan, version: row.get(0)?, saved_at: row.get(2)?, saved_by: row.get(3)? })
}

const INCIDENT_COLUMNS: &str = "id, plan_key, plan_version, title, trigger_text, level, area_id, area_path, \
    headquarters, forward_post, activated_at, assembly_deadline, activated_by";

fn incident_from_row(row: &Row<'_>) -> rusqlite::Result<Incident> {
    let key: String = row.get(1)?;
    let level: u8 = row.get(5)?;
    Ok(Incident {
        id: row.get(0)?,
        plan: PlanKey::parse(&key).map_err(|e| conversion(corrupt("plan key", e)))?,
        plan_version: row.get(2)?,
        title: row.get(3)?,
        trigger: row.get(4)?,
        level: IncidentLevel::try_from(level).map_err(|e| conversion(corrupt("incident level", e)))?,
        area: row.get(6)?,
        area_path: row.get(7)?,
        headquarters: row.get(8)?,
        forward_post: row.get(9)?,
        activated_at: row.get(10)?,
        assembly_deadline: row.get(11)?,
        activated_by: row.get(12)?,
    })
}

fn group_from_row(row: &Row<'_>) -> rusqlite::Result<Group> {
    Ok(Group {
        id: row.get(0)?,
        incident: row.get(1)?,
        position: row.get(2)?,
        key: row.get(3)?,
        name: row.get(4)?,
        name_en: row.get(5)?,
        lead: row.get(6)?,
        lead_person: row.get(7)?,
    })
}

fn status_of(stored: Option<String>) -> rusqlite::Result<Option<RollCallStatus>> {
    stored.map(|s| RollCallStatus::parse(&s).ok_or_else(|| conversion(corrupt("roll-call status", &s)))).transpose()
}

fn place_of(stored: Option<String>) -> rusqlite::Result<Option<RollCallPlace>> {
    stored.map(|s| RollCallPlace::parse(&s).ok_or_else(|| conversion(corrupt("roll-call place", &s)))).transpose()
}

/// Columns: person_id, group_id, status, place, answered_at, arrived_at.
fn member_from_row(row: &Row<'_>) -> rusqlite::Result<MemberState> {
    Ok(MemberState {
        person: row.get(0)?,
        group: row.get(1)?,
        status: status_of(row.get(2)?)?,
        place: place_of(row.get(3)?)?,
        answered_at: row.get(4)?,
        arrived_at: row.get(5)?,
    })
}

const TASK_COLUMNS: &str = "id, incident_id, group_id, key, title, title_en, deadline, status, owner, notes, \
    closed_at, overdue_alerted_at, updated_at";

fn task_from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    let status: String = row.get(7)?;
    Ok(Task {
        id: row.get(0)?,
        incident: row.get(1)?,
        group: row.get(2)?,
        key: row.get(3)?,
        title: row.get(4)?,
        title_en: row.get(5)?,
        deadline: row.get(6)?,
        status: TaskStatus::parse(&status).ok_or_else(|| conversion(corrupt("task status", &status)))?,
        owner: row.get(8)?,
        notes: row.get(9)?,
        closed_at: row.get(10)?,
        overdue_alerted_at: row.get(11)?,
        updated_at: row.get(12)?,
    })
}

fn timeline_from_row(row: &Row<'_>) -> rusqlite::Result<TimelineEntry> {
    let kind: String = row.get(3)?;
    Ok(TimelineEntry {
        id: row.get(0)?,
        incident: row.get(1)?,
        at: row.get(2)?,
        kind: TimelineKind::parse(&kind).ok_or_else(|| conversion(corrupt("timeline kind", &kind)))?,
        text: row.get(4)?,
        by: row.get(5)?,
    })
}

fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(error::map)?;
    let rows = stmt.query_map(params, f).map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    conn.prepare_cached(sql).and_then(|mut s| s.query_row(params, f).optional()).map_err(error::map)
}

// ---------------------------------------------------------------------------------------------
// Plans

fn latest_plan(conn: &Connection, key: &PlanKey) -> StoreResult<Option<(StoredPlan, String)>> {
    one(
        conn,
        "SELECT version, json, saved_at, saved_by FROM plans WHERE key = ?1 ORDER BY version DESC LIMIT 1",
        [key.as_str()],
        |r| Ok((plan_from_row(key.as_str(), r)?, r.get::<_, String>(1)?)),
    )
}

fn save_plan(conn: &Connection, plan: &Plan, json: &str, at: Millis, by: UserId) -> StoreResult<StoredPlan> {
    let latest = latest_plan(conn, &plan.key)?;
    if let Some((stored, stored_json)) = &latest
        && stored_json == json
    {
        return Ok(stored.clone());
    }
    let version = latest.map_or(1, |(p, _)| p.version + 1);
    conn.prepare_cached("INSERT INTO plans (key, version, json, saved_at, saved_by) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut s| s.execute(params![plan.key.as_str(), version, json, at, by]))
        .map_err(error::map)?;
    Ok(StoredPlan { plan: plan.clone(), version, saved_at: at, saved_by: by })
}

// ---------------------------------------------------------------------------------------------
// Incidents

fn open_incident(conn: &Connection, new: &NewIncident) -> StoreResult<IncidentId> {
    let members = new.member_rows()?;
    let plan = one(
        conn,
        "SELECT 1 FROM plans WHERE key = ?1 AND version = ?2",
        params![new.plan.as_str(), new.plan_version],
        |_| Ok(()),
    )?;
    if plan.is_none() {
        return Err(StoreError::Invalid(format!("plan: {} has no version {}", new.plan, new.plan_version)));
    }
    let area_path: String = one(conn, "SELECT path FROM areas WHERE id = ?1", [new.area], |r| r.get(0))?
        .ok_or_else(|| StoreError::Invalid(format!("area: area {} does not exist", new.area)))?;
    let a = &new.activation;
    conn.prepare_cached(
        "INSERT INTO incidents (plan_key, plan_version, title, trigger_text, level, area_id, area_path, headquarters,
             forward_post, activated_at, assembly_deadline, activated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            new.plan.as_str(),
            new.plan_version,
            new.title,
            new.trigger,
            new.level.number(),
            new.area,
            area_path,
            new.headquarters,
            new.forward_post,
            a.activated_at,
            a.assembly_deadline,
            new.by
        ])
    })
    .map_err(error::map)?;
    let incident = conn.last_insert_rowid();

    let mut groups: Vec<GroupId> = Vec::with_capacity(a.groups.len());
    {
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO incident_groups (incident_id, position, key, name, name_en, lead, lead_person)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(error::map)?;
        for (position, g) in a.groups.iter().enumerate() {
            insert
                .execute(params![incident, position as i64, g.key, g.name, g.name_en, g.lead, g.lead_person])
                .map_err(error::map)?;
            groups.push(conn.last_insert_rowid());
        }
    }
    {
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO rollcall_members (incident_id, person_id, group_id, token_hash) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(error::map)?;
        for (g, person, token) in members {
            insert.execute(params![incident, person, groups[g], token]).map_err(|e| match error::map(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("tokens: the token of person {person} is already in use"))
                }
                StoreError::Invalid(_) => StoreError::Invalid(format!("members: person {person} does not exist")),
                other => other,
            })?;
        }
    }
    {
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO tasks (incident_id, group_id, key, title, title_en, deadline, status, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7)",
            )
            .map_err(error::map)?;
        for t in &a.tasks {
            let group = *groups
                .get(t.group)
                .ok_or_else(|| StoreError::Invalid(format!("tasks: task {} names group {} of none", t.key, t.group)))?;
            insert
                .execute(params![incident, group, t.key, t.title, t.title_en, t.deadline, a.activated_at])
                .map_err(error::map)?;
        }
    }
    insert_timeline(conn, incident, a.activated_at, TimelineKind::Activated, &new.timeline_text, Some(new.by))?;
    Ok(incident)
}

fn insert_timeline(
    conn: &Connection,
    incident: IncidentId,
    at: Millis,
    kind: TimelineKind,
    text: &str,
    by: Option<UserId>,
) -> StoreResult<TimelineEntry> {
    conn.prepare_cached("INSERT INTO timeline (incident_id, at, kind, text, account_id) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut s| s.execute(params![incident, at, kind.as_str(), text, by]))
        .map_err(error::map)?;
    Ok(TimelineEntry { id: conn.last_insert_rowid(), incident, at, kind, text: text.to_string(), by })
}

// ---------------------------------------------------------------------------------------------
// Roll-call and tasks

fn replace_tokens(conn: &Connection, incident: IncidentId, tokens: &[(PersonId, String)]) -> StoreResult<u64> {
    let mut update = conn
        .prepare_cached("UPDATE rollcall_members SET token_hash = ?3 WHERE incident_id = ?1 AND person_id = ?2")
        .map_err(error::map)?;
    let mut replaced = 0;
    for (person, hash) in tokens {
        replaced += update.execute(params![incident, person, hash]).map_err(|e| match error::map(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("tokens: the token of person {person} is already in use"))
            }
            other => other,
        })? as u64;
    }
    Ok(replaced)
}

fn record_answer(conn: &Connection, a: &NewAnswer) -> StoreResult<Option<(MemberState, MemberState)>> {
    let answered = record_answer_state(conn, a)?;
    if answered.is_some() {
        crate::audit::insert_audit(conn, &a.audit)?;
    }
    Ok(answered)
}

fn record_answer_state(conn: &Connection, a: &NewAnswer) -> StoreResult<Option<(MemberState, MemberState)>> {
    let Some(before) = one(
        conn,
        "SELECT person_id, group_id, status, place, answered_at, arrived_at FROM rollcall_members
         WHERE incident_id = ?1 AND person_id = ?2",
        params![a.incident, a.person],
        member_from_row,
    )?
    else {
        return Ok(None);
    };
    let after = before.answer(a.status, a.place.clone(), a.at);
    if after != before {
        conn.prepare_cached(
            "UPDATE rollcall_members SET status = ?3, place = ?4, answered_at = ?5, arrived_at = ?6
             WHERE incident_id = ?1 AND person_id = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                a.incident,
                a.person,
                after.status.map(RollCallStatus::as_str),
                after.place.as_ref().map(RollCallPlace::as_str),
                after.answered_at,
                after.arrived_at
            ])
        })
        .map_err(error::map)?;
    }
    conn.prepare_cached(
        "INSERT INTO rollcall_answers (incident_id, person_id, status, place, at, account_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            a.incident,
            a.person,
            a.status.as_str(),
            a.place.as_ref().map(RollCallPlace::as_str),
            a.at,
            a.by
        ])
    })
    .map_err(error::map)?;
    if before.arrived_at.is_none() && after.arrived_at.is_some() {
        insert_timeline(conn, a.incident, a.at, TimelineKind::Arrival, &a.arrival_text, a.by)?;
    }
    Ok(Some((before, after)))
}

fn task_by_id(conn: &Connection, id: TaskId) -> StoreResult<Option<Task>> {
    one(conn, &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"), [id], task_from_row)
}

fn update_task(conn: &Connection, c: &NewTaskChange) -> StoreResult<Task> {
    let current = task_by_id(conn, c.task)?.ok_or(StoreError::NotFound)?;
    let task = c.change.apply(&current, c.at);
    conn.prepare_cached(
        "UPDATE tasks SET status = ?2, owner = ?3, notes = ?4, closed_at = ?5, updated_at = ?6 WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![task.id, task.status.as_str(), task.owner, task.notes, task.closed_at, task.updated_at])
    })
    .map_err(error::map)?;
    let kind = if task.status == TaskStatus::Done && current.status != TaskStatus::Done {
        TimelineKind::TaskDone
    } else {
        TimelineKind::TaskChanged
    };
    insert_timeline(conn, task.incident, c.at, kind, &c.timeline_text, Some(c.by))?;
    Ok(task)
}

fn mark_overdue(conn: &Connection, now: Millis) -> StoreResult<Vec<Task>> {
    let mut due = all(
        conn,
        &format!(
            "SELECT {TASK_COLUMNS} FROM tasks
             WHERE overdue_alerted_at IS NULL AND status IN ('open','in_progress') AND deadline < ?1
             ORDER BY deadline, id"
        ),
        [now],
        task_from_row,
    )?;
    let mut mark = conn.prepare_cached("UPDATE tasks SET overdue_alerted_at = ?2 WHERE id = ?1").map_err(error::map)?;
    for task in &mut due {
        mark.execute(params![task.id, now]).map_err(error::map)?;
        task.overdue_alerted_at = Some(now);
        insert_timeline(conn, task.incident, now, TimelineKind::TaskOverdue, &task.title, None)?;
    }
    Ok(due)
}

#[async_trait]
impl CommandStore for SqliteStore {
    async fn save_plan(&self, plan: &Plan, at: Millis, by: UserId) -> StoreResult<StoredPlan> {
        let json = serde_json::to_string(plan).map_err(|e| StoreError::Internal(format!("plan as JSON: {e}")))?;
        let plan = plan.clone();
        self.write(move |c| save_plan(c, &plan, &json, at, by)).await
    }

    async fn plans(&self) -> StoreResult<Vec<StoredPlan>> {
        self.read(|c| {
            all(
                c,
                "SELECT p.version, p.json, p.saved_at, p.saved_by, p.key FROM plans p
                 WHERE p.version = (SELECT max(version) FROM plans WHERE key = p.key) ORDER BY p.key",
                [],
                |r| plan_from_row(&r.get::<_, String>(4)?, r),
            )
        })
        .await
    }

    async fn plan(&self, key: &PlanKey, version: Option<u32>) -> StoreResult<Option<StoredPlan>> {
        let key = key.clone();
        self.read(move |c| match version {
            None => Ok(latest_plan(c, &key)?.map(|(p, _)| p)),
            Some(v) => one(
                c,
                "SELECT version, json, saved_at, saved_by FROM plans WHERE key = ?1 AND version = ?2",
                params![key.as_str(), v],
                |r| plan_from_row(key.as_str(), r),
            ),
        })
        .await
    }

    async fn open_incident(&self, new: NewIncident) -> StoreResult<IncidentId> {
        self.write(move |c| open_incident(c, &new)).await
    }

    async fn incident(&self, id: IncidentId) -> StoreResult<Option<Incident>> {
        self.read(move |c| {
            one(c, &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"), [id], incident_from_row)
        })
        .await
    }

    async fn incidents(&self, scope: &Scope) -> StoreResult<Vec<Incident>> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            all(
                c,
                &format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE area_path >= ?1 AND area_path < ?2
                     ORDER BY activated_at DESC, id DESC"
                ),
                params![low, high],
                incident_from_row,
            )
        })
        .await
    }

    async fn groups(&self, incident: IncidentId) -> StoreResult<Vec<Group>> {
        self.read(move |c| {
            all(
                c,
                "SELECT id, incident_id, position, key, name, name_en, lead, lead_person FROM incident_groups
                 WHERE incident_id = ?1 ORDER BY position",
                [incident],
                group_from_row,
            )
        })
        .await
    }

    async fn members(&self, incident: IncidentId) -> StoreResult<Vec<MemberState>> {
        self.read(move |c| {
            all(
                c,
                "SELECT m.person_id, m.group_id, m.status, m.place, m.answered_at, m.arrived_at
                 FROM rollcall_members m JOIN incident_groups g ON g.id = m.group_id
                 WHERE m.incident_id = ?1 ORDER BY g.position, m.person_id",
                [incident],
                member_from_row,
            )
        })
        .await
    }

    async fn member_by_token(&self, token_hash: &str) -> StoreResult<Option<(IncidentId, PersonId)>> {
        let token_hash = token_hash.to_string();
        self.read(move |c| {
            one(c, "SELECT incident_id, person_id FROM rollcall_members WHERE token_hash = ?1", [token_hash], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
        .await
    }

    async fn replace_tokens(&self, incident: IncidentId, tokens: Vec<(PersonId, String)>) -> StoreResult<u64> {
        self.write(move |c| replace_tokens(c, incident, &tokens)).await
    }

    async fn record_answer(&self, answer: NewAnswer) -> StoreResult<Option<(MemberState, MemberState)>> {
        self.write(move |c| record_answer(c, &answer)).await
    }

    async fn tasks(&self, incident: IncidentId) -> StoreResult<Vec<Task>> {
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE incident_id = ?1 ORDER BY deadline, id"),
                [incident],
                task_from_row,
            )
        })
        .await
    }

    async fn task(&self, id: TaskId) -> StoreResult<Option<Task>> {
        self.read(move |c| task_by_id(c, id)).await
    }

    async fn update_task(&self, change: NewTaskChange) -> StoreResult<Task> {
        self.write(move |c| update_task(c, &change)).await
    }

    async fn mark_overdue(&self, now: Millis) -> StoreResult<Vec<Task>> {
        self.write(move |c| mark_overdue(c, now)).await
    }

    async fn append_timeline(
        &self,
        incident: IncidentId,
        at: Millis,
        kind: TimelineKind,
        text: &str,
        by: Option<UserId>,
    ) -> StoreResult<TimelineEntry> {
        let text = text.to_string();
        self.write(move |c| {
            if one(c, "SELECT 1 FROM incidents WHERE id = ?1", [incident], |_| Ok(()))?.is_none() {
                return Err(StoreError::NotFound);
            }
            insert_timeline(c, incident, at, kind, &text, by)
        })
        .await
    }

    async fn timeline(&self, incident: IncidentId) -> StoreResult<Vec<TimelineEntry>> {
        self.read(move |c| {
            all(
                c,
                "SELECT id, incident_id, at, kind, text, account_id FROM timeline WHERE incident_id = ?1 ORDER BY at, id",
                [incident],
                timeline_from_row,
            )
        })
        .await
    }
}
