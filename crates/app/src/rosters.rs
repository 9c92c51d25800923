//! Workforce posts and rosters (定人定岗定责): posts at sampling sites and checkpoints, their
//! shifts, assignments of people, check-in and check-out, the day's roster and the dashboard's
//! staffing summary.
//!
//! Setting up posts, shifts and assignments is `RostersManage`; reading them is `RostersRead`;
//! checking in and out is `PostsCheckIn`. A post belongs to the scope of its area: a post (or
//! shift, or assignment) outside the actor's scope and one that does not exist are refused alike.
//! Assigning, removing and checking in name a person, so they are audited with that person's id
//! after their commit; the roster shows people, so it is an audited read of each person shown,
//! committed before the roster is returned.

use crate::{Actor, AppError, AppResult, areas::resolve_area, people::audit_reads};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope, allows},
    people::{Person, PersonId},
    workforce::{
        Assignment, AssignmentId, Duty, NewAssignment, NewPost, Post, PostId, PostKind, RosterError, RosterRules,
        Shift, ShiftId, ShiftPattern, ShiftTimes, roster::day_bounds,
    },
};
use bulwark_store::{
    Store,
    rosters::{Assigned, AssignmentDetail, Attended, PostRoster, RosterSummary},
};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Deserialize;
use std::collections::HashMap;

/// The attendance rules the server applies: check-in 30 minutes early, no-show after 15 minutes,
/// unfilled when short within 2 hours.
pub const RULES: RosterRules = RosterRules::DEFAULT;

/// Local time of rosters: China Standard Time.
pub fn local_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// The most shifts one request may add.
pub const MAX_SHIFTS: usize = 200;

/// A post as typed into a form or an API request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PostInput {
    pub name: String,
    /// sampling_site, checkpoint, headquarters, forward_post or other.
    pub kind: String,
    /// Any of swab, registration, temperature, queue_order, guard, other.
    pub duties: Vec<String>,
    /// The code of the area the post is in (its scope).
    pub area: String,
    /// The sampling site (kind sampling_site).
    pub site: Option<i64>,
    /// People needed on each shift.
    pub needed: u32,
}

/// One shift as given: RFC 3339 instants.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ShiftInput {
    pub starts: String,
    pub ends: String,
}

/// Shifts to add to a post: either listed, or a day cut by a pattern.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ShiftsInput {
    /// Shifts given one by one.
    #[serde(default)]
    pub shifts: Vec<ShiftInput>,
    /// A day (YYYY-MM-DD, local time) to cut into shifts by `pattern`.
    pub date: Option<String>,
    /// 3x8, 2x12 or 1x24.
    pub pattern: Option<String>,
    /// The hour the day's first shift starts (0–23; default 0).
    pub first_hour: Option<u32>,
}

/// An assignment as given.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AssignmentInput {
    pub shift: ShiftId,
    pub person: PersonId,
    /// What the person answers for ("测温", "查验健康码和行程卡").
    pub responsibility: String,
}

fn instant(field: &str, raw: &str) -> AppResult<Millis> {
    DateTime::<FixedOffset>::parse_from_rfc3339(raw.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| AppError::invalid(field, "expected an RFC 3339 time such as 2022-10-06T08:00:00+08:00"))
}

/// Parses a roster day (YYYY-MM-DD).
pub fn parse_day(field: &str, raw: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid(field, "expected a date YYYY-MM-DD"))
}

fn roster_error(e: RosterError) -> AppError {
    AppError::invalid(e.field(), e.to_string().split_once(": ").map_or(e.to_string(), |(_, m)| m.to_string()))
}

/// The scope to read: the area's part inside the actor's scope, or the actor's own scope.
async fn within(store: &dyn Store, actor: &Actor, op: Operation, area: Option<&str>, now: Millis) -> AppResult<Scope> {
    match area.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(actor.scope.clone()),
        Some(code) => {
            let area = resolve_area(store, actor, op, "area", code, true, now).await?;
            Ok(actor.scope.narrow(&area).expect("resolve_area returns areas that meet the scope"))
        }
    }
}

/// The post if it lies inside the actor's scope; refused alike when it does not exist.
async fn post_in_scope(store: &dyn Store, actor: &Actor, op: Operation, id: PostId, now: Millis) -> AppResult<Post> {
    match store.post(id).await? {
        Some(post) if actor.scope.contains_path(&post.area_path) => Ok(post),
        _ => Err(actor.deny(store, op, None, now).await),
    }
}

async fn assignment_in_scope(
    store: &dyn Store,
    actor: &Actor,
    op: Operation,
    id: AssignmentId,
    now: Millis,
) -> AppResult<AssignmentDetail> {
    match store.assignment(id).await? {
        Some(d) if actor.scope.contains_path(&d.post.area_path) => Ok(d),
        _ => Err(actor.deny(store, op, None, now).await),
    }
}

/// Creates a post in an area inside the actor's scope.
pub async fn create_post(store: &dyn Store, actor: &Actor, input: PostInput, now: Millis) -> AppResult<Post> {
    let op = Operation::RostersManage;
    actor.authorize(store, op, now).await?;
    let kind = PostKind::parse(input.kind.trim()).ok_or_else(|| {
        AppError::invalid("kind", "expected sampling_site, checkpoint, headquarters, forward_post or other")
    })?;
    let duties = input
        .duties
        .iter()
        .map(|d| {
            Duty::parse(d.trim()).ok_or_else(|| {
                AppError::invalid(
                    "duties",
                    format!(
                        "unknown duty {d:?}: expected swab, registration, temperature, queue_order, guard or other"
                    ),
                )
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let area = resolve_area(store, actor, op, "area", &input.area, false, now).await?;
    if let Some(site) = input.site {
        match store.site(site).await? {
            Some(s) if actor.scope.contains_path(&s.area_path) => {}
            _ => return Err(actor.deny(store, op, None, now).await),
        }
    }
    let new = NewPost::new(&input.name, kind, duties, area.id, input.site, input.needed).map_err(|e| {
        AppError::invalid(e.field(), e.to_string().split_once(": ").map_or(e.to_string(), |(_, m)| m.into()))
    })?;
    let post = store.create_post(new, now).await?;
    actor.record_change(store, op, format!("post {} created in area {}", post.id, area.code), now).await?;
    Ok(post)
}

/// The posts inside `area` (the actor's scope when absent).
pub async fn posts(store: &dyn Store, actor: &Actor, area: Option<&str>, now: Millis) -> AppResult<Vec<Post>> {
    let op = Operation::RostersRead;
    actor.authorize(store, op, now).await?;
    let scope = within(store, actor, op, area, now).await?;
    Ok(store.posts(&scope).await?)
}

/// A post inside the actor's scope with its shifts of a day.
pub async fn post(
    store: &dyn Store,
    actor: &Actor,
    id: PostId,
    day: NaiveDate,
    now: Millis,
) -> AppResult<(Post, Vec<Shift>)> {
    let op = Operation::RostersRead;
    actor.authorize(store, op, now).await?;
    let post = post_in_scope(store, actor, op, id, now).await?;
    let (from, to) = day_bounds(day, local_offset());
    let shifts = store.shifts(post.id, from, to).await?;
    Ok((post, shifts))
}

/// Adds shifts to a post: listed ones, or a day cut by a pattern (3 × 8 h for a 24-hour post).
pub async fn create_shifts(
    store: &dyn Store,
    actor: &Actor,
    post: PostId,
    input: ShiftsInput,
    now: Millis,
) -> AppResult<Vec<Shift>> {
    let op = Operation::RostersManage;
    actor.authorize(store, op, now).await?;
    let post = post_in_scope(store, actor, op, post, now).await?;
    let mut times: Vec<ShiftTimes> = Vec::new();
    for (i, s) in input.shifts.iter().enumerate() {
        let starts = instant(&format!("shifts[{i}].starts"), &s.starts)?;
        let ends = instant(&format!("shifts[{i}].ends"), &s.ends)?;
        times.push(ShiftTimes::new(starts, ends).map_err(|e| {
            AppError::invalid(
                format!("shifts[{i}].ends"),
                e.to_string().split_once(": ").map_or(e.to_string(), |(_, m)| m.into()),
            )
        })?);
    }
    match (&input.date, &input.pattern) {
        (Some(date), Some(pattern)) => {
            let day = parse_day("date", date)?;
            let pattern = ShiftPattern::parse(pattern).map_err(roster_error)?;
            times.extend(pattern.day(day, input.first_hour.unwrap_or(0), local_offset()).map_err(roster_error)?);
        }
        (None, None) => {}
        (None, Some(_)) => return Err(AppError::invalid("date", "give the day to cut into shifts (YYYY-MM-DD)")),
        (Some(_), None) => return Err(AppError::invalid("pattern", "expected 3x8, 2x12 or 1x24")),
    }
    if times.is_empty() {
        return Err(AppError::invalid("shifts", "give shifts, or a date and a pattern"));
    }
    if times.len() > MAX_SHIFTS {
        return Err(AppError::invalid("shifts", format!("at most {MAX_SHIFTS} shifts at once")));
    }
    let shifts = store.create_shifts(post.id, times).await?;
    actor.record_change(store, op, format!("{} shifts added to post {}", shifts.len(), post.id), now).await?;
    Ok(shifts)
}

/// Assigns a person (inside the actor's scope) to a shift of a post inside the scope. A person
/// on an overlapping shift already is refused with the clash named.
pub async fn assign(
    store: &dyn Store,
    actor: &Actor,
    input: AssignmentInput,
    now: Millis,
) -> AppResult<(Assignment, Shift, Post, Person)> {
    let op = Operation::RostersManage;
    actor.authorize(store, op, now).await?;
    let (shift, post) = match store.shift(input.shift).await? {
        Some((shift, post)) if actor.scope.contains_path(&post.area_path) => (shift, post),
        _ => return Err(actor.deny(store, op, None, now).await),
    };
    let Some(person) = store.person(&actor.scope, input.person).await? else {
        return Err(actor.deny(store, op, Some(input.person), now).await);
    };
    let new =
        NewAssignment::new(shift.id, person.id, &input.responsibility, now, actor.account.id).map_err(roster_error)?;
    match store.assign(new).await? {
        Assigned::Stored(a) => {
            let detail = format!("assigned to post {} shift {} (assignment {})", post.id, shift.id, a.id);
            actor.record_person_change(store, op, person.id, detail, now).await?;
            Ok((a, shift, post, person))
        }
        Assigned::Clash(c) => Err(AppError::Conflict(RosterError::Overlap(c).to_string())),
    }
}

/// Removes an assignment nobody has checked in to.
pub async fn unassign(store: &dyn Store, actor: &Actor, id: AssignmentId, now: Millis) -> AppResult<Assignment> {
    let op = Operation::RostersManage;
    actor.authorize(store, op, now).await?;
    assignment_in_scope(store, actor, op, id, now).await?;
    let removed = store.remove_assignment(id).await?;
    let detail = format!("removed from post {} shift {} (assignment {id})", removed.post, removed.shift);
    actor.record_person_change(store, op, removed.person, detail, now).await?;
    Ok(removed)
}

/// What a check-in or check-out ended with: the assignment as stored, and whether this call
/// recorded it (false: it was recorded before, and that time is the answer).
pub struct Attendance {
    pub detail: AssignmentDetail,
    pub recorded: bool,
}

async fn attend(
    store: &dyn Store,
    actor: &Actor,
    id: AssignmentId,
    check_in: bool,
    now: Millis,
) -> AppResult<Attendance> {
    let op = Operation::PostsCheckIn;
    actor.authorize(store, op, now).await?;
    let mut detail = assignment_in_scope(store, actor, op, id, now).await?;
    let answer = if check_in { store.check_in(id, now, RULES).await? } else { store.check_out(id, now).await? };
    let (assignment, recorded) = match answer {
        Attended::Recorded(a) => (a, true),
        Attended::Repeated(a) => (a, false),
        Attended::Refused(e) => return Err(AppError::Conflict(e.to_string())),
    };
    if recorded {
        let what = if check_in { "checked in" } else { "checked out" };
        let text = format!("{what} at post {} shift {} (assignment {id})", detail.post.id, detail.shift.id);
        actor.record_person_change(store, op, assignment.person, text, now).await?;
    }
    detail.assignment = assignment;
    Ok(Attendance { detail, recorded })
}

/// Checks in to an assignment (from 30 minutes before the shift until it ends); a second
/// check-in answers the first.
pub async fn check_in(store: &dyn Store, actor: &Actor, id: AssignmentId, now: Millis) -> AppResult<Attendance> {
    attend(store, actor, id, true, now).await
}

/// Checks out of an assignment checked in to; a second check-out answers the first.
pub async fn check_out(store: &dyn Store, actor: &Actor, id: AssignmentId, now: Millis) -> AppResult<Attendance> {
    attend(store, actor, id, false, now).await
}

/// A day's roster: posts, shifts, assignments, and the people assigned.
pub struct DayRoster {
    pub day: NaiveDate,
    pub within: Scope,
    pub posts: Vec<PostRoster>,
    /// The people shown (those inside the actor's scope); others appear by id only.
    pub people: HashMap<PersonId, Person>,
    /// Whether the actor's role may see full phones (the reveal permission).
    pub may_reveal: bool,
    /// Staff who may be assigned (the post page, for an actor who manages rosters): their ids
    /// and teams, by team then name; their records are in `people`.
    pub staff: Vec<(PersonId, bulwark_domain::workforce::Team)>,
}

/// The roster of `day` (local time) for the posts inside `area` (the actor's scope when absent).
/// Every person shown is an audited read, committed before the roster is returned.
pub async fn roster(
    store: &dyn Store,
    actor: &Actor,
    day: NaiveDate,
    area: Option<&str>,
    now: Millis,
) -> AppResult<DayRoster> {
    roster_as(store, actor, Operation::RostersRead, day, area, now).await
}

/// [`roster`] checked and audited as `op`.
pub async fn roster_as(
    store: &dyn Store,
    actor: &Actor,
    op: Operation,
    day: NaiveDate,
    area: Option<&str>,
    now: Millis,
) -> AppResult<DayRoster> {
    actor.authorize(store, op, now).await?;
    let scope = within(store, actor, op, area, now).await?;
    let (from, to) = day_bounds(day, local_offset());
    let posts = store.roster(&scope, from, to).await?;
    shown(store, actor, op, day, scope, posts, vec![], now).await
}

/// Looks up the people of `posts` (and the `staff`) inside the actor's scope and audits each read
/// once before returning.
#[allow(clippy::too_many_arguments)]
async fn shown(
    store: &dyn Store,
    actor: &Actor,
    op: Operation,
    day: NaiveDate,
    scope: Scope,
    posts: Vec<PostRoster>,
    staff: Vec<(PersonId, bulwark_domain::workforce::Team)>,
    now: Millis,
) -> AppResult<DayRoster> {
    let mut ids: Vec<PersonId> =
        posts.iter().flat_map(|p| &p.shifts).flat_map(|s| &s.assignments).map(|a| a.person).collect();
    ids.extend(staff.iter().map(|(p, _)| *p));
    ids.sort_unstable();
    ids.dedup();
    let mut people = HashMap::with_capacity(ids.len());
    for id in ids {
        if let Some(p) = store.person(&actor.scope, id).await? {
            people.insert(id, p);
        }
    }
    let mut read: Vec<Person> = people.values().cloned().collect();
    read.sort_by_key(|p| p.id);
    audit_reads(store, actor, op, &read, now).await?;
    let may_reveal = allows(actor.account.role, Operation::PersonsReveal);
    let mut staff: Vec<_> = staff.into_iter().filter(|(p, _)| people.contains_key(p)).collect();
    staff.sort_by(|a, b| (a.1.as_str(), &people[&a.0].name).cmp(&(b.1.as_str(), &people[&b.0].name)));
    Ok(DayRoster { day, within: scope, posts, people, may_reveal, staff })
}

/// One post inside the actor's scope with its shifts of `day`, their assignments and the people;
/// for an actor who manages rosters, also the staff of the post's area who may be assigned. All
/// people shown are audited reads (`RostersRead`), one entry each.
pub async fn post_roster(
    store: &dyn Store,
    actor: &Actor,
    id: PostId,
    day: NaiveDate,
    now: Millis,
) -> AppResult<DayRoster> {
    let op = Operation::RostersRead;
    actor.authorize(store, op, now).await?;
    let post = post_in_scope(store, actor, op, id, now).await?;
    let scope = Scope { area: post.area, path: post.area_path.clone() };
    let (from, to) = day_bounds(day, local_offset());
    let posts = store.roster(&scope, from, to).await?.into_iter().filter(|p| p.post.id == id).collect();
    let mut staff = Vec::new();
    if allows(actor.account.role, Operation::RostersManage) {
        let mut seen = std::collections::HashSet::new();
        for member in store.staff(&scope, None).await? {
            if seen.insert(member.person) {
                staff.push((member.person, member.team));
            }
        }
    }
    shown(store, actor, op, day, scope, posts, staff, now).await
}

/// What can be checked in to or out of now inside the actor's scope: the shifts running now or
/// opening for check-in (30 minutes ahead), with their assignments and people (audited reads, as
/// `PostsCheckIn`).
pub async fn check_in_list(store: &dyn Store, actor: &Actor, now: Millis) -> AppResult<DayRoster> {
    let op = Operation::PostsCheckIn;
    actor.authorize(store, op, now).await?;
    let posts = store
        .roster(&actor.scope, now, now + RULES.early_check_in + 1)
        .await?
        .into_iter()
        .filter(|p| p.shifts.iter().any(|s| !s.assignments.is_empty()))
        .collect();
    let day = DateTime::from_timestamp_millis(now).unwrap_or_default().with_timezone(&local_offset()).date_naive();
    shown(store, actor, op, day, actor.scope.clone(), posts, vec![], now).await
}

/// The staffing picture inside `area` (the actor's scope when absent) at `now`, for the
/// commander's dashboard: counts only, no people.
pub async fn summary(store: &dyn Store, actor: &Actor, area: Option<&str>, now: Millis) -> AppResult<RosterSummary> {
    let op = Operation::RostersRead;
    actor.authorize(store, op, now).await?;
    let scope = within(store, actor, op, area, now).await?;
    Ok(store.roster_summary(&scope, now, RULES).await?)
}
