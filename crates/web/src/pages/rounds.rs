//! Mass-testing rounds: the list, with the form that opens a round, and a round's live page —
//! "as of HH:MM, N people sampled", tubes, samples per hour (uPlot) and per site, and the
//! coverage of an area — kept current without a reload.
//!
//! Live updates: `/rounds/{id}/events` is a Server-Sent Events stream that says only *that* the
//! round changed (at most once a second per page); `assets/progress.js` then fetches the
//! `/rounds/{id}/live` fragment, rendered by the same template as the page, and swaps it in.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::{AppState, auth, events::Event};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::{
    AppError, areas,
    testing::{
        coverage::{self, AbnormalPoolCounts},
        rounds::{self, RoundInput},
    },
};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope, allows},
    areas::{AreaId, AreaKind},
    testing::{PoolSize, Round},
};
use bulwark_store::testing::CoverageRow;
use chrono::{DateTime, FixedOffset, Timelike};
use serde::Deserialize;
use std::collections::HashMap;

/// China Standard Time, where the users are (no daylight saving).
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

fn local(ms: Millis) -> DateTime<FixedOffset> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&china())
}

/// `15:00`, local time.
pub(crate) fn local_hm(ms: Millis) -> String {
    local(ms).format("%H:%M").to_string()
}

/// `10-06 15:00`, local time.
pub(crate) fn local_day_hm(ms: Millis) -> String {
    local(ms).format("%m-%d %H:%M").to_string()
}

/// The minute of the local day (for opening hours).
pub(crate) fn local_minute(ms: Millis) -> u16 {
    let t = local(ms);
    (t.hour() * 60 + t.minute()) as u16
}

/// `28369` → `28,369`, as the figures are reported.
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether a round concerns someone scoped to `scope`: it covers part of the scope, or the
/// scope lies inside one of its areas.
fn concerns(round: &Round, scope: &Scope) -> bool {
    round.area_paths.iter().any(|p| p.starts_with(scope.path.as_str()) || scope.path.starts_with(p.as_str()))
}

pub(crate) struct RoundRow {
    pub id: i64,
    pub name: String,
    pub areas: String,
    pub pool_size: u8,
    pub starts: String,
    pub running: bool,
}

#[derive(Template)]
#[template(path = "rounds.html")]
struct RoundsPage {
    chrome: Chrome,
    rows: Vec<RoundRow>,
    can_manage: bool,
    /// Villages and communities of the scope: (code, name).
    villages: Vec<(String, String)>,
    pool_sizes: [u8; 4],
}

/// `GET /rounds`: the rounds that concern the caller, newest first, and (for those who may) the
/// form that opens one.
pub(crate) async fn list(State(state): State<AppState>, caller: PageCaller) -> Result<Response, PageError> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let lang = caller.lang;
    let all = rounds::rounds(store, &caller.actor, now).await.or_page(lang)?;
    let mut names: HashMap<AreaId, String> = HashMap::new();
    let mut rows = Vec::new();
    for r in all.into_iter().filter(|r| concerns(r, &caller.actor.scope)) {
        let mut areas = Vec::new();
        for id in &r.areas {
            if !names.contains_key(id) {
                let name = store.area(*id).await.or_page(lang)?.map(|a| a.name).unwrap_or_default();
                names.insert(*id, name);
            }
            areas.push(names[id].clone());
        }
        rows.push(RoundRow {
            id: r.id,
            running: r.is_running_at(now),
            name: r.name,
            areas: areas.join("、"),
            pool_size: r.pool_size.get(),
            starts: local_day_hm(r.starts_at),
        });
    }
    let can_manage = allows(caller.actor.account.role, Operation::RoundsManage);
    let villages = if can_manage {
        areas::tree(store, &caller.actor, now)
            .await
            .or_page(lang)?
            .into_iter()
            .filter(|a| matches!(a.kind, AreaKind::Village | AreaKind::Community))
            .map(|a| (a.code.as_str().to_string(), a.name))
            .collect()
    } else {
        Vec::new()
    };
    let pool_sizes = PoolSize::ALLOWED;
    Ok(render(&RoundsPage { chrome: caller.chrome(), rows, can_manage, villages, pool_sizes }))
}

/// `POST /rounds`: the form's fields, `areas` once per ticked village.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: PageCaller,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string());
    let pool_size = match field("pool_size") {
        None => None,
        Some(p) => {
            Some(p.parse::<u8>().map_err(|_| AppError::invalid("pool_size", "1, 5, 10 or 20")).or_page(caller.lang)?)
        }
    };
    let input = RoundInput {
        name: field("name").unwrap_or_default(),
        areas: fields.iter().filter(|(n, _)| n == "areas").map(|(_, v)| v.clone()).collect(),
        pool_size,
        pool_overrides: Vec::new(),
        starts_at: None,
        ends_at: None,
    };
    let round = rounds::create_round(state.store.as_ref(), &caller.actor, input, state.clock.now())
        .await
        .or_page(caller.lang)?;
    state.events.publish(Event::Progress(round.id));
    Ok(Redirect::to(&format!("/rounds/{}", round.id)).into_response())
}

/// One row of a coverage table.
pub(crate) struct CoverageLine {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub target: String,
    pub sampled: String,
    /// One decimal, `—` when there is no target.
    pub percent: String,
    /// Width of the bar, 0 to 100.
    pub bar: u64,
    pub is_grid: bool,
}

impl CoverageLine {
    pub(crate) fn of(c: &CoverageRow, chrome: &Chrome) -> CoverageLine {
        let target = c.target();
        let (percent, bar) = match (c.sampled * 1000 + target / 2).checked_div(target) {
            None => ("—".to_string(), 0),
            Some(tenths) => (format!("{}.{}", tenths / 10, tenths % 10), (tenths / 10).min(100)),
        };
        CoverageLine {
            code: c.area.code.as_str().to_string(),
            name: c.area.name.clone(),
            kind: chrome.t.get(&format!("kind-{}", c.area.kind.as_str())),
            target: grouped(target),
            sampled: grouped(c.sampled),
            percent,
            bar,
            is_grid: c.area.kind == AreaKind::Grid,
        }
    }
}

/// The figures of the live part of a round's page.
pub(crate) struct Live {
    pub round: i64,
    /// `?area=CODE` when the page is about an area other than the caller's scope, else empty.
    pub area_query: String,
    pub as_of: String,
    pub sampled: String,
    /// The plain number, for scripts and tests.
    pub sampled_n: u64,
    pub registrations: String,
    pub tubes: String,
    pub tubes_open: String,
    pub tubes_resulted: String,
    /// `[[hour starts, s], [samples]]` for uPlot.
    pub hours_json: String,
    pub sites: Vec<(String, String)>,
    /// The area first, then its children.
    pub area: Option<CoverageLine>,
    pub children: Vec<CoverageLine>,
    pub abnormal: AbnormalPoolCounts,
    pub can_abnormal: bool,
    pub can_review: bool,
    pub can_doorknock: bool,
    pub can_home: bool,
}

#[derive(Deserialize)]
pub(crate) struct AreaQuery {
    area: Option<String>,
}

impl Live {
    async fn load(state: &AppState, caller: &PageCaller, round: i64, area: Option<&str>) -> Result<Live, PageError> {
        let store = state.store.as_ref();
        let now = state.clock.now();
        let lang = caller.lang;
        let actor = &caller.actor;
        let area = area.map(str::trim).filter(|a| !a.is_empty());
        let p = coverage::progress(store, actor, round, now).await.or_page(lang)?;
        let rows = coverage::coverage(store, actor, round, area, now).await.or_page(lang)?;
        let abnormal =
            coverage::abnormal_pool_counts(store, &state.pool_counts, actor, round, now).await.or_page(lang)?;
        let chrome = caller.chrome();
        let mut lines = rows.iter().map(|c| CoverageLine::of(c, &chrome));
        let first = lines.next();
        let hours: Vec<i64> = p.by_hour.iter().map(|h| h.hour / 1000).collect();
        let samples: Vec<u64> = p.by_hour.iter().map(|h| h.samples).collect();
        let role = actor.account.role;
        Ok(Live {
            round,
            area_query: area.map(|a| format!("?area={a}")).unwrap_or_default(),
            as_of: local_hm(now),
            sampled: grouped(p.sampled),
            sampled_n: p.sampled,
            registrations: grouped(p.registrations),
            tubes: grouped(p.tubes),
            tubes_open: grouped(p.tubes_open),
            tubes_resulted: grouped(p.tubes_resulted),
            hours_json: serde_json::json!([hours, samples]).to_string(),
            sites: p.by_site.into_iter().map(|s| (s.name, grouped(s.samples))).collect(),
            area: first,
            children: lines.collect(),
            abnormal,
            can_abnormal: allows(role, Operation::AbnormalPoolsRead),
            can_review: allows(role, Operation::ReviewRead),
            can_doorknock: allows(role, Operation::UntestedList),
            can_home: allows(role, Operation::HomeSamplingRead),
        })
    }
}

pub(crate) struct RoundInfo {
    pub id: i64,
    pub name: String,
    pub pool_size: u8,
    pub starts: String,
    pub running: bool,
}

#[derive(Template)]
#[template(path = "round.html")]
struct RoundPage {
    chrome: Chrome,
    round: RoundInfo,
    live: Live,
}

/// `GET /rounds/{id}?area=CODE`: the live page of a round, for an area (default: the caller's).
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<AreaQuery>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let r = rounds::round(state.store.as_ref(), &caller.actor, id, now).await.or_page(caller.lang)?;
    let live = Live::load(&state, &caller, id, q.area.as_deref()).await?;
    let round = RoundInfo {
        id: r.id,
        running: r.is_running_at(now),
        name: r.name,
        pool_size: r.pool_size.get(),
        starts: local_day_hm(r.starts_at),
    };
    Ok(render(&RoundPage { chrome: caller.chrome(), round, live }))
}

#[derive(Template)]
#[template(path = "round_live.html")]
struct LiveFragment {
    chrome: Chrome,
    live: Live,
}

/// `GET /rounds/{id}/live?area=CODE`: the live part of the page alone, for the script to swap in.
pub(crate) async fn live(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<AreaQuery>,
) -> Result<Response, PageError> {
    let live = Live::load(&state, &caller, id, q.area.as_deref()).await?;
    let mut response = render(&LiveFragment { chrome: caller.chrome(), live });
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /rounds/{id}/events`: Server-Sent Events for one round's page. Needs a session whose role
/// may read rounds (checked at the start, and again before every event, so a stream ends with
/// its session). Each event is `progress` or `abnormal` (a new abnormal pool) with the round's id
/// as data: no figures and no personal data travel this way.
pub(crate) async fn events(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    rounds::round(state.store.as_ref(), &caller.actor, id, state.clock.now()).await.or_page(caller.lang)?;
    let token = auth::token_of(&headers).unwrap_or_default();
    Ok(crate::events::stream(state, token, Operation::RoundsRead, id.to_string(), move |e| match e {
        Event::AbnormalPool(r) if r == id => Some((2, "abnormal")),
        Event::Progress(r) if r == id => Some((1, "progress")),
        _ => None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(28_369), "28,369");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn times_are_china_time() {
        // 2022-10-06 07:00 in China.
        let start = 1_665_010_800_000;
        assert_eq!(local_hm(start), "07:00");
        assert_eq!(local_day_hm(start + 8 * 3_600_000), "10-06 15:00");
        assert_eq!(local_minute(start), 420);
    }
}
