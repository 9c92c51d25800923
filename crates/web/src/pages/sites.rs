//! Sampling sites: the staff page (lanes, their throughput over the last 15 minutes, the queue
//! counted by the marshal, with the form that records it) and the public board of waiting times,
//! which needs no session and shows nothing but sites.

use super::{
    Chrome, OrPage, PageCaller, PageError, render,
    rounds::{local_hm, local_minute},
};
use crate::{AppState, i18n::Lang};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::{
    AppError,
    testing::rounds::{self, SiteStatus, WAIT_WINDOW_MINUTES},
};
use bulwark_domain::{
    access::{Operation, allows},
    testing::LaneKind,
};
use serde::Deserialize;

pub(crate) struct LaneLine {
    pub name: String,
    pub kind: String,
    pub green: bool,
    /// Samples in the last 15 minutes.
    pub recent: u64,
}

pub(crate) struct SiteCard {
    pub id: i64,
    pub name: String,
    pub hours: String,
    pub open: bool,
    pub queue: u32,
    /// When the queue was counted (local `HH:MM`).
    pub counted: Option<String>,
    pub wait: Option<u32>,
    pub lanes: Vec<LaneLine>,
    pub recent: u64,
    /// Samples in the last 15 minutes registered without a lane.
    pub unassigned: u64,
    pub green_channel: bool,
}

impl SiteCard {
    fn of(s: SiteStatus, chrome: &Chrome) -> SiteCard {
        let recent_of = |lane: i64| s.lanes.iter().find(|(l, _)| *l == lane).map(|(_, n)| *n).unwrap_or(0);
        let lanes: Vec<LaneLine> = s
            .site
            .lanes
            .iter()
            .map(|l| LaneLine {
                name: l.name.clone(),
                kind: chrome.t.get(&format!("sites-lane-{}", l.kind.as_str())),
                green: l.kind == LaneKind::GreenChannel,
                recent: recent_of(l.id),
            })
            .collect();
        let recent: u64 = s.lanes.iter().map(|(_, n)| n).sum();
        let unassigned = recent.saturating_sub(lanes.iter().map(|l| l.recent).sum());
        SiteCard {
            id: s.site.id,
            name: s.site.name,
            hours: s.site.hours.display(),
            open: s.open_now,
            queue: s.site.queue_length,
            counted: s.site.queue_counted_at.map(local_hm),
            wait: s.wait_minutes,
            recent,
            unassigned,
            green_channel: lanes.iter().any(|l| l.green),
            lanes,
        }
    }
}

#[derive(Template)]
#[template(path = "sites.html")]
struct SitesPage {
    chrome: Chrome,
    sites: Vec<SiteCard>,
    can_manage: bool,
    round_name: Option<String>,
    window: u32,
}

/// `GET /sites`: the sites inside the caller's scope, with the newest running round's throughput.
pub(crate) async fn list(State(state): State<AppState>, caller: PageCaller) -> Result<Response, PageError> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let lang = caller.lang;
    let role = caller.actor.account.role;
    // Throughput is counted per round; roles that read sites but not rounds (checkpoints) see
    // the sites and queues without it.
    let round = if allows(role, Operation::RoundsRead) {
        rounds::rounds(store, &caller.actor, now).await.or_page(lang)?.into_iter().find(|r| r.is_running_at(now))
    } else {
        None
    };
    let statuses =
        rounds::site_statuses(store, Some(&caller.actor), round.as_ref().map(|r| r.id), now, local_minute(now))
            .await
            .or_page(lang)?;
    let chrome = caller.chrome();
    let sites = statuses.into_iter().map(|s| SiteCard::of(s, &chrome)).collect();
    Ok(render(&SitesPage {
        chrome,
        sites,
        can_manage: allows(role, Operation::SitesManage),
        round_name: round.map(|r| r.name),
        window: WAIT_WINDOW_MINUTES,
    }))
}

#[derive(Deserialize)]
pub(crate) struct QueueForm {
    queue_length: String,
}

/// `POST /sites/{id}/queue`: the queue marshal's count.
pub(crate) async fn set_queue(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Form(form): Form<QueueForm>,
) -> Result<Response, PageError> {
    let queue: u32 = form
        .queue_length
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("queue_length", "the number of people waiting (0 or more)"))
        .or_page(caller.lang)?;
    rounds::set_queue(state.store.as_ref(), &caller.actor, id, queue, state.clock.now()).await.or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/sites#site-{id}")).into_response())
}

#[derive(Template)]
#[template(path = "site_waits.html")]
struct WaitsPage {
    chrome: Chrome,
    sites: Vec<SiteCard>,
    as_of: String,
}

/// `GET /sites/waits`, for anyone: open sampling sites and the estimated wait at each, refreshed
/// every minute. It shows site names, hours and waits only (no round, no counts of people, no
/// person), and needs no session.
pub(crate) async fn waits(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let lang = Lang::from_headers(&headers);
    let now = state.clock.now();
    let statuses = rounds::public_site_waits(state.store.as_ref(), now, local_minute(now)).await.or_page(lang)?;
    let chrome = Chrome::new(lang, None);
    let mut sites: Vec<SiteCard> = statuses.into_iter().map(|s| SiteCard::of(s, &chrome)).collect();
    // Open sites first, shortest wait first; unknown waits after known ones.
    sites.sort_by_key(|s| (!s.open, s.wait.is_none(), s.wait.unwrap_or(0)));
    let mut response = render(&WaitsPage { chrome, sites, as_of: local_hm(now) });
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}
