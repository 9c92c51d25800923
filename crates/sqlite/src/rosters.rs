//! [`RosterStore`] on SQLite: writes go through the writer thread, so an assignment's clash check
//! and its insert run with no other write in between; reads through the read pool.

use crate::{
    SqliteStore,
    areas::{area_by_id, conversion},
    error,
    error::corrupt,
};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::Scope,
    workforce::{
        Assignment, AssignmentId, CheckIn, CheckOut, Clash, Duty, NewAssignment, NewPost, Post, PostId, PostKind,
        RosterRules, Shift, ShiftId, ShiftTimes, check_in, check_out, find_clash,
    },
};
use bulwark_store::{
    RosterStore, StoreError, StoreResult,
    rosters::{
        Assigned, AssignmentDetail, Attended, PostRoster, RosterSummary, ShiftCounts, ShiftRoster,
        earliest_running_start,
    },
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

const POST_COLUMNS: &str = "p.id, p.name, p.kind, p.duties, p.area_id, p.area_path, p.site_id, p.needed, p.created_at";
const ASSIGNMENT_COLUMNS: &str = "a.id, a.shift_id, a.post_id, a.person_id, a.responsibility, a.assigned_at, \
    a.assigned_by, a.checked_in_at, a.checked_out_at";

fn post_from_row(row: &Row<'_>) -> rusqlite::Result<Post> {
    let kind: String = row.get(2)?;
    let duties: String = row.get(3)?;
    Ok(Post {
        id: row.get(0)?,
        name: row.get(1)?,
        kind: PostKind::parse(&kind).ok_or_else(|| conversion(corrupt("post kind", &kind)))?,
        duties: Duty::split(&duties).ok_or_else(|| conversion(corrupt("post duties", &duties)))?,
        area: row.get(4)?,
        area_path: row.get(5)?,
        site: row.get(6)?,
        needed: row.get(7)?,
        created_at: row.get(8)?,
    })
}

fn assignment_from_row(row: &Row<'_>) -> rusqlite::Result<Assignment> {
    Ok(Assignment {
        id: row.get(0)?,
        shift: row.get(1)?,
        post: row.get(2)?,
        person: row.get(3)?,
        responsibility: row.get(4)?,
        assigned_at: row.get(5)?,
        assigned_by: row.get(6)?,
        checked_in_at: row.get(7)?,
        checked_out_at: row.get(8)?,
    })
}

fn shift_from_row(row: &Row<'_>) -> rusqlite::Result<Shift> {
    Ok(Shift { id: row.get(0)?, post: row.get(1)?, starts: row.get(2)?, ends: row.get(3)? })
}

fn post_by_id(conn: &Connection, id: PostId) -> StoreResult<Option<Post>> {
    conn.prepare_cached(&format!("SELECT {POST_COLUMNS} FROM posts p WHERE p.id = ?1"))
        .and_then(|mut s| s.query_row([id], post_from_row).optional())
        .map_err(error::map)
}

fn detail(conn: &Connection, id: AssignmentId) -> StoreResult<Option<AssignmentDetail>> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {ASSIGNMENT_COLUMNS}, s.id, s.post_id, s.starts, s.ends FROM assignments a
             JOIN shifts s ON s.id = a.shift_id WHERE a.id = ?1"
        ))
        .and_then(|mut s| {
            s.query_row([id], |r| {
                Ok((
                    assignment_from_row(r)?,
                    Shift { id: r.get(9)?, post: r.get(10)?, starts: r.get(11)?, ends: r.get(12)? },
                ))
            })
            .optional()
        })
        .map_err(error::map)?;
    let Some((assignment, shift)) = found else { return Ok(None) };
    let post = post_by_id(conn, shift.post)?.ok_or_else(|| StoreError::Internal("a shift without its post".into()))?;
    Ok(Some(AssignmentDetail { assignment, shift, post }))
}

fn assign(conn: &Connection, new: &NewAssignment) -> StoreResult<Assigned> {
    let shift = conn
        .prepare_cached("SELECT id, post_id, starts, ends FROM shifts WHERE id = ?1")
        .and_then(|mut s| s.query_row([new.shift], shift_from_row).optional())
        .map_err(error::map)?
        .ok_or_else(|| StoreError::Invalid(format!("shift {} does not exist", new.shift)))?;
    let person: Option<i64> = conn
        .prepare_cached("SELECT id FROM persons WHERE id = ?1")
        .and_then(|mut s| s.query_row([new.person], |r| r.get(0)).optional())
        .map_err(error::map)?;
    if person.is_none() {
        return Err(StoreError::Invalid(format!("person {} does not exist", new.person)));
    }
    // Shifts last at most a day, so an overlapping one starts less than a day before this ends.
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, a.shift_id, p.name, a.starts, a.ends FROM assignments a JOIN posts p ON p.id = a.post_id
             WHERE a.person_id = ?1 AND a.starts < ?2 AND a.starts > ?3 ORDER BY a.starts",
        )
        .map_err(error::map)?;
    let held = stmt
        .query_map(params![new.person, shift.ends, shift.starts - bulwark_domain::workforce::roster::MAX_SHIFT], |r| {
            Ok(Clash {
                assignment: r.get(0)?,
                shift: r.get(1)?,
                post_name: r.get(2)?,
                starts: r.get(3)?,
                ends: r.get(4)?,
            })
        })
        .map_err(error::map)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(error::map)?;
    if let Some(clash) = find_clash(&shift.times(), &held) {
        return Ok(Assigned::Clash(clash.clone()));
    }
    conn.prepare_cached(
        "INSERT INTO assignments (shift_id, post_id, person_id, starts, ends, responsibility, assigned_at, assigned_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            shift.id,
            shift.post,
            new.person,
            shift.starts,
            shift.ends,
            new.responsibility,
            new.at,
            new.by
        ])
    })
    .map_err(error::map)?;
    Ok(Assigned::Stored(Assignment {
        id: conn.last_insert_rowid(),
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

fn attend(conn: &Connection, id: AssignmentId, now: Millis, rules: Option<RosterRules>) -> StoreResult<Attended> {
    let d = detail(conn, id)?.ok_or(StoreError::NotFound)?;
    let a = d.assignment;
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
    conn.execute(&format!("UPDATE assignments SET {column} = ?2 WHERE id = ?1"), params![id, now])
        .map_err(error::map)?;
    let mut a = a;
    if rules.is_some() {
        a.checked_in_at = Some(now);
    } else {
        a.checked_out_at = Some(now);
    }
    Ok(Attended::Recorded(a))
}

#[async_trait]
impl RosterStore for SqliteStore {
    async fn create_post(&self, post: NewPost, at: Millis) -> StoreResult<Post> {
        self.write(move |c| {
            let area = area_by_id(c, post.area)?
                .ok_or_else(|| StoreError::Invalid(format!("area {} does not exist", post.area)))?;
            if let Some(site) = post.site {
                let found: Option<i64> = c
                    .prepare_cached("SELECT id FROM sites WHERE id = ?1")
                    .and_then(|mut s| s.query_row([site], |r| r.get(0)).optional())
                    .map_err(error::map)?;
                if found.is_none() {
                    return Err(StoreError::Invalid(format!("site {site} does not exist")));
                }
            }
            c.prepare_cached(
                "INSERT INTO posts (name, kind, duties, area_id, area_path, site_id, needed, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    post.name,
                    post.kind.as_str(),
                    Duty::join(&post.duties),
                    area.id,
                    area.path,
                    post.site,
                    post.needed,
                    at
                ])
            })
            .map_err(error::map)?;
            Ok(Post {
                id: c.last_insert_rowid(),
                name: post.name,
                kind: post.kind,
                duties: post.duties,
                area: area.id,
                area_path: area.path,
                site: post.site,
                needed: post.needed,
                created_at: at,
            })
        })
        .await
    }

    async fn post(&self, id: PostId) -> StoreResult<Option<Post>> {
        self.read(move |c| post_by_id(c, id)).await
    }

    async fn posts(&self, scope: &Scope) -> StoreResult<Vec<Post>> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {POST_COLUMNS} FROM posts p WHERE p.area_path >= ?1 AND p.area_path < ?2 ORDER BY p.name, p.id"
                ))
                .map_err(error::map)?;
            let rows = stmt.query_map([low, high], post_from_row).map_err(error::map)?;
            rows.collect::<Result<_, _>>().map_err(error::map)
        })
        .await
    }

    async fn create_shifts(&self, post: PostId, shifts: Vec<ShiftTimes>) -> StoreResult<Vec<Shift>> {
        self.write(move |c| {
            if post_by_id(c, post)?.is_none() {
                return Err(StoreError::Invalid(format!("post {post} does not exist")));
            }
            let mut stmt = c
                .prepare_cached("INSERT INTO shifts (post_id, starts, ends) VALUES (?1, ?2, ?3)")
                .map_err(error::map)?;
            let mut out = Vec::with_capacity(shifts.len());
            for t in &shifts {
                stmt.execute(params![post, t.starts, t.ends]).map_err(|e| match error::map(e) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict("the post has a shift with these times already".into())
                    }
                    other => other,
                })?;
                out.push(Shift { id: c.last_insert_rowid(), post, starts: t.starts, ends: t.ends });
            }
            Ok(out)
        })
        .await
    }

    async fn shift(&self, id: ShiftId) -> StoreResult<Option<(Shift, Post)>> {
        self.read(move |c| {
            let shift = c
                .prepare_cached("SELECT id, post_id, starts, ends FROM shifts WHERE id = ?1")
                .and_then(|mut s| s.query_row([id], shift_from_row).optional())
                .map_err(error::map)?;
            match shift {
                Some(shift) => Ok(post_by_id(c, shift.post)?.map(|post| (shift, post))),
                None => Ok(None),
            }
        })
        .await
    }

    async fn shifts(&self, post: PostId, from: Millis, to: Millis) -> StoreResult<Vec<Shift>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, post_id, starts, ends FROM shifts WHERE post_id = ?1 AND starts < ?2 AND ends > ?3
                     ORDER BY starts, id",
                )
                .map_err(error::map)?;
            let rows = stmt.query_map(params![post, to, from], shift_from_row).map_err(error::map)?;
            rows.collect::<Result<_, _>>().map_err(error::map)
        })
        .await
    }

    async fn assign(&self, new: NewAssignment) -> StoreResult<Assigned> {
        self.write(move |c| assign(c, &new)).await
    }

    async fn assignment(&self, id: AssignmentId) -> StoreResult<Option<AssignmentDetail>> {
        self.read(move |c| detail(c, id)).await
    }

    async fn remove_assignment(&self, id: AssignmentId) -> StoreResult<Assignment> {
        self.write(move |c| {
            let d = detail(c, id)?.ok_or(StoreError::NotFound)?;
            if d.assignment.checked_in_at.is_some() {
                return Err(StoreError::Conflict(
                    "assignment: the person has checked in; attendance is kept, so it cannot be removed".into(),
                ));
            }
            c.execute("DELETE FROM assignments WHERE id = ?1", [id]).map_err(error::map)?;
            Ok(d.assignment)
        })
        .await
    }

    async fn check_in(&self, id: AssignmentId, now: Millis, rules: RosterRules) -> StoreResult<Attended> {
        self.write(move |c| attend(c, id, now, Some(rules))).await
    }

    async fn check_out(&self, id: AssignmentId, now: Millis) -> StoreResult<Attended> {
        self.write(move |c| attend(c, id, now, None)).await
    }

    async fn roster(&self, scope: &Scope, from: Millis, to: Millis) -> StoreResult<Vec<PostRoster>> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            let posts: Vec<Post> = c
                .prepare_cached(&format!(
                    "SELECT {POST_COLUMNS} FROM posts p WHERE p.area_path >= ?1 AND p.area_path < ?2 ORDER BY p.name, p.id"
                ))
                .and_then(|mut s| s.query_map([&low, &high], post_from_row)?.collect())
                .map_err(error::map)?;
            let shifts: Vec<Shift> = c
                .prepare_cached(
                    "SELECT s.id, s.post_id, s.starts, s.ends FROM shifts s JOIN posts p ON p.id = s.post_id
                     WHERE s.starts < ?1 AND s.starts > ?2 AND s.ends > ?3 AND p.area_path >= ?4 AND p.area_path < ?5
                     ORDER BY s.starts, s.id",
                )
                .and_then(|mut s| {
                    s.query_map(params![to, from - bulwark_domain::workforce::roster::MAX_SHIFT, from, low, high], shift_from_row)?
                        .collect()
                })
                .map_err(error::map)?;
            let mut assignments: HashMap<i64, Vec<Assignment>> = HashMap::new();
            let mut stmt = c
                .prepare_cached(&format!("SELECT {ASSIGNMENT_COLUMNS} FROM assignments a WHERE a.shift_id = ?1 ORDER BY a.id"))
                .map_err(error::map)?;
            for s in &shifts {
                let rows: Vec<Assignment> =
                    stmt.query_map([s.id], assignment_from_row).and_then(|r| r.collect()).map_err(error::map)?;
                assignments.insert(s.id, rows);
            }
            let mut by_post: HashMap<PostId, Vec<ShiftRoster>> = HashMap::new();
            for s in shifts {
                let list = assignments.remove(&s.id).unwrap_or_default();
                by_post.entry(s.post).or_default().push(ShiftRoster { shift: s, assignments: list });
            }
            Ok(posts
                .into_iter()
                .map(|p| {
                    let shifts = by_post.remove(&p.id).unwrap_or_default();
                    PostRoster { post: p, shifts }
                })
                .collect())
        })
        .await
    }

    async fn roster_summary(&self, scope: &Scope, now: Millis, rules: RosterRules) -> StoreResult<RosterSummary> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            let posts: i64 = c
                .prepare_cached("SELECT count(*) FROM posts WHERE area_path >= ?1 AND area_path < ?2")
                .and_then(|mut s| s.query_row([&low, &high], |r| r.get(0)))
                .map_err(error::map)?;
            let posts = u64::try_from(posts).unwrap_or(0);
            let mut stmt = c
                .prepare_cached(
                    "SELECT s.starts, s.ends, p.needed, count(a.id),
                         coalesce(sum(a.checked_in_at <= ?3 AND (a.checked_out_at IS NULL OR a.checked_out_at > ?3)), 0),
                         coalesce(sum(a.id IS NOT NULL AND (a.checked_in_at IS NULL OR a.checked_in_at > ?3)), 0)
                     FROM shifts s JOIN posts p ON p.id = s.post_id LEFT JOIN assignments a ON a.shift_id = s.id
                     WHERE s.starts > ?1 AND s.starts < ?2 AND s.ends > ?3 AND p.area_path >= ?4 AND p.area_path < ?5
                     GROUP BY s.id",
                )
                .map_err(error::map)?;
            let counts = stmt
                .query_map(params![earliest_running_start(now), now + rules.unfilled_horizon, now, low, high], |r| {
                    Ok(ShiftCounts {
                        times: ShiftTimes { starts: r.get(0)?, ends: r.get(1)? },
                        needed: r.get(2)?,
                        assigned: r.get(3)?,
                        on_post: r.get(4)?,
                        not_checked_in: r.get(5)?,
                    })
                })
                .and_then(|r| r.collect::<Result<Vec<_>, _>>())
                .map_err(error::map)?;
            Ok(RosterSummary::fold(posts, &counts, now, &rules))
        })
        .await
    }
}
