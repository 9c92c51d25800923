//! Command pages: incidents (the list and the activation form), an incident's live dashboard
//! (assembly, tasks with countdowns, mass testing, timeline — fit for a wall display and a
//! phone), the one-tap roll-call page `/r/{token}`, and plans (view, export, edit, import).
//!
//! Live updates work as on a round's page: `/incidents/{id}/events` says only *that* something
//! changed; `assets/command.js` then fetches `/incidents/{id}/live` and swaps it in.

use super::{
    Chrome, OrPage, PageCaller, PageError,
    imports::file_field,
    render,
    rounds::{grouped, local_day_hm, local_hm},
};
use crate::{AppState, auth, events::Event, i18n::Lang};
use askama::Template;
use axum::{
    Form,
    extract::{Multipart, Path, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::command::{
    dashboard::{self, Dashboard},
    incidents::{self, ActivationInput, LevelInput},
    plans, rollcall,
    tasks::{self, TaskPatch},
    timeline,
};
use bulwark_domain::{
    access::{Operation, allows},
    command::{IncidentId, Plan, RollCallStatus},
};
use serde::Deserialize;

/// `1 h 05 min` / `-12 min`: a countdown as the board shows it.
fn span(ms: i64) -> String {
    let minutes = ms.div_euclid(60_000);
    let (sign, m) = if minutes < 0 { ("-", -minutes) } else { ("", minutes) };
    if m >= 60 { format!("{sign}{} h {:02} min", m / 60, m % 60) } else { format!("{sign}{m} min") }
}

fn t_of(lang: Lang) -> crate::i18n::Tr {
    crate::i18n::Tr(lang)
}

struct IncidentRow {
    id: IncidentId,
    title: String,
    trigger: String,
    level: &'static str,
    activated: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    chrome: Chrome,
    rows: Vec<IncidentRow>,
    can_activate: bool,
    plans: Vec<(String, String)>,
    default_time: String,
}

/// `GET /incidents`.
pub(crate) async fn list(State(state): State<AppState>, caller: PageCaller) -> Result<Response, PageError> {
    let now = state.clock.now();
    let store = state.store.as_ref();
    let rows = incidents::list(store, &caller.actor, now)
        .await
        .or_page(caller.lang)?
        .into_iter()
        .map(|i| IncidentRow {
            id: i.id,
            title: i.title,
            trigger: i.trigger,
            level: i.level.roman(),
            activated: local_day_hm(i.activated_at),
        })
        .collect();
    let can_activate = allows(caller.actor.account.role, Operation::IncidentsActivate);
    let plans = if can_activate {
        plans::list(store, &caller.actor, now)
            .await
            .or_page(caller.lang)?
            .into_iter()
            .map(|p| (p.plan.key.to_string(), p.plan.title))
            .collect()
    } else {
        Vec::new()
    };
    let default_time = chrono::DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00"))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    Ok(render(&IncidentsPage { chrome: caller.chrome(), rows, can_activate, plans, default_time }))
}

#[derive(Deserialize)]
pub(crate) struct ActivateForm {
    plan: String,
    trigger: String,
    level: String,
    /// `2022-10-06T07:00` in China time, from a datetime-local input.
    activated_at: Option<String>,
    forward_post: Option<String>,
}

/// `POST /incidents`: activates a plan from the form.
pub(crate) async fn activate(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
    Form(form): Form<ActivateForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let activated_at = form
        .activated_at
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| if s.len() == 16 { format!("{s}:00+08:00") } else { s.to_owned() });
    let input = ActivationInput {
        plan: form.plan,
        version: None,
        trigger: form.trigger,
        level: LevelInput::Text(form.level),
        activated_at,
        headquarters: None,
        forward_post: form.forward_post.filter(|f| !f.trim().is_empty()),
    };
    let activated = incidents::activate(state.store.as_ref(), &caller.actor, input, now).await.or_page(caller.lang)?;
    let base = crate::api::command::link_base(&state, &headers);
    incidents::notify_members(state.store.as_ref(), &state.notify, &activated, &base, now)
        .await
        .or_page(caller.lang)?;
    let id = activated.detail.incident.id;
    state.events.publish(Event::Incident(id));
    Ok(Redirect::to(&format!("/incidents/{id}")).into_response())
}

struct GroupLine {
    key: String,
    name: String,
    lead: String,
    notified: u32,
    answered: u32,
    arrived: u32,
    within: u32,
    missing: usize,
    percent: u32,
}

struct TaskLine {
    id: i64,
    group: String,
    title: String,
    deadline: String,
    countdown: String,
    status: &'static str,
    status_text: String,
    overdue: bool,
    open: bool,
    late: bool,
}

struct TestingLine {
    round: i64,
    name: String,
    sampled: String,
    target: String,
    percent: String,
    bar: u32,
    abnormal: usize,
    abnormal_open: usize,
    /// (name, leader's title or empty, sampled, percent, bar width).
    villages: Vec<(String, String, String, String, u32)>,
}

pub(crate) struct Live {
    id: IncidentId,
    title: String,
    trigger: String,
    level: &'static str,
    activated: String,
    since: String,
    assembly_deadline: String,
    assembly_left: String,
    assembly_open: bool,
    notified: u32,
    answered: u32,
    arrived: u32,
    within: u32,
    groups: Vec<GroupLine>,
    tasks: Vec<TaskLine>,
    overdue: usize,
    testing: Option<TestingLine>,
    recent: Vec<(String, &'static str, String)>,
    /// Staff on post now: (checked in, assigned, unfilled places, no-shows, shifts running).
    on_post: (u64, u64, u64, u64, u64),
    /// `[[t…],[cumulative arrivals…]]` for the chart.
    arrivals_json: String,
    /// The chart's time axis runs at least to here (seconds): the assembly deadline, or now.
    chart_until: i64,
    can_update: bool,
    can_missing: bool,
}

fn percent(n: u64, of: u64) -> (String, u32) {
    if of == 0 {
        return ("—".into(), 0);
    }
    let p = n as f64 * 100.0 / of as f64;
    (format!("{p:.1}"), p.round().min(100.0) as u32)
}

impl Live {
    fn of(d: Dashboard, caller: &PageCaller) -> Live {
        let t = t_of(caller.lang);
        let now = d.now;
        let i = &d.board.incident;
        let names: std::collections::HashMap<i64, String> = d
            .board
            .groups
            .iter()
            .map(|g| (g.id, if t.is_zh() || g.name_en.is_empty() { g.name.clone() } else { g.name_en.clone() }))
            .collect();
        let groups = d
            .board
            .groups
            .iter()
            .zip(&d.board.tally.groups)
            .map(|(g, l)| GroupLine {
                key: g.key.clone(),
                name: names.get(&g.id).cloned().unwrap_or_default(),
                lead: g.lead.clone(),
                notified: l.notified,
                answered: l.answered,
                arrived: l.arrived,
                within: l.arrived_within_deadline,
                missing: l.not_answered.len(),
                percent: percent(u64::from(l.arrived), u64::from(l.notified)).1,
            })
            .collect();
        let tasks = d
            .tasks
            .iter()
            .map(|task| TaskLine {
                id: task.id,
                group: names.get(&task.group).cloned().unwrap_or_default(),
                title: if t.is_zh() || task.title_en.is_empty() { task.title.clone() } else { task.title_en.clone() },
                deadline: local_day_hm(task.deadline),
                countdown: span(task.remaining(now)),
                status: task.status.as_str(),
                status_text: t.get(&format!("task-status-{}", task.status.as_str())),
                overdue: task.is_overdue(now),
                open: task.status.is_open(),
                late: task.was_late(),
            })
            .collect();
        let testing = d.testing.as_ref().map(|f| {
            let (target, sampled) = f.coverage.first().map_or((0, 0), |c| (c.target(), c.sampled));
            let (pct, bar) = percent(sampled, target);
            TestingLine {
                round: f.round.id,
                name: f.round.name.clone(),
                sampled: grouped(f.progress.sampled),
                target: grouped(target),
                percent: pct,
                bar,
                abnormal: f.abnormal_pools,
                abnormal_open: f.abnormal_pools_open,
                villages: f
                    .coverage
                    .iter()
                    .skip(1)
                    .map(|c| {
                        let (p, b) = percent(c.sampled, c.target());
                        let title = f.leader_titles.get(&c.area.id).cloned().unwrap_or_default();
                        (c.area.name.clone(), title, grouped(c.sampled), p, b)
                    })
                    .collect(),
            }
        });
        let mut xs = Vec::with_capacity(d.board.arrivals.len() + 1);
        let mut ys = Vec::with_capacity(d.board.arrivals.len() + 1);
        xs.push(i.activated_at / 1000);
        ys.push(0);
        for (n, at) in d.board.arrivals.iter().enumerate() {
            xs.push(at / 1000);
            ys.push(n + 1);
        }
        // The step line runs on to now at the count reached, rather than stopping at the last
        // arrival.
        if let Some(&last) = xs.last()
            && now / 1000 > last
        {
            xs.push(now / 1000);
            ys.push(ys.last().copied().unwrap_or(0));
        }
        let recent = d.recent.iter().map(|e| (local_day_hm(e.at), e.kind.as_str(), e.text.clone())).collect();
        Live {
            id: i.id,
            title: i.title.clone(),
            trigger: i.trigger.clone(),
            level: i.level.roman(),
            activated: local_day_hm(i.activated_at),
            since: span(now - i.activated_at),
            assembly_deadline: local_hm(i.assembly_deadline),
            assembly_left: span(i.assembly_deadline - now),
            assembly_open: now <= i.assembly_deadline,
            notified: d.board.tally.notified,
            answered: d.board.tally.answered,
            arrived: d.board.tally.arrived,
            within: d.board.tally.arrived_within_deadline,
            groups,
            overdue: d.tasks.iter().filter(|t| t.is_overdue(now)).count(),
            tasks,
            testing,
            recent,
            on_post: (
                d.posts.checked_in,
                d.posts.assigned,
                d.posts.unfilled_places,
                d.posts.no_shows,
                d.posts.shifts_running,
            ),
            arrivals_json: serde_json::to_string(&(xs, ys)).unwrap_or_default(),
            chart_until: i.assembly_deadline.max(now) / 1000,
            can_update: allows(caller.actor.account.role, Operation::TasksUpdate),
            can_missing: allows(caller.actor.account.role, Operation::IncidentsRead),
        }
    }
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    chrome: Chrome,
    live: Live,
    can_write: bool,
    can_resend: bool,
    /// Per group: its name and who has not answered.
    missing: Vec<(String, CallList)>,
    /// Per group: its name and who arrived.
    arrived: Vec<(String, ArrivalList)>,
}

/// (person id, name, local time, place) of each member who arrived, earliest first.
type ArrivalList = Vec<(i64, String, String, String)>;

/// (person id, name, masked phone) of each member to call.
type CallList = Vec<(i64, String, String)>;

#[derive(Template)]
#[template(path = "incident_live.html")]
struct IncidentLive {
    chrome: Chrome,
    live: Live,
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    /// Show who has not answered in this group (names and phones: an audited read).
    missing: Option<String>,
    /// Show who has arrived in this group, and when (names: an audited read).
    arrived: Option<String>,
}

/// `GET /incidents/{id}`: the commander's dashboard.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<IncidentId>,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let store = state.store.as_ref();
    let d = dashboard::dashboard(store, &state.pool_counts, &caller.actor, id, now).await.or_page(caller.lang)?;
    let missing = match q.missing.as_deref() {
        Some(group) => rollcall::missing(store, &caller.actor, id, Some(group), now)
            .await
            .or_page(caller.lang)?
            .into_iter()
            .map(|m| {
                let people = m
                    .people
                    .into_iter()
                    .map(|p| {
                        (
                            p.id,
                            p.name,
                            p.phone.map(|ph| bulwark_domain::people::mask_phone(ph.as_str())).unwrap_or_default(),
                        )
                    })
                    .collect();
                (m.group.name, people)
            })
            .collect(),
        None => Vec::new(),
    };
    let arrived = match q.arrived.as_deref() {
        Some(group) => {
            let incident = &d.board.incident;
            rollcall::arrived(store, &caller.actor, id, Some(group), now)
                .await
                .or_page(caller.lang)?
                .into_iter()
                .map(|a| {
                    let people = a
                        .people
                        .into_iter()
                        .map(|(p, at, place)| {
                            let place = match place {
                                Some(bulwark_domain::command::RollCallPlace::ForwardPost) => {
                                    incident.forward_post.clone()
                                }
                                Some(bulwark_domain::command::RollCallPlace::Post(name)) => name,
                                _ => incident.headquarters.clone(),
                            };
                            (p.id, p.name, local_day_hm(at), place)
                        })
                        .collect();
                    (a.group.name, people)
                })
                .collect()
        }
        None => Vec::new(),
    };
    let can_write = allows(caller.actor.account.role, Operation::TimelineWrite);
    let can_resend = allows(caller.actor.account.role, Operation::IncidentsActivate);
    let live = Live::of(d, &caller);
    Ok(render(&IncidentPage { chrome: caller.chrome(), live, can_write, can_resend, missing, arrived }))
}

/// `GET /incidents/{id}/live`: the live part alone, for the script to swap in.
pub(crate) async fn live(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<IncidentId>,
) -> Result<Response, PageError> {
    let d = dashboard::dashboard(state.store.as_ref(), &state.pool_counts, &caller.actor, id, state.clock.now())
        .await
        .or_page(caller.lang)?;
    let mut response = render(&IncidentLive { chrome: caller.chrome(), live: Live::of(d, &caller) });
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /incidents/{id}/events`: `change` when the incident's board or any round's figures change.
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
    Path(id): Path<IncidentId>,
) -> Result<Response, PageError> {
    incidents::detail(state.store.as_ref(), &caller.actor, id, state.clock.now()).await.or_page(caller.lang)?;
    let token = auth::token_of(&headers).unwrap_or_default();
    Ok(crate::events::stream(state, token, Operation::IncidentsRead, id.to_string(), move |e| match e {
        Event::Incident(i) if i == id => Some((2, "change")),
        Event::Progress(_) | Event::AbnormalPool(_) => Some((1, "change")),
        _ => None,
    }))
}

/// `POST /incidents/{id}/rollcall/resend`: new links to everyone who has not answered.
pub(crate) async fn resend_links(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
    Path(id): Path<IncidentId>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let base = crate::api::command::link_base(&state, &headers);
    incidents::resend_links(state.store.as_ref(), &state.notify, &caller.actor, id, None, &base, now)
        .await
        .or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/incidents/{id}#missing")).into_response())
}

#[derive(Deserialize)]
pub(crate) struct TaskForm {
    status: String,
    notes: Option<String>,
}

/// `POST /tasks/{id}`: a status change from the board.
pub(crate) async fn update_task(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Form(form): Form<TaskForm>,
) -> Result<Response, PageError> {
    let patch =
        TaskPatch { status: Some(form.status), owner: None, notes: form.notes.filter(|n| !n.trim().is_empty()) };
    let task =
        tasks::update(state.store.as_ref(), &caller.actor, id, patch, state.clock.now()).await.or_page(caller.lang)?;
    state.events.publish(Event::Incident(task.incident));
    Ok(Redirect::to(&format!("/incidents/{}#task-{id}", task.incident)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct TimelineForm {
    text: String,
}

/// `POST /incidents/{id}/timeline`: a manual entry.
pub(crate) async fn add_timeline(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<IncidentId>,
    Form(form): Form<TimelineForm>,
) -> Result<Response, PageError> {
    timeline::add(state.store.as_ref(), &caller.actor, id, &form.text, state.clock.now()).await.or_page(caller.lang)?;
    state.events.publish(Event::Incident(id));
    Ok(Redirect::to(&format!("/incidents/{id}#timeline")).into_response())
}

#[derive(Template)]
#[template(path = "rollcall_link.html")]
struct RollCallLinkPage {
    chrome: Chrome,
    title: String,
    trigger: String,
    name: String,
    headquarters: String,
    forward_post: String,
    deadline: String,
    status: Option<&'static str>,
    status_text: String,
    arrived_at: Option<String>,
}

async fn link_page(state: &AppState, lang: Lang, token: &str) -> Result<Response, PageError> {
    let (incident, member, name) = rollcall::by_token(state.store.as_ref(), token).await.or_page(lang)?;
    let t = t_of(lang);
    let page = RollCallLinkPage {
        chrome: Chrome::new(lang, None),
        title: incident.title,
        trigger: incident.trigger,
        name,
        headquarters: incident.headquarters,
        forward_post: incident.forward_post,
        deadline: local_hm(incident.assembly_deadline),
        status: member.status.map(RollCallStatus::as_str),
        status_text: member.status.map(|s| t.get(&format!("rollcall-{}", s.as_str()))).unwrap_or_default(),
        arrived_at: member.arrived_at.map(local_hm),
    };
    let mut r = render(&page);
    // The link is a credential: keep it out of caches and referrers.
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    Ok(r)
}

/// `GET /r/{token}`: the one-tap page a notified person opens on the phone.
pub(crate) async fn rollcall_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    link_page(&state, Lang::from_headers(&headers), &token).await
}

#[derive(Deserialize)]
pub(crate) struct LinkForm {
    status: String,
    place: Option<String>,
}

/// `POST /r/{token}`: an answer from the one-tap page.
pub(crate) async fn rollcall_answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<LinkForm>,
) -> Result<Response, PageError> {
    let lang = Lang::from_headers(&headers);
    let store = state.store.as_ref();
    let (incident, _, _) = rollcall::by_token(store, &token).await.or_page(lang)?;
    let input = rollcall::AnswerInput {
        person_id: None,
        token: Some(token.clone()),
        status: form.status,
        place: form.place.filter(|p| !p.trim().is_empty()),
    };
    rollcall::answer(store, None, incident.id, input, state.clock.now()).await.or_page(lang)?;
    state.events.publish(Event::Incident(incident.id));
    Ok(Redirect::to(&format!("/r/{token}")).into_response())
}

struct PlanRow {
    key: String,
    title: String,
    version: u32,
    groups: usize,
    tasks: usize,
}

#[derive(Template)]
#[template(path = "plans.html")]
struct PlansPage {
    chrome: Chrome,
    rows: Vec<PlanRow>,
    can_manage: bool,
}

/// `GET /plans`.
pub(crate) async fn plans(State(state): State<AppState>, caller: PageCaller) -> Result<Response, PageError> {
    let rows = plans::list(state.store.as_ref(), &caller.actor, state.clock.now())
        .await
        .or_page(caller.lang)?
        .into_iter()
        .map(|p| PlanRow {
            key: p.plan.key.to_string(),
            title: p.plan.title.clone(),
            version: p.version,
            groups: p.plan.groups.len(),
            tasks: p.plan.groups.iter().map(|g| g.tasks.len()).sum(),
        })
        .collect();
    let can_manage = allows(caller.actor.account.role, Operation::PlansManage);
    Ok(render(&PlansPage { chrome: caller.chrome(), rows, can_manage }))
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    chrome: Chrome,
    plan: Plan,
    version: u32,
    json: String,
    can_manage: bool,
}

impl PlanPage {
    fn due(&self, minutes: &u32) -> String {
        span(i64::from(*minutes) * 60_000)
    }

    fn hours(&self, minutes: &u32) -> String {
        super::plan_editor::hours(*minutes)
    }

    fn teams(&self) -> [bulwark_domain::workforce::Team; 4] {
        bulwark_domain::workforce::Team::ALL
    }

    fn team_key(&self, team: &bulwark_domain::workforce::Team) -> String {
        format!("team-{}", team.as_str())
    }
}

#[derive(Deserialize)]
pub(crate) struct PlanQuery {
    version: Option<u32>,
    /// Present: answer the file itself.
    download: Option<String>,
}

/// `GET /plans/{key}`: the plan's groups and tasks, its file, and (for those who may) an editor.
/// `?download=1` answers the file itself.
pub(crate) async fn plan(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(key): Path<String>,
    axum::extract::Query(q): axum::extract::Query<PlanQuery>,
) -> Result<Response, PageError> {
    let version = q.version;
    let stored =
        plans::get(state.store.as_ref(), &caller.actor, &key, version, state.clock.now()).await.or_page(caller.lang)?;
    if q.download.is_some() {
        return Ok(crate::api::command::plan_file(&stored.plan, stored.version));
    }
    let json = serde_json::to_string_pretty(&stored.plan).unwrap_or_default();
    let can_manage = allows(caller.actor.account.role, Operation::PlansManage);
    Ok(render(&PlanPage { chrome: caller.chrome(), plan: stored.plan, version: stored.version, json, can_manage }))
}

#[derive(Deserialize)]
pub(crate) struct EditorForm {
    plan: String,
}

/// `POST /plans`: a plan saved from the editor.
pub(crate) async fn save_plan(
    State(state): State<AppState>,
    caller: PageCaller,
    Form(form): Form<EditorForm>,
) -> Result<Response, PageError> {
    let (saved, _) = plans::import(state.store.as_ref(), &caller.actor, form.plan.as_bytes(), state.clock.now())
        .await
        .or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/plans/{}", saved.plan.key)).into_response())
}

/// `POST /plans/import`: a plan file (multipart field `file`).
pub(crate) async fn import_plan(
    State(state): State<AppState>,
    caller: PageCaller,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let file = file_field(multipart).await.or_page(caller.lang)?;
    let (saved, _) =
        plans::import(state.store.as_ref(), &caller.actor, &file, state.clock.now()).await.or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/plans/{}", saved.plan.key)).into_response())
}
