//! The field lists of a round: the grid worker's door-knock list (敲门行动), the home-sampling
//! route list, and the abnormal pools with their members. Every person listed is an audited read
//! (the services do it); phones and ID numbers are masked.
//!
//! The door-knock buttons post to the JSON API (`POST /api/v1/rounds/{id}/door-knocks`) from
//! `assets/testing.js`, with the page's cookie session: the same-origin check applies.

use super::{
    Chrome, OrPage, PageCaller, PageError, render,
    rounds::{CoverageLine, local_day_hm},
};
use crate::{
    AppState,
    api::testing::{AbnormalPoolView, UntestedView, pool_view, untested_view},
    views::AreaNames,
};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use bulwark_app::testing::{
    coverage::{self, HomeVisitReason},
    rounds,
};
use bulwark_domain::{areas::AreaId, testing::DoorKnockOutcome};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    area: Option<String>,
    after: Option<i64>,
}

/// A door-knock outcome as the page offers it: its code and its label.
pub(crate) struct OutcomeChoice {
    pub code: &'static str,
    pub label: String,
}

pub(crate) struct Resident {
    pub v: UntestedView,
    /// The label of the last recorded outcome.
    pub knock_label: Option<String>,
}

impl Resident {
    /// Whether the last recorded outcome is `code`.
    pub(crate) fn knocked(&self, code: &str) -> bool {
        self.v.knock == Some(code)
    }
}

#[derive(Template)]
#[template(path = "doorknock.html")]
struct DoorKnockPage {
    chrome: Chrome,
    round_id: i64,
    round_name: String,
    area: Option<CoverageLine>,
    residents: Vec<Resident>,
    outcomes: Vec<OutcomeChoice>,
    next: Option<i64>,
    /// The whole list (every page) as an Excel workbook.
    export_href: String,
}

/// Residents per page of the list: a grid has a few hundred.
const PAGE: u32 = 500;

/// `GET /rounds/{id}/doorknock?area=GRIDCODE`: the grid's residents not yet sampled, each with the
/// buttons that record the door-knock's outcome, under the grid's coverage.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let lang = caller.lang;
    let area = q.area.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let list = coverage::untested(store, &caller.actor, id, area, q.after, PAGE, now).await.or_page(lang)?;
    let round = rounds::round(store, &caller.actor, id, now).await.or_page(lang)?;
    // The list narrows an area around the caller's scope (her village) to the scope; the header
    // shows the same area.
    let narrowed = match area {
        Some(code) => match bulwark_domain::areas::AreaCode::parse(code) {
            Ok(code) => match store.area_by_code(&code).await.or_page(lang)? {
                Some(a) if a.contains_path(&caller.actor.scope.path) => None,
                _ => area,
            },
            Err(_) => area,
        },
        None => None,
    };
    let rows = coverage::coverage(store, &caller.actor, id, narrowed, now).await.or_page(lang)?;
    let chrome = caller.chrome();
    let next = if list.len() == PAGE as usize { list.last().map(|u| u.person.id) } else { None };
    let residents = list
        .into_iter()
        .map(|u| {
            let v = untested_view(u);
            let knock_label = v.knock.map(|k| chrome.t.get(&format!("knock-{k}")));
            Resident { v, knock_label }
        })
        .collect();
    let outcomes = DoorKnockOutcome::ALL
        .iter()
        .map(|o| OutcomeChoice { code: o.as_str(), label: chrome.t.get(&format!("knock-{}", o.as_str())) })
        .collect();
    let export_href = export_href(id, "untested", area);
    let area = rows.first().map(|c| CoverageLine::of(c, &chrome));
    Ok(render(&DoorKnockPage {
        chrome,
        round_id: id,
        round_name: round.name,
        area,
        residents,
        outcomes,
        next,
        export_href,
    }))
}

/// The API path that exports a round's `list` for `area` as a workbook (an area code is letters,
/// digits and dashes; anything else was refused by the list already and is left out).
fn export_href(round: i64, list: &str, area: Option<&str>) -> String {
    let area = area
        .filter(|a| a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(|a| format!("?area={a}"))
        .unwrap_or_default();
    format!("/api/v1/rounds/{round}/export/{list}{area}")
}

pub(crate) struct Visit {
    pub name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub reason: String,
    pub reason_code: &'static str,
}

pub(crate) struct VisitGroup {
    pub code: Option<String>,
    pub name: String,
    pub visits: Vec<Visit>,
}

#[derive(Template)]
#[template(path = "home_visits.html")]
struct HomeVisitsPage {
    chrome: Chrome,
    round_id: i64,
    round_name: String,
    groups: Vec<VisitGroup>,
    total: usize,
    export_href: String,
}

/// `GET /rounds/{id}/home-visits?area=CODE`: who the mobile teams sample at home, by grid, with
/// the way to the scan page in home mode.
pub(crate) async fn home_visits(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let lang = caller.lang;
    let area = q.area.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let visits = coverage::home_visits(store, &caller.actor, id, area, now).await.or_page(lang)?;
    let round = rounds::round(store, &caller.actor, id, now).await.or_page(lang)?;
    let chrome = caller.chrome();
    let total = visits.len();
    let mut names = AreaNames::default();
    let mut groups: Vec<(Option<AreaId>, VisitGroup)> = Vec::new();
    for v in visits {
        let reason_code = match v.reason {
            HomeVisitReason::CannotWalk => "cannot_walk",
            HomeVisitReason::DoorKnock => "door_knock",
            HomeVisitReason::AbnormalPool => "abnormal_pool",
        };
        let visit = Visit {
            phone: v.person.masked_phone(),
            name: v.person.name,
            address: v.person.address,
            reason: chrome.t.get(&format!("visits-reason-{reason_code}")),
            reason_code,
        };
        match groups.iter_mut().find(|(g, _)| *g == v.person.grid) {
            Some((_, group)) => group.visits.push(visit),
            None => {
                let (code, name) = match v.person.grid {
                    Some(g) => match names.get(store, g).await.or_page(lang)? {
                        Some((code, name)) => (Some(code), name),
                        None => (None, chrome.t.get("visits-no-grid")),
                    },
                    None => (None, chrome.t.get("visits-no-grid")),
                };
                groups.push((v.person.grid, VisitGroup { code, name, visits: vec![visit] }));
            }
        }
    }
    let groups = groups.into_iter().map(|(_, g)| g).collect();
    let export_href = export_href(id, "home-visits", area);
    Ok(render(&HomeVisitsPage { chrome, round_id: id, round_name: round.name, groups, total, export_href }))
}

pub(crate) struct Member {
    pub v: crate::api::testing::PoolMemberView,
    pub grid: String,
    pub registered: String,
    /// Registered after the pool's result came in.
    pub late: bool,
    pub retest_label: Option<String>,
}

pub(crate) struct Pool {
    pub tube: String,
    pub result: String,
    pub result_code: &'static str,
    pub resulted: String,
    pub site: String,
    pub state: String,
    pub state_code: &'static str,
    pub members: Vec<Member>,
}

#[derive(Template)]
#[template(path = "abnormal_pools.html")]
struct AbnormalPoolsPage {
    chrome: Chrome,
    round_id: i64,
    round_name: String,
    pools: Vec<Pool>,
}

/// `GET /rounds/{id}/abnormal-pools`: each abnormal pool with its members, whom to hold and
/// re-sample, and how far that has gone.
pub(crate) async fn abnormal_pools(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let lang = caller.lang;
    let found = coverage::abnormal_pools(store, &caller.actor, id, now).await.or_page(lang)?;
    let round = rounds::round(store, &caller.actor, id, now).await.or_page(lang)?;
    let chrome = caller.chrome();
    let mut names = AreaNames::default();
    let mut sites: HashMap<i64, String> = HashMap::new();
    let mut pools = Vec::new();
    for p in found {
        let resulted = p.tube.resulted_at.map(local_day_hm).unwrap_or_default();
        let registered: Vec<String> = p.members.iter().map(|m| local_day_hm(m.registered_at)).collect();
        let view: AbnormalPoolView = pool_view(p);
        if let std::collections::hash_map::Entry::Vacant(entry) = sites.entry(view.site) {
            entry.insert(store.site(view.site).await.or_page(lang)?.map(|s| s.name).unwrap_or_default());
        }
        let mut members = Vec::new();
        for (m, registered) in view.members.into_iter().zip(registered) {
            let grid = match m.grid {
                Some(g) => names.get(store, g).await.or_page(lang)?.map(|(_, name)| name).unwrap_or_default(),
                None => String::new(),
            };
            let retest_label = m.retest_result.map(|r| chrome.t.get(&format!("pools-result-{r}")));
            members.push(Member { late: m.flags.contains(&"after_result"), grid, registered, retest_label, v: m });
        }
        let result_code = view.result.unwrap_or("abnormal");
        pools.push(Pool {
            result: chrome.t.get(&format!("pools-result-{result_code}")),
            result_code,
            resulted,
            site: sites[&view.site].clone(),
            state: chrome.t.get(&format!("pools-state-{}", view.state)),
            state_code: view.state,
            tube: view.tube,
            members,
        });
    }
    Ok(render(&AbnormalPoolsPage { chrome, round_id: id, round_name: round.name, pools }))
}
