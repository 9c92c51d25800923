//! `/api/v1/plans`, `/incidents`, `/tasks`: plans, activation, the roll-call, tasks, the timeline
//! and the dashboard's figures.

use super::json::ApiJson;
use super::testing::rfc3339;
use crate::{
    AppState,
    auth::{self, Caller},
    error::{ApiError, ErrorBody},
    events::Event,
};
use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use bulwark_app::{
    AppError, accounts,
    command::{
        dashboard::{self, Dashboard},
        incidents::{self, ActivationInput, IncidentDetail},
        plans, rollcall,
        rollcall::{AnswerInput, Board},
        tasks::{self, TaskPatch},
        timeline,
    },
};
use bulwark_domain::{
    Millis,
    command::{IncidentId, MemberState, Plan, Task, TimelineEntry},
};
use bulwark_store::command::{Group, Incident, StoredPlan};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub(crate) struct PlanSummaryView {
    key: String,
    title: String,
    title_en: String,
    /// 0: the shipped plan, never saved.
    version: u32,
    saved_at: Option<String>,
    groups: usize,
    tasks: usize,
    assembly_minutes: u32,
}

fn plan_summary(p: &StoredPlan) -> PlanSummaryView {
    PlanSummaryView {
        key: p.plan.key.to_string(),
        title: p.plan.title.clone(),
        title_en: p.plan.title_en.clone(),
        version: p.version,
        saved_at: (p.version > 0).then(|| rfc3339(p.saved_at)),
        groups: p.plan.groups.len(),
        tasks: p.plan.groups.iter().map(|g| g.tasks.len()).sum(),
        assembly_minutes: p.plan.assembly_minutes,
    }
}

/// Every plan's latest version (the shipped golden-24-hours plan until the town saves its own).
#[utoipa::path(get, path = "/api/v1/plans", operation_id = "plans_read.list", tag = "command",
    responses((status = 200, body = [PlanSummaryView])))]
pub(crate) async fn list_plans(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<PlanSummaryView>>, ApiError> {
    let plans = plans::list(state.store.as_ref(), &actor, state.clock.now()).await?;
    Ok(Json(plans.iter().map(plan_summary).collect()))
}

/// Imports a plan file (the JSON that `GET /api/v1/plans/{key}` exports) as the next version of
/// its key: 201 with the new version, or 200 when it is the same as the latest version.
#[utoipa::path(post, path = "/api/v1/plans", operation_id = "plans_manage", tag = "command",
    request_body(content = Object, description = "a plan file (JSON)", content_type = "application/json"),
    responses((status = 201, body = PlanSummaryView), (status = 200, body = PlanSummaryView), (status = 422, body = ErrorBody)))]
pub(crate) async fn import_plan(
    State(state): State<AppState>,
    Caller(actor): Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<PlanSummaryView>), ApiError> {
    let (saved, created) = plans::import(state.store.as_ref(), &actor, &body, state.clock.now()).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(plan_summary(&saved))))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct VersionQuery {
    /// A version; the latest when absent.
    version: Option<u32>,
}

/// Exports a plan as a file (JSON), to edit and import again.
#[utoipa::path(get, path = "/api/v1/plans/{key}", operation_id = "plans_read.export", tag = "command",
    params(("key" = String, Path), VersionQuery), responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub(crate) async fn export_plan(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(key): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, ApiError> {
    let stored = plans::get(state.store.as_ref(), &actor, &key, q.version, state.clock.now()).await?;
    Ok(plan_file(&stored.plan, stored.version))
}

/// Where the one-tap links point: the server as the activating browser reached it.
pub(crate) fn link_base(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if state.secure_cookies { "https" } else { "http" };
    format!("{scheme}://{host}")
}

pub(crate) fn plan_file(plan: &Plan, version: u32) -> Response {
    let body = serde_json::to_vec_pretty(plan).unwrap_or_default();
    super::file_response(body, "application/json", &format!("plan-{}-v{version}.json", plan.key), false)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct GroupView {
    id: i64,
    key: String,
    name: String,
    name_en: String,
    /// The lead's post.
    lead: String,
    members: u32,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TaskView {
    id: i64,
    incident: i64,
    group: i64,
    key: String,
    title: String,
    title_en: String,
    deadline: String,
    /// open, in_progress, done or cancelled.
    status: &'static str,
    owner: Option<i64>,
    notes: String,
    closed_at: Option<String>,
    /// Open past its deadline now.
    overdue: bool,
    /// Done after its deadline.
    late: bool,
    /// Whole minutes to the deadline (negative when past it).
    minutes_left: i64,
}

pub(crate) fn task_view(t: &Task, now: Millis) -> TaskView {
    TaskView {
        id: t.id,
        incident: t.incident,
        group: t.group,
        key: t.key.clone(),
        title: t.title.clone(),
        title_en: t.title_en.clone(),
        deadline: rfc3339(t.deadline),
        status: t.status.as_str(),
        owner: t.owner,
        notes: t.notes.clone(),
        closed_at: t.closed_at.map(rfc3339),
        overdue: t.is_overdue(now),
        late: t.was_late(),
        minutes_left: t.remaining(now).div_euclid(60_000),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct IncidentSummaryView {
    id: i64,
    plan: String,
    plan_version: u32,
    title: String,
    trigger: String,
    /// 1 (gravest) to 4.
    level: u8,
    activated_at: String,
    assembly_deadline: String,
    headquarters: String,
    forward_post: String,
}

pub(crate) fn incident_summary(i: &Incident) -> IncidentSummaryView {
    IncidentSummaryView {
        id: i.id,
        plan: i.plan.to_string(),
        plan_version: i.plan_version,
        title: i.title.clone(),
        trigger: i.trigger.clone(),
        level: i.level.number(),
        activated_at: rfc3339(i.activated_at),
        assembly_deadline: rfc3339(i.assembly_deadline),
        headquarters: i.headquarters.clone(),
        forward_post: i.forward_post.clone(),
    }
}

fn group_view(g: &Group, members: u32) -> GroupView {
    GroupView {
        id: g.id,
        key: g.key.clone(),
        name: g.name.clone(),
        name_en: g.name_en.clone(),
        lead: g.lead.clone(),
        members,
    }
}

/// An incident with its groups and its tasks (absolute deadlines, by deadline).
#[derive(Serialize, ToSchema)]
pub(crate) struct IncidentView {
    #[serde(flatten)]
    summary: IncidentSummaryView,
    /// People notified (every member of every group).
    notified: u32,
    groups: Vec<GroupView>,
    tasks: Vec<TaskView>,
}

fn incident_view(d: &IncidentDetail, now: Millis) -> IncidentView {
    IncidentView {
        summary: incident_summary(&d.incident),
        notified: d.groups.iter().map(|(_, n)| n).sum(),
        groups: d.groups.iter().map(|(g, n)| group_view(g, *n)).collect(),
        tasks: d.tasks.iter().map(|t| task_view(t, now)).collect(),
    }
}

/// Activates a plan for the caller's area: the incident, its groups (staffed from the staff
/// list), its tasks with absolute deadlines; every member gets a one-tap roll-call link.
#[utoipa::path(post, path = "/api/v1/incidents", operation_id = "incidents_activate", tag = "command",
    request_body = ActivationInput,
    responses((status = 201, body = IncidentView), (status = 422, body = ErrorBody)))]
pub(crate) async fn activate(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ActivationInput>,
) -> Result<(StatusCode, Json<IncidentView>), ApiError> {
    let now = state.clock.now();
    let activated = incidents::activate(state.store.as_ref(), &actor, input, now).await?;
    let base = link_base(&state, &headers);
    incidents::notify_members(state.store.as_ref(), &state.notify, &activated, &base, now).await?;
    state.events.publish(Event::Incident(activated.detail.incident.id));
    Ok((StatusCode::CREATED, Json(incident_view(&activated.detail, now))))
}

/// Incidents in the caller's area, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", operation_id = "incidents_read.list", tag = "command",
    responses((status = 200, body = [IncidentSummaryView])))]
pub(crate) async fn list_incidents(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<IncidentSummaryView>>, ApiError> {
    let list = incidents::list(state.store.as_ref(), &actor, state.clock.now()).await?;
    Ok(Json(list.iter().map(incident_summary).collect()))
}

/// One incident with its groups and tasks.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", operation_id = "incidents_read.detail", tag = "command",
    params(("id" = i64, Path)), responses((status = 200, body = IncidentView), (status = 403, body = ErrorBody)))]
pub(crate) async fn incident(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<IncidentId>,
) -> Result<Json<IncidentView>, ApiError> {
    let now = state.clock.now();
    let d = incidents::detail(state.store.as_ref(), &actor, id, now).await?;
    Ok(Json(incident_view(&d, now)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MemberView {
    person_id: i64,
    group: i64,
    /// null before any answer; received, on_my_way or arrived.
    status: Option<&'static str>,
    place: Option<String>,
    answered_at: Option<String>,
    arrived_at: Option<String>,
}

pub(crate) fn member_view(m: &MemberState) -> MemberView {
    MemberView {
        person_id: m.person,
        group: m.group,
        status: m.status.map(|s| s.as_str()),
        place: m.place.as_ref().map(|p| p.as_str().to_owned()),
        answered_at: m.answered_at.map(rfc3339),
        arrived_at: m.arrived_at.map(rfc3339),
    }
}

/// Records a roll-call answer: from the one-tap link (`token`, no session needed) or by a signed-in
/// account for a member (`person_id`). A person's state only moves forward.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/rollcall", operation_id = "roll_call_answer", tag = "command",
    params(("id" = i64, Path)), request_body = AnswerInput,
    responses((status = 200, body = MemberView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<IncidentId>,
    ApiJson(input): ApiJson<AnswerInput>,
) -> Result<Json<MemberView>, ApiError> {
    let now = state.clock.now();
    let actor = match (&input.token, auth::token_of(&headers)) {
        (None, Some(token)) => Some(
            accounts::authenticate_cached(state.store.as_ref(), &state.sessions, &token, auth::request_id(), now)
                .await?,
        ),
        (None, None) => return Err(ApiError(AppError::Unauthenticated)),
        (Some(_), _) => None,
    };
    let answered = rollcall::answer(state.store.as_ref(), actor.as_ref(), id, input, now).await?;
    state.events.publish(Event::Incident(answered.incident));
    Ok(Json(member_view(&answered.state)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct GroupRollCallView {
    group: i64,
    key: String,
    name: String,
    lead: String,
    notified: u32,
    answered: u32,
    on_the_way: u32,
    arrived: u32,
    arrived_within_deadline: u32,
    /// How many have not answered (their names and phones: `/rollcall/missing`).
    not_answered: usize,
}

/// The roll-call board.
#[derive(Serialize, ToSchema)]
pub(crate) struct RollCallView {
    incident: i64,
    activated_at: String,
    assembly_deadline: String,
    notified: u32,
    answered: u32,
    arrived: u32,
    arrived_within_deadline: u32,
    groups: Vec<GroupRollCallView>,
}

pub(crate) fn rollcall_view(b: &Board) -> RollCallView {
    RollCallView {
        incident: b.incident.id,
        activated_at: rfc3339(b.incident.activated_at),
        assembly_deadline: rfc3339(b.incident.assembly_deadline),
        notified: b.tally.notified,
        answered: b.tally.answered,
        arrived: b.tally.arrived,
        arrived_within_deadline: b.tally.arrived_within_deadline,
        groups: b
            .groups
            .iter()
            .zip(&b.tally.groups)
            .map(|(g, l)| GroupRollCallView {
                group: g.id,
                key: g.key.clone(),
                name: g.name.clone(),
                lead: g.lead.clone(),
                notified: l.notified,
                answered: l.answered,
                on_the_way: l.on_the_way,
                arrived: l.arrived,
                arrived_within_deadline: l.arrived_within_deadline,
                not_answered: l.not_answered.len(),
            })
            .collect(),
    }
}

/// The roll-call board: per group, notified, answered, arrived, and arrived within the assembly
/// deadline.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/rollcall", operation_id = "incidents_read.rollcall", tag = "command",
    params(("id" = i64, Path)), responses((status = 200, body = RollCallView), (status = 403, body = ErrorBody)))]
pub(crate) async fn board(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<IncidentId>,
) -> Result<Json<RollCallView>, ApiError> {
    let b = rollcall::board(state.store.as_ref(), &actor, id, state.clock.now()).await?;
    Ok(Json(rollcall_view(&b)))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct GroupQuery {
    /// A group's key; every group when absent.
    group: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MissingPersonView {
    person_id: i64,
    name: String,
    /// Masked, like every phone the server sends; the lead reveals it (with a reason, audited) to
    /// call. Every person listed is an audited read.
    phone: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
pub(crate) struct ResendInput {
    /// The members to send new links to; every member who has not answered when absent.
    persons: Option<Vec<i64>>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ResendView {
    /// Members who got a new link (their old links stop working).
    members: u64,
    /// Messages enqueued (SMS and e-mail).
    messages: u64,
}

/// Sends new one-tap roll-call links (SMS and e-mail) to the given members, or to every member who
/// has not answered; their old links stop working.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/rollcall/resend", operation_id = "incidents_activate.resend", tag = "command",
    params(("id" = i64, Path)), request_body = ResendInput,
    responses((status = 200, body = ResendView), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn resend_links(
    State(state): State<AppState>,
    Caller(actor): Caller,
    headers: HeaderMap,
    Path(id): Path<IncidentId>,
    body: Option<Json<ResendInput>>,
) -> Result<Json<ResendView>, ApiError> {
    let input = body.map(|Json(b)| b).unwrap_or_default();
    let now = state.clock.now();
    let base = link_base(&state, &headers);
    let r = incidents::resend_links(state.store.as_ref(), &state.notify, &actor, id, input.persons, &base, now).await?;
    Ok(Json(ResendView { members: r.members, messages: r.messages }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ArrivedPersonView {
    person_id: i64,
    name: String,
    /// The first arrival.
    arrived_at: String,
    /// headquarters, forward_post or a post's name.
    place: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ArrivedView {
    group: i64,
    key: String,
    name: String,
    people: Vec<ArrivedPersonView>,
}

/// Who has arrived, per group, earliest first, with when and where (every person shown is an
/// audited read).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/rollcall/arrived", operation_id = "incidents_read.arrived", tag = "command",
    params(("id" = i64, Path), GroupQuery), responses((status = 200, body = [ArrivedView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn arrived(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<IncidentId>,
    Query(q): Query<GroupQuery>,
) -> Result<Json<Vec<ArrivedView>>, ApiError> {
    let list = rollcall::arrived(state.store.as_ref(), &actor, id, q.group.as_deref(), state.clock.now()).await?;
    Ok(Json(
        list.into_iter()
            .map(|a| ArrivedView {
                group: a.group.id,
                key: a.group.key,
                name: a.group.name,
                people: a
                    .people
                    .into_iter()
                    .map(|(p, at, place)| ArrivedPersonView {
                        person_id: p.id,
                        name: p.name,
                        arrived_at: rfc3339(at),
                        place: place.map(|pl| pl.as_str().to_owned()),
                    })
                    .collect(),
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MissingView {
    group: i64,
    key: String,
    name: String,
    people: Vec<MissingPersonView>,
}

/// Who has not answered, per group, with (masked) phone numbers for the group lead to reveal and call.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/rollcall/missing", operation_id = "incidents_read.missing", tag = "command",
    params(("id" = i64, Path), GroupQuery), responses((status = 200, body = [MissingView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn missing(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<IncidentId>,
    Query(q): Query<GroupQuery>,
) -> Result<Json<Vec<MissingView>>, ApiError> {
    let list = rollcall::missing(state.store.as_ref(), &actor, id, q.group.as_deref(), state.clock.now()).await?;
    Ok(Json(
        list.into_iter()
            .map(|m| MissingView {
                group: m.group.id,
                key: m.group.key,
                name: m.group.name,
                people: m
                    .people
                    .into_iter()
                    .map(|p| MissingPersonView {
                        person_id: p.id,
                        name: p.name,
                        phone: p.phone.map(|ph| bulwark_domain::people::mask_phone(ph.as_str())),
                    })
                    .collect(),
            })
            .collect(),
    ))
}

/// The incident's tasks by deadline, with `overdue` flags.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/tasks", operation_id = "incidents_read.tasks", tag = "command",
    params(("id" = i64, Path)), responses((status = 200, body = [TaskView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_tasks(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<IncidentId>,
) -> Result<Json<Vec<TaskView>>, ApiError> {
    let now = state.clock.now();
    let list = tasks::list(state.store.as_ref(), &actor, id, now).await?;
    Ok(Json(list.iter().map(|t| task_view(t, now)).collect()))
}

/// Changes a task's status, owner or notes.
#[utoipa::path(patch, path = "/api/v1/tasks/{id}", operation_id = "tasks_update", tag = "command",
    params(("id" = i64, Path)), request_body = TaskPatch,
    responses((status = 200, body = TaskView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update_task(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<TaskPatch>,
) -> Result<Json<TaskView>, ApiError> {
    let now = state.clock.now();
    let task = tasks::update(state.store.as_ref(), &actor, id, patch, now).await?;
    state.events.publish(Event::Incident(task.incident));
    Ok(Json(task_view(&task, now)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TimelineView {
    id: i64,
    at: String,
    /// activated, arrival, assembly, task_done, task_overdue, task_changed, figure or manual.
    kind: &'static str,
    text: String,
    by: Option<i64>,
}

pub(crate) fn timeline_view(e: &TimelineEntry) -> TimelineView {
    TimelineView { id: e.id, at: rfc3339(e.at), kind: e.kind.as_str(), text: e.text.clone(), by: e.by }
}

/// The incident's timeline, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline", operation_id = "incidents_read.timeline", tag = "command",
    params(("id" = i64, Path)), responses((status = 200, body = [TimelineView]), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_timeline(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<IncidentId>,
) -> Result<Json<Vec<TimelineView>>, ApiError> {
    let list = timeline::list(state.store.as_ref(), &actor, id, state.clock.now()).await?;
    Ok(Json(list.iter().map(timeline_view).collect()))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct TimelineInput {
    text: String,
}

/// Writes an entry into the timeline (ID and phone numbers typed into it are masked).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/timeline", operation_id = "timeline_write", tag = "command",
    params(("id" = i64, Path)), request_body = TimelineInput,
    responses((status = 201, body = TimelineView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn add_timeline(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<IncidentId>,
    ApiJson(input): ApiJson<TimelineInput>,
) -> Result<(StatusCode, Json<TimelineView>), ApiError> {
    let entry = timeline::add(state.store.as_ref(), &actor, id, &input.text, state.clock.now()).await?;
    state.events.publish(Event::Incident(id));
    Ok((StatusCode::CREATED, Json(timeline_view(&entry))))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TestingFiguresView {
    round: i64,
    round_name: String,
    sampled: u64,
    tubes: u64,
    tubes_open: u64,
    /// Target and sampled of the incident's area.
    target: u64,
    percent: f64,
    abnormal_pools: usize,
    abnormal_pools_open: usize,
    /// Coverage of each area below the incident's (villages, communities).
    villages: Vec<VillageCoverageView>,
}

/// One village's coverage on the dashboard, with its leader's title (not the name: the
/// dashboard shows no person).
#[derive(Serialize, ToSchema)]
pub(crate) struct VillageCoverageView {
    code: String,
    name: String,
    sampled: u64,
    target: u64,
    /// The title of the village's leader (包村领导), if one is set.
    leader_title: Option<String>,
}

/// The dashboard's figures.
#[derive(Serialize, ToSchema)]
pub(crate) struct DashboardView {
    incident: IncidentSummaryView,
    now: String,
    minutes_since_activation: i64,
    rollcall: RollCallView,
    /// Overdue first.
    tasks: Vec<TaskView>,
    overdue: usize,
    testing: Option<TestingFiguresView>,
    /// Staff on post now.
    posts: PostsView,
    recent: Vec<TimelineView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PostsView {
    posts: u64,
    shifts_running: u64,
    assigned: u64,
    checked_in: u64,
    unfilled_shifts: u64,
    unfilled_places: u64,
    no_shows: u64,
}

pub(crate) fn dashboard_view(d: &Dashboard) -> DashboardView {
    let testing = d.testing.as_ref().map(|t| {
        let (target, sampled) = t.coverage.first().map_or((0, 0), |c| (c.target(), c.sampled));
        TestingFiguresView {
            round: t.round.id,
            round_name: t.round.name.clone(),
            sampled: t.progress.sampled,
            tubes: t.progress.tubes,
            tubes_open: t.progress.tubes_open,
            target,
            percent: if target == 0 { 0.0 } else { (sampled as f64 * 1000.0 / target as f64).round() / 10.0 },
            abnormal_pools: t.abnormal_pools,
            abnormal_pools_open: t.abnormal_pools_open,
            villages: t
                .coverage
                .iter()
                .skip(1)
                .map(|c| VillageCoverageView {
                    code: c.area.code.as_str().to_string(),
                    name: c.area.name.clone(),
                    sampled: c.sampled,
                    target: c.target(),
                    leader_title: t.leader_titles.get(&c.area.id).cloned(),
                })
                .collect(),
        }
    });
    DashboardView {
        incident: incident_summary(&d.board.incident),
        now: rfc3339(d.now),
        minutes_since_activation: (d.now - d.board.incident.activated_at).div_euclid(60_000),
        rollcall: rollcall_view(&d.board),
        overdue: d.tasks.iter().filter(|t| t.is_overdue(d.now)).count(),
        tasks: d.tasks.iter().map(|t| task_view(t, d.now)).collect(),
        testing,
        posts: PostsView {
            posts: d.posts.posts,
            shifts_running: d.posts.shifts_running,
            assigned: d.posts.assigned,
            checked_in: d.posts.checked_in,
            unfilled_shifts: d.posts.unfilled_shifts,
            unfilled_places: d.posts.unfilled_places,
            no_shows: d.posts.no_shows,
        },
        recent: d.recent.iter().map(timeline_view).collect(),
    }
}

/// The commander's dashboard as figures: time since activation, assembly, tasks (overdue first),
/// mass testing, the latest timeline entries.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/dashboard", operation_id = "incidents_read.dashboard", tag = "command",
    params(("id" = i64, Path)), responses((status = 200, body = DashboardView), (status = 403, body = ErrorBody)))]
pub(crate) async fn dashboard(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<IncidentId>,
) -> Result<Json<DashboardView>, ApiError> {
    let d = dashboard::dashboard(state.store.as_ref(), &state.pool_counts, &actor, id, state.clock.now()).await?;
    Ok(Json(dashboard_view(&d)))
}
