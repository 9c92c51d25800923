//! Roster pages (定人定岗定责): `/rosters` (a day's roster per post and shift, unfilled shifts and
//! no-shows marked, printable, with the XLSX export), `/rosters/posts/{id}` (a post's shifts of a
//! day: add shifts, assign people, see check-ins) and `/checkin` (the phone page with a big
//! button to check in and out of the shifts running now).

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::{
    AppState,
    api::rosters::local_time,
    i18n::{Lang, Tr},
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::rosters::{self, AssignmentInput, DayRoster, PostInput, RULES, ShiftsInput};
use bulwark_domain::{
    Millis,
    access::{Operation, allows},
    workforce::{Attendance, Duty, PostKind, shortfall},
};
use bulwark_store::rosters::PostRoster;
use chrono::NaiveDate;
use serde::Deserialize;

/// One person on a shift.
pub(crate) struct AssignmentRow {
    pub id: i64,
    pub name: String,
    pub phone: String,
    pub responsibility: String,
    pub checked_in: String,
    pub checked_out: String,
    /// upcoming, due, on_post, checked_out, no_show or missed.
    pub attendance: &'static str,
    pub attendance_label: String,
    pub no_show: bool,
    pub can_in: bool,
    pub can_out: bool,
}

pub(crate) struct ShiftBlock {
    pub id: i64,
    /// `08:00–16:00`.
    pub time: String,
    pub assigned: usize,
    /// People missing when the shift runs now or starts within 2 hours; 0 otherwise.
    pub unfilled: u32,
    pub rows: Vec<AssignmentRow>,
}

pub(crate) struct PostBlock {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub duties: String,
    pub needed: u32,
    pub shifts: Vec<ShiftBlock>,
}

fn hour_minute(ms: Millis) -> String {
    local_time(ms).split(' ').nth(1).unwrap_or_default().to_string()
}

fn blocks(t: &Tr, r: &DayRoster, now: Millis) -> Vec<PostBlock> {
    r.posts.iter().map(|p| block(t, r, p, now)).collect()
}

fn block(t: &Tr, r: &DayRoster, p: &PostRoster, now: Millis) -> PostBlock {
    let shifts = p
        .shifts
        .iter()
        .map(|s| {
            let rows = s
                .assignments
                .iter()
                .map(|a| {
                    let attendance = Attendance::of(&s.shift.times(), a.checked_in_at, a.checked_out_at, now, &RULES);
                    let person = r.people.get(&a.person);
                    AssignmentRow {
                        id: a.id,
                        name: person.map(|p| p.name.clone()).unwrap_or_else(|| format!("#{}", a.person)),
                        phone: person.and_then(|p| p.masked_phone()).unwrap_or_default(),
                        responsibility: a.responsibility.clone(),
                        checked_in: a.checked_in_at.map(hour_minute).unwrap_or_default(),
                        checked_out: a.checked_out_at.map(hour_minute).unwrap_or_default(),
                        attendance: attendance.as_str(),
                        attendance_label: t.get(&format!("attendance-{}", attendance.as_str())),
                        no_show: attendance.is_no_show(),
                        can_in: a.checked_in_at.is_none() && now < s.shift.ends,
                        can_out: a.checked_in_at.is_some() && a.checked_out_at.is_none(),
                    }
                })
                .collect();
            let next_day = local_time(s.shift.ends).get(..10) != local_time(s.shift.starts).get(..10);
            ShiftBlock {
                id: s.shift.id,
                time: format!(
                    "{}–{}{}",
                    hour_minute(s.shift.starts),
                    hour_minute(s.shift.ends),
                    if next_day { t.get("roster-next-day") } else { String::new() }
                ),
                assigned: s.assignments.len(),
                unfilled: shortfall(&s.shift.times(), p.post.needed, s.assignments.len() as u32, now, &RULES)
                    .unwrap_or(0),
                rows,
            }
        })
        .collect();
    PostBlock {
        id: p.post.id,
        name: p.post.name.clone(),
        kind: t.get(&format!("post-kind-{}", p.post.kind.as_str())),
        duties: p.post.duties.iter().map(|d| t.get(&format!("duty-{}", d.as_str()))).collect::<Vec<_>>().join(" · "),
        needed: p.post.needed,
        shifts,
    }
}

fn day_of(raw: Option<&str>, today: NaiveDate, lang: Lang) -> Result<NaiveDate, PageError> {
    match raw.filter(|d| !d.trim().is_empty()) {
        None => Ok(today),
        Some(d) => rosters::parse_day("date", d).or_page(lang),
    }
}

fn choices<const N: usize>(t: &Tr, prefix: &str, keys: [&'static str; N]) -> Vec<(&'static str, String)> {
    keys.into_iter().map(|k| (k, t.get(&format!("{prefix}-{k}")))).collect()
}

fn notice_text(t: &Tr, notice: Option<&str>) -> Option<String> {
    const NOTICES: [&str; 7] =
        ["post_created", "shifts_created", "assigned", "removed", "checked_in", "checked_out", "repeated"];
    notice.filter(|n| NOTICES.contains(n)).map(|n| t.get(&format!("roster-notice-{}", n.replace('_', "-"))))
}

#[derive(Template)]
#[template(path = "rosters.html")]
struct RostersPage {
    chrome: Chrome,
    date: String,
    prev: String,
    next: String,
    area: String,
    posts: Vec<PostBlock>,
    unfilled: usize,
    no_shows: usize,
    export_href: String,
    can_manage: bool,
    kinds: Vec<(&'static str, String)>,
    duties: Vec<(&'static str, String)>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RosterParams {
    date: Option<String>,
    area: Option<String>,
    notice: Option<String>,
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(p): Query<RosterParams>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let day = day_of(p.date.as_deref(), state.clock.today(), caller.lang)?;
    let area = p.area.unwrap_or_default();
    let r = rosters::roster(state.store.as_ref(), &caller.actor, day, Some(area.as_str()), now)
        .await
        .or_page(caller.lang)?;
    let chrome = caller.chrome();
    let t = chrome.t;
    let posts = blocks(&t, &r, now);
    let unfilled = posts.iter().flat_map(|p| &p.shifts).filter(|s| s.unfilled > 0).count();
    let no_shows = posts.iter().flat_map(|p| &p.shifts).flat_map(|s| &s.rows).filter(|a| a.no_show).count();
    let area_q = if area.is_empty() { String::new() } else { format!("&area={area}") };
    let page = RostersPage {
        date: day.to_string(),
        prev: (day - chrono::Days::new(1)).to_string(),
        next: (day + chrono::Days::new(1)).to_string(),
        export_href: format!("/api/v1/rosters/export?date={day}{area_q}"),
        area,
        posts,
        unfilled,
        no_shows,
        can_manage: allows(caller.actor.account.role, Operation::RostersManage),
        kinds: choices(&t, "post-kind", PostKind::ALL.map(PostKind::as_str)),
        duties: choices(&t, "duty", Duty::ALL.map(Duty::as_str)),
        notice: notice_text(&t, p.notice.as_deref()),
        chrome,
    };
    Ok(render(&page))
}

#[derive(Deserialize)]
pub(crate) struct PostForm {
    name: String,
    kind: String,
    area: String,
    needed: u32,
    /// Duties as a comma-separated list (API clients, tests) …
    #[serde(default)]
    duties: String,
    // … or one checkbox each (the page).
    duty_swab: Option<String>,
    duty_registration: Option<String>,
    duty_temperature: Option<String>,
    duty_queue_order: Option<String>,
    duty_guard: Option<String>,
    duty_other: Option<String>,
}

pub(crate) async fn create_post(
    State(state): State<AppState>,
    caller: PageCaller,
    Form(f): Form<PostForm>,
) -> Result<Response, PageError> {
    let mut duties: Vec<String> = f.duties.split([',', ' ']).filter(|d| !d.is_empty()).map(str::to_string).collect();
    for (on, key) in [
        (&f.duty_swab, "swab"),
        (&f.duty_registration, "registration"),
        (&f.duty_temperature, "temperature"),
        (&f.duty_queue_order, "queue_order"),
        (&f.duty_guard, "guard"),
        (&f.duty_other, "other"),
    ] {
        if on.is_some() {
            duties.push(key.to_string());
        }
    }
    let input = PostInput { name: f.name, kind: f.kind, duties, area: f.area, site: None, needed: f.needed };
    let post = rosters::create_post(state.store.as_ref(), &caller.actor, input, state.clock.now())
        .await
        .or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/rosters/posts/{}?notice=post_created", post.id)).into_response())
}

#[derive(Template)]
#[template(path = "roster_post.html")]
struct PostPage {
    chrome: Chrome,
    post: PostBlock,
    date: String,
    prev: String,
    next: String,
    can_manage: bool,
    staff: Vec<(i64, String)>,
    notice: Option<String>,
}

pub(crate) async fn post_page(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Query(p): Query<RosterParams>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let day = day_of(p.date.as_deref(), state.clock.today(), caller.lang)?;
    let r = rosters::post_roster(state.store.as_ref(), &caller.actor, id, day, now).await.or_page(caller.lang)?;
    let chrome = caller.chrome();
    let t = chrome.t;
    let post = match r.posts.first() {
        Some(p) => block(&t, &r, p, now),
        None => return Err(PageError { error: bulwark_app::AppError::NotFound, lang: caller.lang }),
    };
    let staff = r
        .staff
        .iter()
        .map(|(id, team)| {
            let name = r.people.get(id).map(|p| p.name.clone()).unwrap_or_default();
            (*id, format!("{name} · {}", t.get(&format!("team-{}", team.as_str()))))
        })
        .collect();
    let page = PostPage {
        post,
        date: day.to_string(),
        prev: (day - chrono::Days::new(1)).to_string(),
        next: (day + chrono::Days::new(1)).to_string(),
        can_manage: allows(caller.actor.account.role, Operation::RostersManage),
        staff,
        notice: notice_text(&t, p.notice.as_deref()),
        chrome,
    };
    Ok(render(&page))
}

#[derive(Deserialize)]
pub(crate) struct ShiftsForm {
    date: String,
    pattern: String,
    first_hour: Option<u32>,
}

pub(crate) async fn create_shifts(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<ShiftsForm>,
) -> Result<Response, PageError> {
    let input =
        ShiftsInput { shifts: vec![], date: Some(f.date.clone()), pattern: Some(f.pattern), first_hour: f.first_hour };
    rosters::create_shifts(state.store.as_ref(), &caller.actor, id, input, state.clock.now())
        .await
        .or_page(caller.lang)?;
    let date: String = f.date.chars().filter(|c| c.is_ascii_digit() || *c == '-').collect();
    Ok(Redirect::to(&format!("/rosters/posts/{id}?date={date}&notice=shifts_created")).into_response())
}

#[derive(Deserialize)]
pub(crate) struct AssignForm {
    shift: i64,
    person: i64,
    responsibility: String,
}

pub(crate) async fn assign(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<AssignForm>,
) -> Result<Response, PageError> {
    let input = AssignmentInput { shift: f.shift, person: f.person, responsibility: f.responsibility };
    let (_, shift, post, _) =
        rosters::assign(state.store.as_ref(), &caller.actor, input, state.clock.now()).await.or_page(caller.lang)?;
    let date = &local_time(shift.starts)[..10];
    let post = if post.id == id { id } else { post.id };
    Ok(Redirect::to(&format!("/rosters/posts/{post}?date={date}&notice=assigned")).into_response())
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let detail = state.store.assignment(id).await.ok().flatten();
    let removed = rosters::unassign(state.store.as_ref(), &caller.actor, id, now).await.or_page(caller.lang)?;
    let date = detail.map(|d| local_time(d.shift.starts)[..10].to_string()).unwrap_or_default();
    Ok(Redirect::to(&format!("/rosters/posts/{}?date={date}&notice=removed", removed.post)).into_response())
}

#[derive(Template)]
#[template(path = "checkin.html")]
struct CheckInPage {
    chrome: Chrome,
    posts: Vec<PostBlock>,
    now: String,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CheckInParams {
    notice: Option<String>,
}

pub(crate) async fn check_in_page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(p): Query<CheckInParams>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let r = rosters::check_in_list(state.store.as_ref(), &caller.actor, now).await.or_page(caller.lang)?;
    let chrome = caller.chrome();
    let t = chrome.t;
    let page = CheckInPage {
        posts: blocks(&t, &r, now),
        now: local_time(now),
        notice: notice_text(&t, p.notice.as_deref()),
        chrome,
    };
    Ok(render(&page))
}

pub(crate) async fn check_in(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let a = rosters::check_in(state.store.as_ref(), &caller.actor, id, state.clock.now()).await.or_page(caller.lang)?;
    let notice = if a.recorded { "checked_in" } else { "repeated" };
    Ok(Redirect::to(&format!("/checkin?notice={notice}")).into_response())
}

pub(crate) async fn check_out(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let a =
        rosters::check_out(state.store.as_ref(), &caller.actor, id, state.clock.now()).await.or_page(caller.lang)?;
    let notice = if a.recorded { "checked_out" } else { "repeated" };
    Ok(Redirect::to(&format!("/checkin?notice={notice}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_domain::workforce::Team;

    /// The keys this page builds at run time (kinds, duties, teams, attendance, notices) exist in
    /// both languages; the i18n test finds only the literal ones.
    #[test]
    fn every_built_key_exists_in_both_languages() {
        let mut keys: Vec<String> = Vec::new();
        keys.extend(PostKind::ALL.iter().map(|k| format!("post-kind-{}", k.as_str())));
        keys.extend(Duty::ALL.iter().map(|d| format!("duty-{}", d.as_str())));
        keys.extend(Team::ALL.iter().map(|t| format!("team-{}", t.as_str())));
        for a in ["upcoming", "due", "on_post", "checked_out", "no_show", "missed"] {
            keys.push(format!("attendance-{a}"));
        }
        for n in ["post_created", "shifts_created", "assigned", "removed", "checked_in", "checked_out", "repeated"] {
            keys.push(format!("roster-notice-{}", n.replace('_', "-")));
        }
        for key in &keys {
            for lang in [Lang::Zh, Lang::En] {
                assert_ne!(&Tr(lang).get(key), key, "{key} is missing in {}", lang.code());
            }
        }
    }
}
