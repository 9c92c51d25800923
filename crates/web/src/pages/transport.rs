//! The transport page (`/transport?round=R`), for phones at the site and at the lab: the round's
//! boxes with their timers since the first sample (amber from 3 h, red past 4 h), refreshed by
//! htmx every 30 seconds (`/transport/boxes`), and forms to open a box, pack tubes (scan the box,
//! then the tubes), seal it and record the hand-overs to the courier and to the lab.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::{AppState, api::transport::LIMITS};
use askama::Template;
use axum::{
    Form,
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::testing::{
    rounds,
    transport::{self, BoxInput, HandoverInput, PackInput},
};
use bulwark_domain::{
    Millis,
    access::{Operation, allows},
    testing::{BoxState, Round, RoundId, TransportBox, TransportWarning},
};
use bulwark_store::transport::{HandedOver, Packed};
use serde::Deserialize;
use std::collections::HashMap;

/// One box as a row of the list.
pub(crate) struct BoxRow {
    pub code: String,
    pub site: String,
    pub state: String,
    pub received: bool,
    pub tubes: u32,
    /// `h:mm` since the first sample; empty for an empty box.
    pub timer: String,
    /// none, soon or overdue (the row's colour).
    pub warning: &'static str,
    /// What the warning says, in words.
    pub warning_label: String,
    pub flags: Vec<String>,
    sort: (bool, TransportWarning, i64, i64),
}

#[derive(Template)]
#[template(path = "transport.html")]
struct TransportPage {
    chrome: Chrome,
    rounds: Vec<Round>,
    round: Option<RoundId>,
    /// The round shown (0: none), to mark it in the choice.
    current: RoundId,
    rows: Vec<BoxRow>,
    as_of: String,
    can_manage: bool,
    sites: Vec<(i64, String)>,
    /// The box the forms are filled with.
    selected: String,
    notice: Option<String>,
    refused: Vec<String>,
}

/// The list alone, for htmx to swap in.
#[derive(Template)]
#[template(path = "transport.html", block = "boxes")]
struct BoxesFragment {
    chrome: Chrome,
    round: Option<RoundId>,
    rows: Vec<BoxRow>,
    as_of: String,
}

#[derive(Deserialize)]
pub(crate) struct PageParams {
    round: Option<RoundId>,
    /// The box to act on (fills the forms).
    #[serde(rename = "box")]
    selected: Option<String>,
    /// What the last action did: created, existing, packed, sealed, handed_over, repeated.
    notice: Option<String>,
    /// How many tubes the last packing stored.
    n: Option<u32>,
    /// Tube codes the last packing refused, comma-separated.
    refused: Option<String>,
}

const NOTICES: [&str; 6] = ["created", "existing", "packed", "sealed", "handed_over", "repeated"];

fn clock_text(minutes: i64) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

/// `07:35` in China time.
fn local_time(ms: Millis) -> String {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&offset).format("%H:%M").to_string()
}

fn rows(chrome: &Chrome, boxes: &[TransportBox], sites: &HashMap<i64, String>, now: Millis) -> Vec<BoxRow> {
    let t = &chrome.t;
    let mut rows: Vec<BoxRow> = boxes
        .iter()
        .map(|b| {
            let timer = b.timer(now, &LIMITS);
            let warning = timer.map_or(TransportWarning::None, |t| t.warning);
            let received = b.state == BoxState::Received;
            BoxRow {
                code: b.code.to_string(),
                site: sites.get(&b.site).cloned().unwrap_or_else(|| b.site.to_string()),
                state: t.get(&format!("box-state-{}", b.state.as_str())),
                received,
                tubes: b.tubes,
                timer: timer.map(|t| clock_text(t.minutes)).unwrap_or_default(),
                warning: warning.as_str(),
                warning_label: t.get(&format!("transport-warning-{}", warning.as_str())),
                flags: b.flags.iter().map(|f| t.get(&format!("transport-flag-{}", f.as_str()))).collect(),
                sort: (received, warning, -timer.map_or(0, |t| t.minutes), b.id),
            }
        })
        .collect();
    // Boxes still on the road first, the most urgent on top; then those at the lab.
    rows.sort_by_key(|r| (r.sort.0, std::cmp::Reverse(r.sort.1), r.sort.2, r.sort.3));
    rows
}

async fn site_names(state: &AppState, caller: &PageCaller, now: Millis) -> Result<Vec<(i64, String)>, PageError> {
    if !allows(caller.actor.account.role, Operation::SitesRead) {
        return Ok(Vec::new());
    }
    let sites =
        rounds::site_statuses(state.store.as_ref(), Some(&caller.actor), None, now, 0).await.or_page(caller.lang)?;
    Ok(sites.into_iter().map(|s| (s.site.id, s.site.name)).collect())
}

/// The round asked for, or the newest; with the rounds to choose from.
async fn choose_round(
    state: &AppState,
    caller: &PageCaller,
    asked: Option<RoundId>,
    now: Millis,
) -> Result<(Vec<Round>, Option<RoundId>), PageError> {
    let all = rounds::rounds(state.store.as_ref(), &caller.actor, now).await.or_page(caller.lang)?;
    let round = asked.or_else(|| all.first().map(|r| r.id));
    Ok((all, round))
}

async fn box_rows(
    state: &AppState,
    caller: &PageCaller,
    chrome: &Chrome,
    round: Option<RoundId>,
    sites: &[(i64, String)],
    now: Millis,
) -> Result<Vec<BoxRow>, PageError> {
    let Some(round) = round else { return Ok(Vec::new()) };
    let boxes = transport::round_boxes(state.store.as_ref(), &caller.actor, round, now).await.or_page(caller.lang)?;
    let names: HashMap<i64, String> = sites.iter().cloned().collect();
    Ok(rows(chrome, &boxes, &names, now))
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(p): Query<PageParams>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let (all, round) = choose_round(&state, &caller, p.round, now).await?;
    let sites = site_names(&state, &caller, now).await?;
    let chrome = caller.chrome();
    let rows = box_rows(&state, &caller, &chrome, round, &sites, now).await?;
    let notice = p
        .notice
        .filter(|n| NOTICES.contains(&n.as_str()))
        .map(|n| chrome.t.n(&format!("transport-notice-{n}"), p.n.unwrap_or(0)));
    let refused = p
        .refused
        .map(|r| r.split(',').map(str::trim).filter(|c| !c.is_empty()).take(50).map(str::to_string).collect())
        .unwrap_or_default();
    Ok(render(&TransportPage {
        can_manage: allows(caller.actor.account.role, Operation::TubesSeal),
        chrome,
        rounds: all,
        round,
        current: round.unwrap_or(0),
        rows,
        as_of: local_time(now),
        sites,
        selected: p.selected.unwrap_or_default(),
        notice,
        refused,
    }))
}

#[derive(Deserialize)]
pub(crate) struct FragmentParams {
    round: Option<RoundId>,
}

/// The list of boxes alone, polled by the page.
pub(crate) async fn boxes(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(p): Query<FragmentParams>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let (_, round) = choose_round(&state, &caller, p.round, now).await?;
    let sites = site_names(&state, &caller, now).await?;
    let chrome = caller.chrome();
    let rows = box_rows(&state, &caller, &chrome, round, &sites, now).await?;
    Ok(render(&BoxesFragment { chrome, round, rows, as_of: local_time(now) }))
}

fn back(round: RoundId, code: &str, notice: &str, extra: &str) -> Response {
    let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    Redirect::to(&format!("/transport?round={round}&box={code}&notice={notice}{extra}")).into_response()
}

#[derive(Deserialize)]
pub(crate) struct CreateForm {
    round: RoundId,
    site: i64,
    code: String,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: PageCaller,
    Form(f): Form<CreateForm>,
) -> Result<Response, PageError> {
    let input = BoxInput { code: f.code, round: f.round, site: f.site };
    let (detail, created) = transport::create_box(state.store.as_ref(), &caller.actor, input, state.clock.now())
        .await
        .or_page(caller.lang)?;
    let notice = if created { "created" } else { "existing" };
    Ok(back(f.round, detail.summary.code.as_str(), notice, ""))
}

#[derive(Deserialize)]
pub(crate) struct PackForm {
    round: RoundId,
    #[serde(rename = "box")]
    code: String,
    /// Tube codes separated by spaces, commas or new lines (a scanner ends each with Enter).
    tubes: String,
}

pub(crate) async fn pack(
    State(state): State<AppState>,
    caller: PageCaller,
    Form(f): Form<PackForm>,
) -> Result<Response, PageError> {
    let tubes: Vec<String> = f
        .tubes
        .split(|c: char| c.is_whitespace() || c == ',' || c == '，' || c == ';')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let (results, detail) =
        transport::pack(state.store.as_ref(), &caller.actor, &f.code, PackInput { tubes }, state.clock.now())
            .await
            .or_page(caller.lang)?;
    let packed = results.iter().filter(|(_, p)| matches!(p, Packed::Stored(_))).count();
    let refused: Vec<&str> = results
        .iter()
        .filter(|(_, p)| matches!(p, Packed::InOtherBox(_) | Packed::UnknownTube))
        .map(|(t, _)| t.as_str())
        .collect();
    let mut extra = format!("&n={packed}");
    if !refused.is_empty() {
        extra.push_str(&format!("&refused={}", refused.join(",")));
    }
    Ok(back(f.round, detail.summary.code.as_str(), "packed", &extra))
}

#[derive(Deserialize)]
pub(crate) struct SealForm {
    round: RoundId,
    #[serde(rename = "box")]
    code: String,
}

pub(crate) async fn seal(
    State(state): State<AppState>,
    caller: PageCaller,
    Form(f): Form<SealForm>,
) -> Result<Response, PageError> {
    let detail =
        transport::seal(state.store.as_ref(), &caller.actor, &f.code, state.clock.now()).await.or_page(caller.lang)?;
    Ok(back(f.round, detail.summary.code.as_str(), "sealed", ""))
}

#[derive(Deserialize)]
pub(crate) struct HandoverForm {
    round: RoundId,
    #[serde(rename = "box")]
    code: String,
    stage: String,
    name: String,
    phone: Option<String>,
}

pub(crate) async fn hand_over(
    State(state): State<AppState>,
    caller: PageCaller,
    Form(f): Form<HandoverForm>,
) -> Result<Response, PageError> {
    let input = HandoverInput { stage: f.stage, name: f.name, phone: f.phone, from: None };
    let (answer, detail) = transport::hand_over(state.store.as_ref(), &caller.actor, &f.code, input, state.clock.now())
        .await
        .or_page(caller.lang)?;
    let notice = if matches!(answer, HandedOver::Recorded(_)) { "handed_over" } else { "repeated" };
    Ok(back(f.round, detail.summary.code.as_str(), notice, ""))
}
