//! `/api/v1/posts`, `/assignments`, `/rosters`: workforce posts, shifts, assignments with check-in
//! and check-out, the day's roster (JSON and XLSX) and the staffing summary for the dashboard.

use super::json::ApiJson;
use super::{
    exports::{language, xlsx_file},
    testing::rfc3339,
};
use crate::{
    AppState,
    auth::Caller,
    error::{ApiError, ErrorBody},
    exports::Export,
};
use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use bulwark_app::rosters::{self, AssignmentInput, DayRoster, PostInput, RULES, ShiftsInput};
use bulwark_domain::{
    Millis,
    people::Person,
    workforce::{Assignment, Attendance, Post, Shift, shortfall},
};
use bulwark_store::rosters::RosterSummary;
use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub(crate) struct PostView {
    id: i64,
    name: String,
    /// sampling_site, checkpoint, headquarters, forward_post or other.
    kind: &'static str,
    duties: Vec<&'static str>,
    /// The id of the area the post is in.
    area: i64,
    site: Option<i64>,
    /// People needed on each shift.
    needed: u32,
}

pub(crate) fn post_view(p: &Post) -> PostView {
    PostView {
        id: p.id,
        name: p.name.clone(),
        kind: p.kind.as_str(),
        duties: p.duties.iter().map(|d| d.as_str()).collect(),
        area: p.area,
        site: p.site,
        needed: p.needed,
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ShiftView {
    id: i64,
    post: i64,
    starts: String,
    ends: String,
}

fn shift_view(s: &Shift) -> ShiftView {
    ShiftView { id: s.id, post: s.post, starts: rfc3339(s.starts), ends: rfc3339(s.ends) }
}

/// A person on a roster: masked.
#[derive(Serialize, ToSchema)]
pub(crate) struct RosterPersonView {
    id: i64,
    name: String,
    document_number_masked: Option<String>,
    phone_masked: Option<String>,
}

fn person_view(p: &Person) -> RosterPersonView {
    RosterPersonView {
        id: p.id,
        name: p.name.clone(),
        document_number_masked: p.masked_document(),
        phone_masked: p.masked_phone(),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AssignmentView {
    id: i64,
    shift: i64,
    post: i64,
    /// The person's id; `person` holds the masked record when the person is inside the caller's
    /// scope.
    person_id: i64,
    person: Option<RosterPersonView>,
    responsibility: String,
    checked_in_at: Option<String>,
    checked_out_at: Option<String>,
    /// upcoming, due, on_post, checked_out, no_show or missed (now).
    attendance: &'static str,
}

fn assignment_view(a: &Assignment, shift: &Shift, person: Option<&Person>, now: Millis) -> AssignmentView {
    AssignmentView {
        id: a.id,
        shift: a.shift,
        post: a.post,
        person_id: a.person,
        person: person.map(person_view),
        responsibility: a.responsibility.clone(),
        checked_in_at: a.checked_in_at.map(rfc3339),
        checked_out_at: a.checked_out_at.map(rfc3339),
        attendance: Attendance::of(&shift.times(), a.checked_in_at, a.checked_out_at, now, &RULES).as_str(),
    }
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct AreaParams {
    /// Area code; the caller's whole scope when absent.
    area: Option<String>,
}

/// Creates a post (a sampling site's duties, a checkpoint's 24-hour post, …).
#[utoipa::path(post, path = "/api/v1/posts", operation_id = "rosters_manage.post_create", tag = "rosters",
    request_body = PostInput, responses((status = 201, body = PostView), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_post(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<PostInput>,
) -> Result<(StatusCode, Json<PostView>), ApiError> {
    let post = rosters::create_post(state.store.as_ref(), &actor, input, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(post_view(&post))))
}

/// The posts inside an area (the caller's scope when absent).
#[utoipa::path(get, path = "/api/v1/posts", operation_id = "rosters_read.posts", tag = "rosters",
    params(AreaParams), responses((status = 200, body = Vec<PostView>), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_posts(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<AreaParams>,
) -> Result<Json<Vec<PostView>>, ApiError> {
    let posts = rosters::posts(state.store.as_ref(), &actor, p.area.as_deref(), state.clock.now()).await?;
    Ok(Json(posts.iter().map(post_view).collect()))
}

/// Adds shifts to a post: `shifts` listed one by one, or a `date` cut by a `pattern` (3x8 for a
/// 24-hour post, 2x12, 1x24) from `first_hour`. Each shift lasts at most 24 hours.
#[utoipa::path(post, path = "/api/v1/posts/{id}/shifts", operation_id = "rosters_manage.shifts_create", tag = "rosters",
    params(("id" = i64, Path)), request_body = ShiftsInput,
    responses((status = 201, body = Vec<ShiftView>), (status = 409, body = ErrorBody, description = "a shift with these times exists"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create_shifts(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ShiftsInput>,
) -> Result<(StatusCode, Json<Vec<ShiftView>>), ApiError> {
    let shifts = rosters::create_shifts(state.store.as_ref(), &actor, id, input, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(shifts.iter().map(shift_view).collect())))
}

/// Assigns a person to a shift with a responsibility (定人定岗定责). A person on an overlapping
/// shift is refused with 409 naming the clash.
#[utoipa::path(post, path = "/api/v1/assignments", operation_id = "rosters_manage.assign", tag = "rosters",
    request_body = AssignmentInput,
    responses((status = 201, body = AssignmentView), (status = 409, body = ErrorBody, description = "overlaps another shift of the person"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn assign(
    State(state): State<AppState>,
    Caller(actor): Caller,
    ApiJson(input): ApiJson<AssignmentInput>,
) -> Result<(StatusCode, Json<AssignmentView>), ApiError> {
    let now = state.clock.now();
    let (a, shift, _, person) = rosters::assign(state.store.as_ref(), &actor, input, now).await?;
    Ok((StatusCode::CREATED, Json(assignment_view(&a, &shift, Some(&person), now))))
}

/// Removes an assignment nobody checked in to (attendance is kept: 409 once checked in).
#[utoipa::path(delete, path = "/api/v1/assignments/{id}", operation_id = "rosters_manage.unassign", tag = "rosters",
    params(("id" = i64, Path)), responses((status = 204), (status = 409, body = ErrorBody)))]
pub(crate) async fn unassign(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    rosters::unassign(state.store.as_ref(), &actor, id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn attendance_reply(a: rosters::Attendance, now: Millis) -> (StatusCode, Json<AssignmentView>) {
    let status = if a.recorded { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(assignment_view(&a.detail.assignment, &a.detail.shift, None, now)))
}

/// Checks in (from 30 minutes before the shift until it ends). A second check-in answers 200
/// with the first one's time.
#[utoipa::path(post, path = "/api/v1/assignments/{id}/check-in", operation_id = "posts_check_in.check_in", tag = "rosters",
    params(("id" = i64, Path)),
    responses((status = 201, body = AssignmentView), (status = 200, body = AssignmentView, description = "checked in before"),
        (status = 409, body = ErrorBody, description = "too early, or the shift is over")))]
pub(crate) async fn check_in(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<AssignmentView>), ApiError> {
    let now = state.clock.now();
    Ok(attendance_reply(rosters::check_in(state.store.as_ref(), &actor, id, now).await?, now))
}

/// Checks out. A second check-out answers 200 with the first one's time.
#[utoipa::path(post, path = "/api/v1/assignments/{id}/check-out", operation_id = "posts_check_in.check_out", tag = "rosters",
    params(("id" = i64, Path)),
    responses((status = 201, body = AssignmentView), (status = 200, body = AssignmentView, description = "checked out before"),
        (status = 409, body = ErrorBody, description = "not checked in")))]
pub(crate) async fn check_out(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<AssignmentView>), ApiError> {
    let now = state.clock.now();
    Ok(attendance_reply(rosters::check_out(state.store.as_ref(), &actor, id, now).await?, now))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct RosterParams {
    /// The day, YYYY-MM-DD (local time); today when absent.
    date: Option<String>,
    /// Area code; the caller's whole scope when absent.
    area: Option<String>,
}

impl RosterParams {
    pub(crate) fn day(&self, today: NaiveDate) -> Result<NaiveDate, ApiError> {
        match self.date.as_deref().filter(|d| !d.trim().is_empty()) {
            None => Ok(today),
            Some(d) => Ok(rosters::parse_day("date", d)?),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ShiftRosterView {
    #[serde(flatten)]
    shift: ShiftView,
    assigned: u32,
    /// People the shift lacks, when it runs now or starts within 2 hours; otherwise null.
    unfilled: Option<u32>,
    assignments: Vec<AssignmentView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PostRosterView {
    #[serde(flatten)]
    post: PostView,
    shifts: Vec<ShiftRosterView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RosterView {
    date: String,
    posts: Vec<PostRosterView>,
    /// Shifts unfilled now (running or starting within 2 hours, short of people).
    unfilled_shifts: u32,
    /// Assignments whose person is a no-show now or missed a shift of the day.
    no_shows: u32,
}

pub(crate) fn roster_view(r: &DayRoster, now: Millis) -> RosterView {
    let mut unfilled_shifts = 0;
    let mut no_shows = 0;
    let posts = r
        .posts
        .iter()
        .map(|p| PostRosterView {
            post: post_view(&p.post),
            shifts: p
                .shifts
                .iter()
                .map(|s| {
                    let assigned = s.assignments.len() as u32;
                    let unfilled = shortfall(&s.shift.times(), p.post.needed, assigned, now, &RULES);
                    unfilled_shifts += u32::from(unfilled.is_some());
                    let assignments: Vec<AssignmentView> = s
                        .assignments
                        .iter()
                        .map(|a| assignment_view(a, &s.shift, r.people.get(&a.person), now))
                        .collect();
                    no_shows +=
                        assignments.iter().filter(|a| matches!(a.attendance, "no_show" | "missed")).count() as u32;
                    ShiftRosterView { shift: shift_view(&s.shift), assigned, unfilled, assignments }
                })
                .collect(),
        })
        .collect();
    RosterView { date: r.day.to_string(), posts, unfilled_shifts, no_shows }
}

/// The roster of a day: every post inside the area, its shifts, the people assigned (masked) with
/// their check-ins; unfilled shifts and no-shows marked. Every person shown is an audited read.
#[utoipa::path(get, path = "/api/v1/rosters", operation_id = "rosters_read.roster", tag = "rosters",
    params(RosterParams), responses((status = 200, body = RosterView), (status = 403, body = ErrorBody)))]
pub(crate) async fn roster(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<RosterParams>,
) -> Result<Json<RosterView>, ApiError> {
    let now = state.clock.now();
    let day = p.day(state.clock.today())?;
    let r = rosters::roster(state.store.as_ref(), &actor, day, p.area.as_deref(), now).await?;
    Ok(Json(roster_view(&r, now)))
}

/// The roster of a day as an Excel workbook (headers in the caller's language; ID numbers as
/// masked text; phones masked unless the caller's role may reveal them, and then audited as
/// reveals with the reason `export`). Every person is an audited read.
#[utoipa::path(get, path = "/api/v1/rosters/export", operation_id = "rosters_read.export", tag = "rosters",
    params(RosterParams),
    responses((status = 200, description = "an XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Query(p): Query<RosterParams>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let day = p.day(state.clock.today())?;
    let r = rosters::roster(state.store.as_ref(), &actor, day, p.area.as_deref(), now).await?;
    let mut x = Export::new(language(&headers, None), &actor, false);
    crate::exports::rosters::roster(&mut x, &r, now)?;
    let bytes = x.finish(state.store.as_ref(), &actor, now).await?;
    Ok(xlsx_file(bytes, &format!("roster-{day}.xlsx")))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RosterSummaryView {
    posts: u64,
    shifts_running: u64,
    assigned: u64,
    checked_in: u64,
    unfilled_shifts: u64,
    unfilled_places: u64,
    no_shows: u64,
}

pub(crate) fn summary_view(s: &RosterSummary) -> RosterSummaryView {
    RosterSummaryView {
        posts: s.posts,
        shifts_running: s.shifts_running,
        assigned: s.assigned,
        checked_in: s.checked_in,
        unfilled_shifts: s.unfilled_shifts,
        unfilled_places: s.unfilled_places,
        no_shows: s.no_shows,
    }
}

/// Staff on post now inside an area: posts, shifts running, people assigned and checked in,
/// unfilled shifts and places, no-shows. Counts only.
#[utoipa::path(get, path = "/api/v1/rosters/summary", operation_id = "rosters_read.summary", tag = "rosters",
    params(AreaParams), responses((status = 200, body = RosterSummaryView), (status = 403, body = ErrorBody)))]
pub(crate) async fn summary(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<AreaParams>,
) -> Result<Json<RosterSummaryView>, ApiError> {
    let s = rosters::summary(state.store.as_ref(), &actor, p.area.as_deref(), state.clock.now()).await?;
    Ok(Json(summary_view(&s)))
}

/// Local time (UTC+8) for people: `2022-10-06 08:00`.
pub(crate) fn local_time(ms: Millis) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&rosters::local_offset()).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
