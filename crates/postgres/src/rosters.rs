//! [`RosterStore`] on PostgreSQL. An assignment takes a transaction-scoped advisory lock on its
//! person before looking for a clash, so two overlapping assignments of one person sent at once
//! are decided one after the other and exactly one is stored. A check-in or check-out locks the
//! assignment's row (`FOR UPDATE`) and decides on it as stored.

use crate::{
    PgStore,
    error::{Explain, corrupt, db},
    get,
};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::Scope,
    workforce::{
        Assignment, AssignmentId, CheckIn, CheckOut, Clash, Duty, NewAssignment, NewPost, Post, PostId, PostKind,
        RosterRules, Shift, ShiftId, ShiftTimes, check_in, check_out, find_clash, roster::MAX_SHIFT,
    },
};
use bulwark_store::{
    RosterStore, StoreError, StoreResult,
    rosters::{
        Assigned, AssignmentDetail, Attended, PostRoster, RosterSummary, ShiftCounts, ShiftRoster,
        earliest_running_start,
    },
};
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use tokio_postgres::Row;

const POST_COLS: &str = "p.id, p.name, p.kind, p.duties, p.area_id, p.area_path, p.site_id, p.needed, p.created_at";
const ASSIGNMENT_COLS: &str = "a.id, a.shift_id, a.post_id, a.person_id, a.responsibility, a.assigned_at, \
    a.assigned_by, a.checked_in_at, a.checked_out_at";

/// First key of the advisory locks that serialise one person's assignments ("rost").
const ASSIGN_LOCK: i32 = 0x726f_7374;

fn post_from(row: &Row) -> StoreResult<Post> {
    let kind: String = get(row, 2)?;
    let duties: String = get(row, 3)?;
    let needed: i32 = get(row, 7)?;
    Ok(Post {
        id: get(row, 0)?,
        name: get(row, 1)?,
        kind: PostKind::parse(&kind).ok_or_else(|| corrupt("post kind", &kind))?,
        duties: Duty::split(&duties).ok_or_else(|| corrupt("post duties", &duties))?,
        area: get(row, 4)?,
        area_path: get(row, 5)?,
        site: get(row, 6)?,
        needed: u32::try_from(needed).map_err(|_| corrupt("post needed", needed))?,
        created_at: get(row, 8)?,
    })
}

fn assignment_from(row: &Row) -> StoreResult<Assignment> {
    Ok(Assignment {
        id: get(row, 0)?,
        shift: get(row, 1)?,
        post: get(row, 2)?,
        person: get(row, 3)?,
        responsibility: get(row, 4)?,
        assigned_at: get(row, 5)?,
        assigned_by: get(row, 6)?,
        checked_in_at: get(row, 7)?,
        checked_out_at: get(row, 8)?,
    })
}

fn shift_from(row: &Row) -> StoreResult<Shift> {
    Ok(Shift { id: get(row, 0)?, post: get(row, 1)?, starts: get(row, 2)?, ends: get(row, 3)? })
}

async fn post_by_id(client: &impl GenericClient, id: PostId) -> StoreResult<Option<Post>> {
    let row =
        client.query_opt(&format!("SELECT {POST_COLS} FROM posts p WHERE p.id = $1"), &[&id]).await.map_err(db)?;
    row.as_ref().map(post_from).transpose()
}

async fn detail(client: &impl GenericClient, id: AssignmentId, lock: bool) -> StoreResult<Option<AssignmentDetail>> {
    let sql = format!(
        "SELECT {ASSIGNMENT_COLS}, s.id, s.post_id, s.starts, s.ends FROM assignments a
         JOIN shifts s ON s.id = a.shift_id WHERE a.id = $1{}",
        if lock { " FOR UPDATE OF a" } else { "" }
    );
    let Some(row) = client.query_opt(&sql, &[&id]).await.map_err(db)? else { return Ok(None) };
    let assignment = assignment_from(&row)?;
    let shift = Shift { id: get(&row, 9)?, post: get(&row, 10)?, starts: get(&row, 11)?, ends: get(&row, 12)? };
    let post =
        post_by_id(client, shift.post).await?.ok_or_else(|| StoreError::Internal("a shift without its post".into()))?;
    Ok(Some(AssignmentDetail { assignment, shift, post }))
}

/// The key of a person's advisory lock (ids beyond 2³¹ share keys, which only serialises more).
fn person_key(person: i64) -> i32 {
    (person.rem_euclid(1 << 31)) as i32
}

impl PgStore {
    async fn assign_in(&self, new: &NewAssignment) -> StoreResult<Assigned> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let shift = tx
            .query_opt("SELECT id, post_id, starts, ends FROM shifts WHERE id = $1", &[&new.shift])
            .await
            .map_err(db)?
            .as_ref()
            .map(shift_from)
            .transpose()?
            .ok_or_else(|| StoreError::Invalid(format!("shift {} does not exist", new.shift)))?;
        if tx.query_opt("SELECT 1 FROM persons WHERE id = $1", &[&new.person]).await.map_err(db)?.is_none() {
            return Err(StoreError::Invalid(format!("person {} does not exist", new.person)));
        }
        tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&ASSIGN_LOCK, &person_key(new.person)])
            .await
            .map_err(db)?;
        // Read after the lock: a clash committed by the transaction that held it is seen.
        let rows = tx
            .query(
                "SELECT a.id, a.shift_id, p.name, a.starts, a.ends FROM assignments a JOIN posts p ON p.id = a.post_id
                 WHERE a.person_id = $1 AND a.starts < $2 AND a.starts > $3 ORDER BY a.starts",
                &[&new.person, &shift.ends, &(shift.starts - MAX_SHIFT)],
            )
            .await
            .map_err(db)?;
        let held = rows
            .iter()
            .map(|r| {
                Ok(Clash {
                    assignment: get(r, 0)?,
                    shift: get(r, 1)?,
                    post_name: get(r, 2)?,
                    starts: get(r, 3)?,
                    ends: get(r, 4)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        if let Some(clash) = find_clash(&shift.times(), &held) {
            return Ok(Assigned::Clash(clash.clone()));
        }
        let row = tx
            .query_one(
                "INSERT INTO assignments (shift_id, post_id, person_id, starts, ends, responsibility, assigned_at, assigned_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &shift.id,
                    &shift.post,
                    &new.person,
                    &shift.starts,
                    &shift.ends,
                    &new.responsibility,
                    &new.at,
                    &new.by,
                ],
            )
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Assigned::Stored(Assignment {
            id: get(&row, 0)?,
            shift: shift.id,
            post: shift.post,
            person: new.person,
            responsibility: new.responsibility.clone(),
            assigned_at: new.at,
            assigned_by: new.by,
            checked_in_at: None,
            checked_out_at: None,
        }))
    }

    async fn attend(&self, id: AssignmentId, now: Millis, rules: Option<RosterRules>) -> StoreResult<Attended> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let d = detail(&tx, id, true).await?.ok_or(StoreError::NotFound)?;
        let mut a = d.assignment;
        let column = match rules {
            Some(rules) => match check_in(&d.shift.times(), a.checked_in_at, now, &rules) {
                Ok(CheckIn::Repeat(_)) => return Ok(Attended::Repeated(a)),
                Ok(CheckIn::Record) => "checked_in_at",
                Err(e) => return Ok(Attended::Refused(e)),
            },
            None => match check_out(a.checked_in_at, a.checked_out_at) {
                Ok(CheckOut::Repeat(_)) => return Ok(Attended::Repeated(a)),
                Ok(CheckOut::Record) => "checked_out_at",
                Err(e) => return Ok(Attended::Refused(e)),
            },
        };
        tx.execute(&format!("UPDATE assignments SET {column} = $2 WHERE id = $1"), &[&id, &now]).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        if rules.is_some() {
            a.checked_in_at = Some(now);
        } else {
            a.checked_out_at = Some(now);
        }
        Ok(Attended::Recorded(a))
    }
}

#[async_trait]
impl RosterStore for PgStore {
    async fn create_post(&self, post: NewPost, at: Millis) -> StoreResult<Post> {
        let client = self.client().await?;
        let needed = i32::try_from(post.needed).map_err(|_| StoreError::Invalid("needed: too large".into()))?;
        let row = client
            .query_opt(
                &format!(
                    "INSERT INTO posts AS p (name, kind, duties, area_id, area_path, site_id, needed, created_at)
                     SELECT $1, $2, $3, ar.id, ar.path, $5, $6, $7 FROM areas ar WHERE ar.id = $4
                     RETURNING {POST_COLS}"
                ),
                &[&post.name, &post.kind.as_str(), &Duty::join(&post.duties), &post.area, &post.site, &needed, &at],
            )
            .await
            .map_err(db)
            .invalid(|| format!("site {} does not exist", post.site.unwrap_or_default()))?;
        match row {
            Some(row) => post_from(&row),
            None => Err(StoreError::Invalid(format!("area {} does not exist", post.area))),
        }
    }

    async fn post(&self, id: PostId) -> StoreResult<Option<Post>> {
        let client = self.client().await?;
        post_by_id(&client, id).await
    }

    async fn posts(&self, scope: &Scope) -> StoreResult<Vec<Post>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let rows = client
            .query(
                &format!(
                    "SELECT {POST_COLS} FROM posts p WHERE p.area_path >= $1 AND p.area_path < $2 ORDER BY p.name, p.id"
                ),
                &[&low, &high],
            )
            .await
            .map_err(db)?;
        rows.iter().map(post_from).collect()
    }

    async fn create_shifts(&self, post: PostId, shifts: Vec<ShiftTimes>) -> StoreResult<Vec<Shift>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        if post_by_id(&tx, post).await?.is_none() {
            return Err(StoreError::Invalid(format!("post {post} does not exist")));
        }
        let mut out = Vec::with_capacity(shifts.len());
        for t in &shifts {
            let row = tx
                .query_one(
                    "INSERT INTO shifts (post_id, starts, ends) VALUES ($1, $2, $3) RETURNING id",
                    &[&post, &t.starts, &t.ends],
                )
                .await
                .map_err(db)
                .conflict(|| "the post has a shift with these times already".into())?;
            out.push(Shift { id: get(&row, 0)?, post, starts: t.starts, ends: t.ends });
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn shift(&self, id: ShiftId) -> StoreResult<Option<(Shift, Post)>> {
        let client = self.client().await?;
        let row =
            client.query_opt("SELECT id, post_id, starts, ends FROM shifts WHERE id = $1", &[&id]).await.map_err(db)?;
        let Some(shift) = row.as_ref().map(shift_from).transpose()? else { return Ok(None) };
        Ok(post_by_id(&client, shift.post).await?.map(|post| (shift, post)))
    }

    async fn shifts(&self, post: PostId, from: Millis, to: Millis) -> StoreResult<Vec<Shift>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, post_id, starts, ends FROM shifts WHERE post_id = $1 AND starts < $2 AND ends > $3
                 ORDER BY starts, id",
                &[&post, &to, &from],
            )
            .await
            .map_err(db)?;
        rows.iter().map(shift_from).collect()
    }

    async fn assign(&self, new: NewAssignment) -> StoreResult<Assigned> {
        self.assign_in(&new).await
    }

    async fn assignment(&self, id: AssignmentId) -> StoreResult<Option<AssignmentDetail>> {
        let client = self.client().await?;
        detail(&client, id, false).await
    }

    async fn remove_assignment(&self, id: AssignmentId) -> StoreResult<Assignment> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let d = detail(&tx, id, true).await?.ok_or(StoreError::NotFound)?;
        if d.assignment.checked_in_at.is_some() {
            return Err(StoreError::Conflict(
                "assignment: the person has checked in; attendance is kept, so it cannot be removed".into(),
            ));
        }
        tx.execute("DELETE FROM assignments WHERE id = $1", &[&id]).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(d.assignment)
    }

    async fn check_in(&self, id: AssignmentId, now: Millis, rules: RosterRules) -> StoreResult<Attended> {
        self.attend(id, now, Some(rules)).await
    }

    async fn check_out(&self, id: AssignmentId, now: Millis) -> StoreResult<Attended> {
        self.attend(id, now, None).await
    }

    async fn roster(&self, scope: &Scope, from: Millis, to: Millis) -> StoreResult<Vec<PostRoster>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let posts = client
            .query(
                &format!(
                    "SELECT {POST_COLS} FROM posts p WHERE p.area_path >= $1 AND p.area_path < $2 ORDER BY p.name, p.id"
                ),
                &[&low, &high],
            )
            .await
            .map_err(db)?;
        let shifts = client
            .query(
                "SELECT s.id, s.post_id, s.starts, s.ends FROM shifts s JOIN posts p ON p.id = s.post_id
                 WHERE s.starts < $1 AND s.starts > $2 AND s.ends > $3 AND p.area_path >= $4 AND p.area_path < $5
                 ORDER BY s.starts, s.id",
                &[&to, &(from - MAX_SHIFT), &from, &low, &high],
            )
            .await
            .map_err(db)?;
        let shifts = shifts.iter().map(shift_from).collect::<StoreResult<Vec<_>>>()?;
        let ids: Vec<i64> = shifts.iter().map(|s| s.id).collect();
        let rows = client
            .query(
                &format!("SELECT {ASSIGNMENT_COLS} FROM assignments a WHERE a.shift_id = ANY($1) ORDER BY a.id"),
                &[&ids],
            )
            .await
            .map_err(db)?;
        let mut assignments: HashMap<i64, Vec<Assignment>> = HashMap::new();
        for row in &rows {
            let a = assignment_from(row)?;
            assignments.entry(a.shift).or_default().push(a);
        }
        let mut by_post: HashMap<PostId, Vec<ShiftRoster>> = HashMap::new();
        for s in shifts {
            let list = assignments.remove(&s.id).unwrap_or_default();
            by_post.entry(s.post).or_default().push(ShiftRoster { shift: s, assignments: list });
        }
        posts
            .iter()
            .map(|row| {
                let post = post_from(row)?;
                let shifts = by_post.remove(&post.id).unwrap_or_default();
                Ok(PostRoster { post, shifts })
            })
            .collect()
    }

    async fn roster_summary(&self, scope: &Scope, now: Millis, rules: RosterRules) -> StoreResult<RosterSummary> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let posts: i64 = get(
            &client
                .query_one("SELECT count(*) FROM posts WHERE area_path >= $1 AND area_path < $2", &[&low, &high])
                .await
                .map_err(db)?,
            0,
        )?;
        let rows = client
            .query(
                "SELECT s.starts, s.ends, p.needed, count(a.id),
                     count(a.id) FILTER (WHERE a.checked_in_at <= $3 AND (a.checked_out_at IS NULL OR a.checked_out_at > $3)),
                     count(a.id) FILTER (WHERE a.checked_in_at IS NULL OR a.checked_in_at > $3)
                 FROM shifts s JOIN posts p ON p.id = s.post_id LEFT JOIN assignments a ON a.shift_id = s.id
                 WHERE s.starts > $1 AND s.starts < $2 AND s.ends > $3 AND p.area_path >= $4 AND p.area_path < $5
                 GROUP BY s.id, p.needed",
                &[&earliest_running_start(now), &(now + rules.unfilled_horizon), &now, &low, &high],
            )
            .await
            .map_err(db)?;
        let n = |row: &Row, i: usize| -> StoreResult<u32> {
            let v: i64 = get(row, i)?;
            u32::try_from(v).map_err(|_| corrupt("a count", v))
        };
        let counts = rows
            .iter()
            .map(|row| {
                let needed: i32 = get(row, 2)?;
                Ok(ShiftCounts {
                    times: ShiftTimes { starts: get(row, 0)?, ends: get(row, 1)? },
                    needed: u32::try_from(needed).map_err(|_| corrupt("post needed", needed))?,
                    assigned: n(row, 3)?,
                    on_post: n(row, 4)?,
                    not_checked_in: n(row, 5)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(RosterSummary::fold(crate::count(posts), &counts, now, &rules))
    }
}
